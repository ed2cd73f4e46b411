#pragma once

#include <cstdint>
#include <vector>

#include "GuestMemory.h"

namespace ingot::vmm {

struct E820Entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
};
constexpr uint32_t kE820Ram = 1;
constexpr uint32_t kE820Reserved = 2;

// The guest's physical memory map: conventional memory below the EBDA, the reserved BIOS/ACPI
// area, RAM from 1 MiB up to the MMIO hole, and RAM above 4 GiB when the guest has that much.
std::vector<E820Entry> buildE820Map(const GuestMemory& memory);

}  // namespace ingot::vmm
