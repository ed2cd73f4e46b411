// An ext2_filsys owned by a scope, for the ext4 writer and reader alike.
#pragma once

#include <ext2fs/ext2fs.h>

namespace ingot::imagebuild {

// Released with ext2fs_free, never ext2fs_close: a failed write must not flush a half-made
// superblock, and a read must never write anything back.
struct Ext2fsHandle {
    ext2_filsys fs = nullptr;
    Ext2fsHandle() = default;
    Ext2fsHandle(const Ext2fsHandle&) = delete;
    Ext2fsHandle& operator=(const Ext2fsHandle&) = delete;
    ~Ext2fsHandle() {
        if (fs) ext2fs_free(fs);
    }
};

}  // namespace ingot::imagebuild
