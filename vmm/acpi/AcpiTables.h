#pragma once

// The ACPI tables ingot-vmm hands to the guest: RSDP -> XSDT -> {FADT -> DSDT, MADT}.
//
// The machine they describe is a hardware-reduced ACPI platform (no PM1 blocks, no SCI, no GPEs):
// CPUs with local APICs, KVM's in-kernel IO-APIC, a COM1 16550 UART, virtio-mmio devices, and
// three I/O ports for poweroff and reset. The DSDT is static data only; nothing in it runs code.

#include <cstdint>
#include <vector>

#include "GuestMemory.h"
#include "boot/X86Layout.h"

namespace ingot::vmm::acpi {

struct VirtioMmioDevice {
    uint64_t base;  // guest-physical address of the register window
    uint32_t size;  // bytes
    uint32_t gsi;   // IO-APIC pin the device raises (edge triggered, active high)
};

struct AcpiLayout {
    // One enabled Processor Local APIC entry each, ACPI processor UIDs and APIC ids 0..n-1.
    uint32_t cpuCount = 1;
    // Each becomes a DSDT Device \_SB.VRnn (_HID "LNRO0005", _UID n), as QEMU's microvm does.
    std::vector<VirtioMmioDevice> virtioMmio;
    // FADT SLEEP_CONTROL_REG and SLEEP_STATUS_REG: 8-bit system I/O registers. Linux writes
    // (SLP_TYP << 2) | SLP_EN (bit 5) to the control register to enter a sleep state.
    uint16_t sleepControlPort = layout::kSleepControlPort;
    uint16_t sleepStatusPort = layout::kSleepStatusPort;
    // FADT RESET_REG (8-bit system I/O) and the value that resets the machine when written there.
    uint16_t resetPort = layout::kResetPort;
    uint8_t resetValue = 0x01;
    // SLP_TYP for S5 (soft off), published as Name(\_S5_, Package(){s5SleepType, 0, 0, 0}).
    uint8_t s5SleepType = 5;
    // When non-zero, Device \_SB.PEVT (_HID "QEMU0001", one I/O port): the pvpanic port the
    // guest kernel's pvpanic-mmio driver reports panics through.
    uint16_t pvpanicPort = 0;
};

// Linux scans 0xE0000-0xFFFFF on 16-byte boundaries for the RSDP when nobody hands it the
// address, so the RSDP and the tables after it all live in that window.
constexpr uint64_t kRsdpAddress = 0xE0000;
constexpr uint64_t kAcpiWindowEnd = 0x100000;

// Fixed addresses of the interrupt controllers the MADT describes (the architectural defaults KVM
// emulates).
constexpr uint32_t kLocalApicAddress = layout::kLocalApicAddress;
constexpr uint32_t kIoApicAddress = layout::kIoApicAddress;
// KVM's in-kernel IO-APIC has 24 pins (KVM_IOAPIC_NUM_PINS), GSIs 0..23.
constexpr uint32_t kIoApicPinCount = 24;
// xAPIC ids are 8 bits and 0xFF is the broadcast id; the IO-APIC takes id cpuCount.
constexpr uint32_t kMaxCpuCount = 254;

struct AcpiTable {
    uint64_t address;            // guest-physical
    std::vector<uint8_t> bytes;  // the whole table, checksums included
};

struct AcpiTables {
    AcpiTable rsdp, xsdt, fadt, madt, dsdt;
};

// Builds the tables for placement at `baseAddress` (16-byte aligned, inside the RSDP window): the
// RSDP there, then XSDT, FADT, MADT and DSDT, each at the next 16-byte boundary. Throws
// ingot::Error (ExitStatus::kUsage) for a layout the machine cannot have — no CPUs or more than
// kMaxCpuCount, a virtio window that is empty, overlaps another or lies above 4 GiB, a GSI outside
// the IO-APIC, shared, or taken by the PIT or COM1 — and when the tables would not end by
// kAcpiWindowEnd.
AcpiTables buildAcpiTables(const AcpiLayout& layout, uint64_t baseAddress = kRsdpAddress);

// Writes the tables at kRsdpAddress and returns the RSDP's address. Throws ingot::Error as
// buildAcpiTables does, or when guest RAM does not cover the window.
uint64_t writeAcpiTables(GuestMemory& memory, const AcpiLayout& layout);

}  // namespace ingot::vmm::acpi
