#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ingot::vmm {

// One --disk: a raw image attached as a virtio-blk device.
struct DiskConfig {
    std::string path;
    bool readOnly = false;
};

// Parses `--disk PATH[,readonly]`. Throws ingot::Error (usage) for an empty path or an unknown
// option.
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
};

// Limits of the monitor, checked while parsing flags.
constexpr unsigned kMaxCpus = 64;

}  // namespace ingot::vmm
