// The fields of a signed manifest.json (docs/image-format.md) that the firmware acts on. Read
// only after the signature over the exact bytes has verified.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "Refusal.h"
#include "ingot/fw/Bytes.h"
#include "ingot/fw/Gpt.h"

namespace ingot::fw {

struct ManifestFile {
    bool present = false;
    uint8_t sha256[32];
    uint64_t size = 0;
};

struct ManifestPartition {
    Guid type;
    Guid uuid;
    uint64_t first_lba;
    uint64_t last_lba;
    char name[37];  // ASCII; GPT names hold 36 UTF-16 code units
    char role[16];
};

struct Manifest {
    static constexpr size_t kMaxPartitions = 8;
    static constexpr size_t kMaxCmdline = 1024;

    char cmdline[kMaxCmdline + 1];
    size_t cmdline_size = 0;
    ManifestFile kernel;
    ManifestFile initrd;
    ManifestPartition partitions[kMaxPartitions];
    size_t partition_count = 0;

    // The partition with this role, or nullptr.
    const ManifestPartition* find_role(const char* role) const;
};

// Reads `text` (already verified) into `manifest`. Refuses with kBadManifest naming the field.
bool read_manifest(ByteView text, Manifest* manifest, BootError* error);

}  // namespace ingot::fw
