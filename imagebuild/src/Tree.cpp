#include "ingot/imagebuild/Tree.h"

#include <set>
#include <unordered_map>

#include "ingot/core/Error.h"

namespace ingot::imagebuild {

std::string_view nodeTypeName(NodeType type) {
    switch (type) {
        case NodeType::kFile: return "file";
        case NodeType::kDirectory: return "directory";
        case NodeType::kSymlink: return "symlink";
        case NodeType::kCharDevice: return "character device";
        case NodeType::kBlockDevice: return "block device";
        case NodeType::kFifo: return "fifo";
        case NodeType::kSocket: return "socket";
    }
    return "unknown";
}

const Sha256Digest& Blob::sha256() const {
    if (!digest_) digest_ = ingot::sha256(bytes_);
    return *digest_;
}

std::shared_ptr<const Blob> makeBlob(std::string bytes) {
    return std::make_shared<const Blob>(std::move(bytes));
}

uint64_t Inode::size() const {
    if (type == NodeType::kFile) return content ? content->size() : 0;
    if (type == NodeType::kSymlink) return symlinkTarget.size();
    return 0;
}

std::string printablePath(std::string_view raw) {
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : raw) {
        if (c < 0x20 || c == 0x7f) {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::string normalizePath(std::string_view raw, std::string_view where) {
    if (raw.find('\0') != std::string_view::npos)
        throw Error(std::string(where) + ": the path contains a NUL byte", ExitStatus::kUsage);
    std::string out;
    size_t at = 0;
    while (at <= raw.size()) {
        size_t slash = raw.find('/', at);
        if (slash == std::string_view::npos) slash = raw.size();
        std::string_view part = raw.substr(at, slash - at);
        at = slash + 1;
        if (part.empty() || part == ".") continue;
        if (part == "..")
            throw Error(std::string(where) + ": path '" + printablePath(raw) +
                            "' climbs with '..'; tree paths never leave the image's root",
                        ExitStatus::kUsage);
        if (part.size() > 255)
            throw Error(std::string(where) + ": a component of '" + printablePath(raw) +
                            "' is longer than 255 bytes",
                        ExitStatus::kUsage);
        if (!out.empty()) out += '/';
        out += part;
    }
    if (out.size() > 4095)
        throw Error(std::string(where) + ": path is longer than 4095 bytes", ExitStatus::kUsage);
    return out;
}

std::string parentPath(std::string_view path) {
    auto slash = path.rfind('/');
    return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

std::string_view baseName(std::string_view path) {
    auto slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

namespace {

std::shared_ptr<Inode> directory(int64_t mtime) {
    auto dir = std::make_shared<Inode>();
    dir->type = NodeType::kDirectory;
    dir->mode = 0755;
    dir->mtime = mtime;
    return dir;
}

std::string shown(const std::string& path) { return path.empty() ? "/" : "/" + path; }

}  // namespace

Tree::Tree() { entries_.emplace("", directory(0)); }

void Tree::put(const std::string& path, std::shared_ptr<Inode> inode, std::string_view where) {
    if (path.empty()) {
        if (inode->type != NodeType::kDirectory)
            throw Error(std::string(where) + ": the tree's root can only be a directory",
                        ExitStatus::kUsage);
        entries_[""] = std::move(inode);
        return;
    }
    // Walk down from the root so that every ancestor is a directory; create the missing ones.
    size_t at = 0;
    for (;;) {
        size_t slash = path.find('/', at);
        if (slash == std::string::npos) break;
        std::string ancestor = path.substr(0, slash);
        auto it = entries_.find(ancestor);
        if (it == entries_.end()) {
            entries_.emplace(ancestor, directory(inode->mtime));
        } else if (it->second->type != NodeType::kDirectory) {
            throw Error(std::string(where) + ": cannot place " + shown(path) + " because " +
                            shown(ancestor) + " is a " +
                            std::string(nodeTypeName(it->second->type)) + ", not a directory",
                        ExitStatus::kUsage);
        }
        at = slash + 1;
    }
    auto existing = entries_.find(path);
    if (existing != entries_.end() && existing->second->type == NodeType::kDirectory &&
        inode->type != NodeType::kDirectory)
        remove(path);
    entries_[path] = std::move(inode);
}

void Tree::link(const std::string& path, const std::string& target, std::string_view where) {
    auto inode = find(target);
    if (!inode)
        throw Error(std::string(where) + ": hard link " + shown(path) + " points to " +
                        shown(target) + ", which is not in the tree",
                    ExitStatus::kUsage);
    if (inode->type == NodeType::kDirectory)
        throw Error(std::string(where) + ": hard link " + shown(path) + " points to directory " +
                        shown(target),
                    ExitStatus::kUsage);
    put(path, inode, where);
}

bool Tree::remove(const std::string& path) {
    if (path.empty()) {
        bool had = entries_.size() > 1;
        auto root = entries_.at("");
        entries_.clear();
        entries_.emplace("", root);
        return had;
    }
    auto it = entries_.find(path);
    if (it == entries_.end()) return false;
    std::string prefix = path + "/";
    auto end = entries_.lower_bound(prefix);
    while (end != entries_.end() && end->first.compare(0, prefix.size(), prefix) == 0) ++end;
    // "path" and "path/..." are not adjacent when names such as "path-x" sort between them.
    entries_.erase(it);
    entries_.erase(entries_.lower_bound(prefix), end);
    return true;
}

std::shared_ptr<Inode> Tree::find(const std::string& path) const {
    auto it = entries_.find(path);
    return it == entries_.end() ? nullptr : it->second;
}

std::string Tree::resolve(const std::string& path, std::string_view where) const {
    std::vector<std::string> resolved;  // components of the resolved prefix
    std::vector<std::string> pending;   // components still to walk, last first
    auto pushPending = [&](std::string_view text) {
        std::vector<std::string> parts;
        size_t at = 0;
        while (at <= text.size()) {
            size_t slash = text.find('/', at);
            if (slash == std::string_view::npos) slash = text.size();
            if (slash > at) parts.emplace_back(text.substr(at, slash - at));
            at = slash + 1;
        }
        pending.insert(pending.end(), parts.rbegin(), parts.rend());
    };
    auto joined = [&] {
        std::string out;
        for (const auto& c : resolved) out += (out.empty() ? "" : "/") + c;
        return out;
    };
    pushPending(path);
    int links = 0;
    while (!pending.empty()) {
        std::string part = std::move(pending.back());
        pending.pop_back();
        if (part == ".") continue;
        if (part == "..") {
            if (!resolved.empty()) resolved.pop_back();
            continue;
        }
        resolved.push_back(part);
        auto inode = find(joined());
        if (!inode || inode->type != NodeType::kSymlink) continue;
        if (++links > 40)
            throw Error(std::string(where) + ": too many levels of symbolic links resolving " +
                            shown(path),
                        ExitStatus::kUsage);
        resolved.pop_back();
        if (!inode->symlinkTarget.empty() && inode->symlinkTarget[0] == '/') resolved.clear();
        pushPending(inode->symlinkTarget);
    }
    return joined();
}

std::vector<std::string> Tree::children(const std::string& path) const {
    std::vector<std::string> out;
    std::string prefix = path.empty() ? "" : path + "/";
    for (auto it = entries_.lower_bound(prefix); it != entries_.end(); ++it) {
        if (it->first.compare(0, prefix.size(), prefix) != 0) break;
        if (it->first.size() == prefix.size()) continue;  // the root itself
        if (it->first.find('/', prefix.size()) == std::string::npos) out.push_back(it->first);
    }
    return out;
}

uint64_t Tree::contentBytes() const {
    std::set<const Inode*> seen;
    uint64_t total = 0;
    for (const auto& [path, inode] : entries_)
        if (inode->type == NodeType::kFile && seen.insert(inode.get()).second) total += inode->size();
    return total;
}

Sha256Digest Tree::digest() const {
    Sha256 h;
    std::unordered_map<const Inode*, std::string> firstPath;
    auto field = [&](std::string_view bytes) {
        uint64_t n = bytes.size();
        h.update(&n, sizeof n);
        h.update(bytes);
    };
    for (const auto& [path, inode] : entries_) {
        field(path);
        auto [it, fresh] = firstPath.emplace(inode.get(), path);
        if (!fresh) {
            field("link");
            field(it->second);
            continue;
        }
        field(nodeTypeName(inode->type));
        field(std::to_string(inode->mode) + ":" + std::to_string(inode->uid) + ":" +
              std::to_string(inode->gid) + ":" + std::to_string(inode->mtime) + ":" +
              std::to_string(inode->rdevMajor) + ":" + std::to_string(inode->rdevMinor));
        field(inode->symlinkTarget);
        // An empty blob and no blob are the same empty file (see Inode::content).
        if (inode->content && inode->content->size() > 0) field(toHex(inode->content->sha256()));
        else field("");
        for (const auto& [name, value] : inode->xattrs) {
            field(name);
            field(value);
        }
        field("end");
    }
    return h.finish();
}

}  // namespace ingot::imagebuild
