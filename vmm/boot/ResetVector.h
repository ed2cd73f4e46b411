#pragma once

#include "GuestMemory.h"

namespace ingot::vmm {

// Physical address of the x86 reset vector as real-mode code reaches it (F000:FFF0).
constexpr uint64_t kResetVector = 0xffff0;

// There is no BIOS behind the reset vector, yet Linux jumps there to reboot: on a
// hardware-reduced ACPI machine it prefers EFI reboot, and without EFI runtime services it falls
// back to machine_real_restart(), which drops to real mode and far-jumps to F000:FFF0. Without
// code there the guest executes zeros forever instead of rebooting. This stub pulses the i8042
// reset line instead, so every path to the reset vector ends the VM as a reboot.
void writeResetVectorStub(GuestMemory& memory);

}  // namespace ingot::vmm
