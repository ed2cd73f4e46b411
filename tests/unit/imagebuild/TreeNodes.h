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

// One of every kind of node the writers and readers handle: setuid and setgid files, a large
// file, sticky and private directories, ids and times past 32 bits and before 1970, fast, slow
// and very long symlinks, hard links, devices with large minors, a fifo, a socket, and xattrs
// on files, directories and the root.
inline Tree everyKind() {
    Tree tree;
    auto root = dir(0750);
    root->uid = 5;
    root->gid = 6;
    root->mtime = kEpoch - 100;
    root->xattrs["user.root"] = "r";
    tree.put("", root, "t");
    tree.put("etc", dir(), "t");
    tree.put("etc/empty", file(""), "t");
    tree.put("etc/passwd", file("root:x:0:0:root:/root:/bin/sh\n"), "t");
    tree.put("usr/bin/tool", file(pattern(3 * 4096 + 123, 1), 04755), "t");
    tree.put("usr/bin/group", file(pattern(4096, 2), 02755), "t");
    tree.put("usr/lib/big", file(pattern(1 << 20, 3)), "t");
    tree.put("tmp", dir(01777), "t");
    auto owned = file("owned", 0600);
    owned->uid = 100000;
    owned->gid = 70000;
    owned->mtime = (int64_t{1} << 31) + 12345;  // 2038 and past: the epoch bits
    tree.put("home/user/owned", owned, "t");
    auto old = file("old");
    old->mtime = -86400 * 365;  // 1969
    tree.put("home/user/old", old, "t");
    tree.put("lib/fast", symlink("../usr/lib/big"), "t");
    tree.put("lib/slow", symlink(std::string(100, 'x') + "/target"), "t");
    tree.put("lib/slowest", symlink("/" + std::string(4000, 'y')), "t");
    tree.link("usr/bin/tool-link", "usr/bin/tool", "t");
    tree.link("etc/tool-link2", "usr/bin/tool", "t");
    auto null = node(NodeType::kCharDevice, 0666);
    null->rdevMajor = 1;
    null->rdevMinor = 3;
    tree.put("dev/null", null, "t");
    auto nvme = node(NodeType::kBlockDevice, 0660);
    nvme->rdevMajor = 259;
    nvme->rdevMinor = 70000;
    nvme->gid = 6;
    tree.put("dev/nvme0n1", nvme, "t");
    tree.put("run/fifo", node(NodeType::kFifo, 0600), "t");
    tree.put("run/socket", node(NodeType::kSocket, 0755), "t");
    auto ping = file(pattern(2000, 4), 0755);
    ping->xattrs["security.capability"] =
        std::string("\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
                    20);
    tree.put("usr/bin/ping", ping, "t");
    auto many = file("xattrs");
    many->xattrs["user.big"] = pattern(500, 5);
    many->xattrs["user.small"] = "v";
    many->xattrs["trusted.t"] = "trusted";
    tree.put("usr/share/xattrs", many, "t");
    auto dirx = dir(0700);
    dirx->xattrs["user.dir"] = "on a directory";
    tree.put("var/lib/private", dirx, "t");
    return tree;
}

}  // namespace ingot::imagebuild::testing
