#pragma once

#include <cstdint>

namespace ingot::vmm {

// How the boot vCPU starts: the Linux 64-bit boot protocol (long mode, paging on, RSI = zero
// page) or the PVH entry (32-bit protected mode, paging off, EBX = hvm_start_info).
struct BootEntry {
    enum class Mode { kLinux64, kPvh32 };
    Mode mode;
    uint64_t entry;
    uint64_t bootInfo;  // RSI for kLinux64, EBX for kPvh32
};

}  // namespace ingot::vmm
