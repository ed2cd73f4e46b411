#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "BootEntry.h"
#include "GuestMemory.h"

namespace ingot::vmm {

struct PvhModule {
    std::span<const uint8_t> bytes;
    std::string cmdline;  // may be empty
};

struct PvhBootInputs {
    std::span<const uint8_t> elf;  // an ELF with a XEN_ELFNOTE_PHYS32_ENTRY note
    std::string elfName;           // role and path, for error messages: "kernel /x/vmlinux"
    std::string cmdline;
    std::vector<PvhModule> modules;  // Linux takes module 0 as its initrd
    uint64_t rsdpAddress = 0;
};

// The Xen PVH start-of-day structures (xen/include/public/arch-x86/hvm/start_info.h).
struct HvmStartInfo {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nrModules;
    uint64_t modlistPaddr;
    uint64_t cmdlinePaddr;
    uint64_t rsdpPaddr;
    uint64_t memmapPaddr;
    uint32_t memmapEntries;
    uint32_t reserved;
};
static_assert(sizeof(HvmStartInfo) == 56);
struct HvmMemmapEntry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
    uint32_t reserved;
};
static_assert(sizeof(HvmMemmapEntry) == 24);
struct HvmModlistEntry {
    uint64_t paddr;
    uint64_t size;
    uint64_t cmdlinePaddr;
    uint64_t reserved;
};
static_assert(sizeof(HvmModlistEntry) == 32);
constexpr uint32_t kHvmStartMagic = 0x336ec578;

// Finds the PVH entry point of an ELF image, or 0 if it has none. Throws for malformed ELF.
uint64_t findPvhEntry(std::span<const uint8_t> elf, const std::string& name);

// Loads the ELF's PT_LOAD segments at their physical addresses, places modules and the command
// line, and writes hvm_start_info with the e820 map. Throws ingot::Error (usage) naming the
// file and what is wrong: not ELF, no PVH note, a segment outside guest RAM or over the
// monitor's own structures.
BootEntry loadPvhElf(GuestMemory& memory, const PvhBootInputs& inputs);

}  // namespace ingot::vmm
