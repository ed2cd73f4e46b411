// The ext4 reader: the inverse of writeExt4, for layered gold images. It reads an ext4 file
// system (the root partition of an ingot image, at a byte offset inside the disk file) back
// into a Tree through libext2fs, read-only. See docs/ext4.md, "Reading images back".
//
// The image is hostile input (it may have been downloaded, and a signature only says who made
// it): every directory entry, inode and size is checked before it is used, the walk is bounded
// in entries, depth and content bytes, and every failure is an ingot::Error (status
// kVerification) naming the image and the tree path at fault.
#pragma once

#include <cstdint>
#include <string>

#include "ingot/imagebuild/Tree.h"

namespace ingot::imagebuild {

struct Ext4ReadOptions {
    // Character and block devices and fifos are refused unless set, as ArchiveReadOptions does
    // for a tarball base: an unexpected device node in a base is a way in.
    bool allowDevices = false;
    uint64_t maxEntryBytes = 4ull << 30;   // content of one file
    uint64_t maxTotalBytes = 32ull << 30;  // content of all files, each hard-linked inode once
    uint64_t maxEntries = 4'000'000;       // directory entries, "." and ".." not counted
    uint32_t maxDepth = 2048;              // directories below the root (a 4095-byte path)
};

// What a read found, for logs.
struct Ext4ReadSummary {
    uint64_t entries = 0;       // paths added to the tree, the root not counted
    uint64_t inodes = 0;        // distinct inodes among them
    uint64_t contentBytes = 0;  // each hard-linked inode once
    bool lostFoundKept = false;  // lost+found had entries and was read like any directory
};

// Reads the ext4 file system that starts `offset` bytes into file `path` and occupies at most
// `size` bytes from there (0: to the end of the file) into `tree`, under its root: the root
// directory's metadata replaces the tree's root's, and each entry is put at its path (hard
// links as Tree::link). An empty top-level lost+found is left out, since writeExt4 makes one
// itself. Throws ingot::Error: status kUsage when the file cannot be opened, kVerification for
// anything wrong inside the file system; the message names `path` and the tree path.
Ext4ReadSummary readExt4(const std::string& path, uint64_t offset, uint64_t size, Tree& tree,
                         const Ext4ReadOptions& options);

}  // namespace ingot::imagebuild
