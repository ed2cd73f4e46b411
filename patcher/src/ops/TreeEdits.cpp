#include "TreeEdits.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "ingot/core/Error.h"

namespace ingot::patcher {

using imagebuild::Inode;
using imagebuild::NodeType;
using imagebuild::Tree;

std::string shownPath(std::string_view path) {
    return "/" + std::string(path);
}

std::string entryPath(const Tree& tree, const std::string& path, std::string_view where) {
    std::string parent = imagebuild::parentPath(path);
    std::string name(imagebuild::baseName(path));
    if (parent.empty()) return name;
    std::string resolved = tree.resolve(parent, where);
    return resolved.empty() ? name : resolved + "/" + name;
}

std::shared_ptr<Inode> newInode(NodeType type, uint32_t mode, uint32_t uid, uint32_t gid,
                                int64_t mtime) {
    auto inode = std::make_shared<Inode>();
    inode->type = type;
    inode->mode = mode;
    inode->uid = uid;
    inode->gid = gid;
    inode->mtime = mtime;
    return inode;
}

void replaceInode(Tree& tree, const std::shared_ptr<Inode>& original,
                  const std::shared_ptr<Inode>& replacement, std::string_view where) {
    std::vector<std::string> paths;
    for (const auto& [path, inode] : tree.entries())
        if (inode == original) paths.push_back(path);
    for (const auto& path : paths) tree.put(path, replacement, where);
}

namespace {

bool numeric(std::string_view text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The id of `name` in a passwd or group file (name:password:id:…).
std::optional<uint32_t> lookUp(const Tree& tree, const std::string& file, const std::string& name,
                               std::string_view where) {
    auto inode = tree.find(tree.resolve(file, where));
    if (!inode || inode->type != NodeType::kFile || !inode->content) return std::nullopt;
    std::string_view text = inode->content->bytes();
    size_t at = 0;
    while (at < text.size()) {
        size_t end = text.find('\n', at);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(at, end - at);
        at = end + 1;
        // name:password:ID:…
        size_t first = line.find(':');
        if (first == std::string_view::npos || line.substr(0, first) != name) continue;
        size_t second = line.find(':', first + 1);
        if (second == std::string_view::npos) continue;
        size_t third = line.find(':', second + 1);
        std::string_view id =
            line.substr(second + 1, third == std::string_view::npos ? std::string_view::npos
                                                                    : third - second - 1);
        if (!numeric(id) || id.size() > 10) return std::nullopt;
        uint64_t value = std::stoull(std::string(id));
        if (value > 0xfffffffeull) return std::nullopt;
        return static_cast<uint32_t>(value);
    }
    return std::nullopt;
}

uint32_t resolveId(const Tree& tree, const std::string& part, const char* file, const char* kind,
                   std::string_view where) {
    if (numeric(part)) return static_cast<uint32_t>(std::stoull(part));
    if (auto id = lookUp(tree, file, part, where)) return *id;
    throw Error(std::string(where) + ": no " + kind + " '" + part + "' in the tree's /" + file +
                    " (give a number, or create the " + kind + " in an earlier operation)",
                ExitStatus::kUsage);
}

}  // namespace

Ids resolveOwner(const Tree& tree, const Owner& owner, std::string_view where) {
    Ids ids;
    ids.uid = resolveId(tree, owner.user, "etc/passwd", "user", where);
    ids.gid = resolveId(tree, owner.group, "etc/group", "group", where);
    return ids;
}

}  // namespace ingot::patcher
