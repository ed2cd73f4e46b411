#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ingot::vmm {

// One --disk: a virtio-blk device. A plain raw file, or a gold image served through its
// signature and dm-verity tree (`verified`), optionally under a qcow2 overlay that takes the
// guest's writes (`overlay`, which implies `verified`).
struct DiskConfig {
    std::string path;
    bool readOnly = false;
    bool verified = false;
    std::string overlay;  // created when missing; its backing file is `path`
};

// Parses `--disk PATH[,readonly][,verified][,overlay=CLONE.qcow2]`. Throws ingot::Error (usage)
// for an empty path, an unknown or repeated option, or readonly with overlay.
DiskConfig parseDiskSpec(const std::string& spec);

// Everything ingot-vmm was asked to do, after the command line was checked.
struct VmConfig {
    std::string kernel;    // bzImage or PVH ELF; empty when booting firmware
    std::string initrd;    // optional
    std::string cmdline = "console=ttyS0";
    std::string firmware;  // PVH ELF (ingot-fw); optional
    unsigned cpus = 1;
    uint64_t memoryBytes = 512ull << 20;
    std::string statsJson;  // written at exit when set
    std::vector<DiskConfig> disks;  // virtio-blk devices, in --disk order
    std::vector<std::string> trustedKeys;  // minisign public key files for verified disks
    uint64_t rngBytesPerSecond = 0;        // virtio-rng when non-zero
};

// Limits of the monitor, checked while parsing flags.
constexpr unsigned kMaxCpus = 64;

}  // namespace ingot::vmm
