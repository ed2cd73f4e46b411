// How operations edit a tree: the rules every operation follows, in one place.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "OperationFields.h"
#include "ingot/imagebuild/Tree.h"

namespace ingot::patcher {

// The entry an operation on `path` means when the operation acts on the entry itself (file,
// mkdir, symlink, remove, unpack): the parent directories are resolved as a chrooted process
// would (so /bin/x lands in usr/bin/x on a merged-/usr tree, and nothing ever leaves the
// tree), the last component is not followed (a symlink there is the entry).
std::string entryPath(const imagebuild::Tree& tree, const std::string& path,
                      std::string_view where);

// A new inode of `type`, mtime `mtime`.
std::shared_ptr<imagebuild::Inode> newInode(imagebuild::NodeType type, uint32_t mode, uint32_t uid,
                                            uint32_t gid, int64_t mtime);

// Puts `replacement` at every path that holds `original` (all of an inode's hard links), so an
// edit never changes an inode that another tree may share.
void replaceInode(imagebuild::Tree& tree, const std::shared_ptr<imagebuild::Inode>& original,
                  const std::shared_ptr<imagebuild::Inode>& replacement, std::string_view where);

// Numeric ids for `owner`; names are looked up in the tree's etc/passwd and etc/group.
struct Ids {
    uint32_t uid = 0;
    uint32_t gid = 0;
};
Ids resolveOwner(const imagebuild::Tree& tree, const Owner& owner, std::string_view where);

// "/etc/motd" for "etc/motd": how errors show tree paths.
std::string shownPath(std::string_view path);

}  // namespace ingot::patcher
