// Tree entries for tests: one way to make files, directories and links with a fixed time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ingot/imagebuild/Tree.h"

namespace ingot::imagebuild::testing {

inline constexpr int64_t kEpoch = 1700000000;  // 2023-11-14

inline std::shared_ptr<Inode> node(NodeType type, uint32_t mode, int64_t mtime = kEpoch) {
    auto inode = std::make_shared<Inode>();
    inode->type = type;
    inode->mode = mode;
    inode->mtime = mtime;
    return inode;
}

inline std::shared_ptr<Inode> file(std::string content, uint32_t mode = 0644) {
    auto inode = node(NodeType::kFile, mode);
    inode->content = makeBlob(std::move(content));
    return inode;
}

inline std::shared_ptr<Inode> dir(uint32_t mode = 0755) { return node(NodeType::kDirectory, mode); }

inline std::shared_ptr<Inode> symlink(std::string target) {
    auto inode = node(NodeType::kSymlink, 0777);
    inode->symlinkTarget = std::move(target);
    return inode;
}

// Incompressible bytes, the same for the same seed.
inline std::string pattern(size_t size, uint32_t seed) {
    std::string out(size, '\0');
    uint32_t x = seed * 2654435761u + 1;
    for (auto& c : out) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        c = static_cast<char>(x);
    }
    return out;
}

}  // namespace ingot::imagebuild::testing
