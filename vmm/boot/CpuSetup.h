#pragma once

#include <linux/kvm.h>

#include <array>
#include <cstdint>

#include "BootEntry.h"
#include "GuestMemory.h"

namespace ingot::vmm {

// GDT descriptor encoding: flags (G, D/B, L, AVL in bits 12–15 of `flags`; P, DPL, S, type in
// bits 0–7), base and limit scattered as the architecture wants them.
uint64_t gdtEntry(uint16_t flags, uint32_t base, uint32_t limit);
// The kvm_segment KVM expects for a descriptor, as the CPU would cache it after loading it.
kvm_segment segmentFromGdtEntry(uint64_t entry, uint16_t selector);

// The monitor's GDT: null, null, code (0x10), data (0x18), TSS (0x20) — the selectors
// Documentation/arch/x86/boot.rst prescribes for the 64-bit protocol (__BOOT_CS = 0x10,
// __BOOT_DS = 0x18). The code segment is 64-bit for kLinux64 and 32-bit for kPvh32.
std::array<uint64_t, 5> bootGdt(BootEntry::Mode mode);
constexpr uint16_t kCodeSelector = 0x10;
constexpr uint16_t kDataSelector = 0x18;
constexpr uint16_t kTssSelector = 0x20;

// Identity-maps the first 4 GiB with 2 MiB pages (PML4 → one PDPT → four page directories).
void writeIdentityPageTables(GuestMemory& memory);

// Writes the GDT (and an empty IDT) and returns the special registers for the boot vCPU:
// long mode with paging for kLinux64, flat 32-bit protected mode without paging for kPvh32.
kvm_sregs bootSpecialRegisters(GuestMemory& memory, BootEntry::Mode mode, kvm_sregs current);
kvm_regs bootRegisters(const BootEntry& entry);

// MSRs the monitor sets on every vCPU: write-back memory by default (MTRRdefType), fast
// strings, and zeroed syscall/sysenter state.
struct MsrValue {
    uint32_t index;
    uint64_t value;
};
std::array<MsrValue, 10> bootMsrs();

}  // namespace ingot::vmm
