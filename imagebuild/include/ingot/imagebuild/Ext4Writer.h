// The ext4 writer: serialises a Tree into an ext4 file system image through libext2fs, with
// every byte decided by the tree and the options, so the same input always gives the same file
// (no host times, no random UUIDs or hash seeds, no host ownership). See docs/ext4.md.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "ingot/imagebuild/Tree.h"

namespace ingot::imagebuild {

struct Ext4Options {
    // Total size of the file system and of the output file; a multiple of 4096. 0 chooses the
    // size from the tree: its content and metadata, the journal, the headroom below, rounded
    // up to 1 MiB.
    uint64_t sizeBytes = 0;
    std::array<uint8_t, 16> uuid{};      // s_uuid, byte order as printed ("01234567-89ab-...")
    std::array<uint8_t, 16> hashSeed{};  // s_hash_seed, keys the directory index hashes
    std::string label;                   // s_volume_name, at most 16 bytes
    // SOURCE_DATE_EPOCH: mkfs, write and check times of the superblock and the times of the
    // inodes the writer makes up itself (lost+found when the tree has none, the journal).
    int64_t timestamp = 0;
    // Free space the auto size leaves beyond the tree: this percentage of what the tree needs,
    // plus extraFreeBytes. Ignored when sizeBytes is set.
    unsigned headroomPercent = 10;
    uint64_t extraFreeBytes = 0;
    // A jbd2 journal (as mke2fs makes for ext4), for a root file system a VM writes to
    // through its copy-on-write overlay. It is left out on file systems under 8 MiB, as
    // mke2fs does.
    bool journal = true;
};

struct Ext4Result {
    uint64_t sizeBytes = 0;
    uint64_t blocks = 0;      // 4 KiB blocks in the file system
    uint64_t blocksUsed = 0;  // including metadata and the journal
    uint32_t inodes = 0;      // inodes in the file system
    uint32_t inodesUsed = 0;  // including the reserved ones (1..11)
};

// Writes `tree` as an ext4 image at `outputPath`, through a temporary file beside it that is
// renamed over the destination only when complete: on any error nothing is left behind.
// Errors are ingot::Error naming the output and, where one is at fault, the tree path (a tree
// that does not fit a fixed size is status kUsage).
Ext4Result writeExt4(const Tree& tree, const Ext4Options& options, const std::string& outputPath);

// A 16-byte identifier for `role` ("uuid", "hash-seed") of the file system of image `name`: the
// first 16 bytes of SHA-256("ingot-ext4-id-v1" NUL name NUL role) with the RFC 4122 version-4
// and variant bits set, as core's deterministicGuid does for GPT partitions.
std::array<uint8_t, 16> deterministicExt4Id(std::string_view name, std::string_view role);

// Options for image `name` with both identifiers derived from it and `timestamp`.
Ext4Options deterministicExt4Options(std::string_view name, int64_t timestamp);

}  // namespace ingot::imagebuild
