// The Linux x86 boot protocol (Documentation/arch/x86/boot.rst), 64-bit entry: what the firmware
// reads from a bzImage's setup header and writes into the zero page it hands the kernel.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "MemoryMap.h"
#include "Refusal.h"
#include "ingot/fw/Bytes.h"

namespace ingot::fw {

struct KernelHeader {
    static constexpr size_t kHeaderBytes = 1024;  // setup header ends well before this
    uint8_t bytes[kHeaderBytes];  // the kernel file's first bytes: boot sector + setup header
    size_t header_end;            // one past the setup header's last byte
    uint64_t setup_size;          // real-mode setup code, skipped by a 64-bit loader
    uint64_t payload_size;        // protected-mode kernel, loaded at the load address
    uint64_t pref_address;
    uint64_t load_size;           // memory from the load address the kernel needs (init_size)
    uint32_t alignment;
    bool relocatable;
    uint64_t initrd_limit;        // the initrd must end at or below this
    uint32_t cmdline_max;         // bytes, without the NUL
};

// Checks and reads the setup header from the first min(file size, 1024) bytes of the kernel.
bool read_kernel_header(ByteView first_bytes, uint64_t file_size, KernelHeader* header,
                        BootError* error);

struct BootParamsInputs {
    uint64_t cmdline_paddr;
    uint64_t initrd_paddr;
    uint64_t initrd_size;
    uint64_t rsdp_paddr;
    const MemoryMap* memory;
};

// Fills the 4 KiB zero page.
void write_boot_params(uint8_t zero_page[4096], const KernelHeader& header,
                       const BootParamsInputs& inputs);

// 64-bit entry point: the load address plus this.
inline constexpr uint64_t kLinux64EntryOffset = 0x200;

}  // namespace ingot::fw
