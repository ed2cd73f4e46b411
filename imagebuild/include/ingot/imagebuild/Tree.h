// The builder's in-memory file tree: what a gold image's root file system will hold, edited by
// recipe operations and serialised by writers, without ever unpacking a file onto the host (so
// no root is needed and ownership survives). Paths are canonical and relative to the tree's
// root: "etc/passwd", never "/etc/passwd", "./etc" or "etc//passwd"; "" is the root itself.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ingot/core/Sha256.h"

namespace ingot::imagebuild {

enum class NodeType { kFile, kDirectory, kSymlink, kCharDevice, kBlockDevice, kFifo, kSocket };

std::string_view nodeTypeName(NodeType type);  // "file", "directory", "symlink", …

// File content, shared between hard links and between a tree and its copies (a step's output
// reuses its input's blobs). Immutable once made; the digest is computed on first use.
class Blob {
public:
    explicit Blob(std::string bytes) : bytes_(std::move(bytes)) {}
    const std::string& bytes() const { return bytes_; }
    uint64_t size() const { return bytes_.size(); }
    const Sha256Digest& sha256() const;

private:
    std::string bytes_;
    mutable std::optional<Sha256Digest> digest_;
};
std::shared_ptr<const Blob> makeBlob(std::string bytes);

// One inode. Hard links are several paths holding the same shared_ptr<Inode>.
struct Inode {
    NodeType type = NodeType::kFile;
    uint32_t mode = 0644;  // permission bits with setuid/setgid/sticky (07777), no type bits
    uint32_t uid = 0;
    uint32_t gid = 0;
    int64_t mtime = 0;  // seconds since the epoch; writers use it for atime/ctime too
    std::shared_ptr<const Blob> content;  // kFile only; null means empty
    std::string symlinkTarget;            // kSymlink only, stored verbatim
    uint32_t rdevMajor = 0, rdevMinor = 0;  // devices only
    std::map<std::string, std::string> xattrs;  // "security.capability" → raw value

    uint64_t size() const;  // content bytes for files, target length for symlinks, else 0
};

// Canonical form of a path found in an archive entry, a recipe or a symlink target resolved
// inside the tree. A leading "/" or "./" is dropped (archive members and recipe paths are both
// read relative to the tree's root), "." components and repeated slashes vanish, and ".."
// is refused anywhere: a tree path never climbs. Throws ingot::Error naming `where`.
std::string normalizePath(std::string_view raw, std::string_view where);

// `raw` with control bytes shown as \xNN: paths from hostile archives and images are quoted in
// messages, and must not drive the user's terminal.
std::string printablePath(std::string_view raw);

// The directory holding `path` ("" for a top-level entry) and its last component.
std::string parentPath(std::string_view path);
std::string_view baseName(std::string_view path);

class Tree {
public:
    using Entries = std::map<std::string, std::shared_ptr<Inode>>;

    Tree();  // just the root directory: 0755, root:root, mtime 0

    // Adds or replaces the entry at canonical `path`. Missing parent directories are created
    // (0755, root:root, the new entry's mtime). Replacing a directory with a directory keeps its
    // children and takes the new metadata; replacing a directory with anything else removes
    // the directory's subtree first. Refused, naming `where`: a parent that exists but is not a
    // directory (so a symlink in the middle of a path can never redirect a write), and a
    // non-directory at the root.
    void put(const std::string& path, std::shared_ptr<Inode> inode, std::string_view where);

    // A hard link: `path` names the same inode as `target`, which must exist and be no
    // directory.
    void link(const std::string& path, const std::string& target, std::string_view where);

    // Removes `path` and, for a directory, everything under it. Returns false when absent.
    bool remove(const std::string& path);

    // The entry at `path` itself (a symlink is not followed), or null.
    std::shared_ptr<Inode> find(const std::string& path) const;

    // Follows symlinks the way a chrooted process would: absolute targets start at the tree's
    // root, ".." at the root stays at the root, and at most 40 links are followed. Returns the
    // canonical path the chain ends at (the entry may not exist). Throws ingot::Error for a loop.
    std::string resolve(const std::string& path, std::string_view where) const;

    // Direct children of directory `path`, in path order.
    std::vector<std::string> children(const std::string& path) const;

    // Every entry, the root ("") first, parents before their children, in byte order of paths.
    const Entries& entries() const { return entries_; }
    size_t size() const { return entries_.size(); }

    // The total of file content bytes, counting each hard-linked inode once.
    uint64_t contentBytes() const;

    // A stable digest of everything a writer would serialise (paths, types, metadata, content
    // digests, link targets, hard-link structure): equal trees give equal digests.
    Sha256Digest digest() const;

private:
    Entries entries_;
};

}  // namespace ingot::imagebuild
