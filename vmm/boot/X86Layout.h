#pragma once

#include <cstdint>

// Where the monitor places boot-time structures in guest physical memory. Everything below
// 1 MiB that the guest must not reuse before it has read it is marked reserved in the e820 map
// (the ACPI area) or lies in memory Linux itself treats as reserved early (the zero page and
// page tables are consumed before Linux's allocator starts).
namespace ingot::vmm::layout {

constexpr uint64_t kGdt = 0x500;
constexpr uint64_t kIdt = 0x540;  // after the five 8-byte GDT entries
constexpr uint64_t kPvhStartInfo = 0x6000;
constexpr uint64_t kPvhMemmap = 0x6040;
constexpr uint64_t kPvhModlist = 0x6800;
constexpr uint64_t kZeroPage = 0x7000;
constexpr uint64_t kBootStack = 0x8ff0;
constexpr uint64_t kPml4 = 0x9000;
constexpr uint64_t kPdpt = 0xa000;
constexpr uint64_t kPageDirectories = 0xb000;  // four of them: identity map of 0–4 GiB
constexpr uint64_t kCmdline = 0x20000;
constexpr uint64_t kCmdlineMax = 0x10000;
constexpr uint64_t kEbdaStart = 0x9fc00;
constexpr uint64_t kBiosAreaStart = 0xe0000;  // ACPI tables live here
constexpr uint64_t kHighMemory = 0x100000;
constexpr uint64_t kKernelLoad = 0x100000;

// Legacy I/O ports and IRQs the monitor's devices answer.
constexpr uint16_t kCom1Port = 0x3f8;
constexpr uint8_t kCom1Irq = 4;
constexpr uint8_t kKeyboardIrq = 1;  // the i8042's keyboard, ISA IRQ 1
constexpr uint16_t kI8042DataPort = 0x60;
constexpr uint16_t kI8042CommandPort = 0x64;
constexpr uint16_t kDebugExitPort = 0xf4;
constexpr uint16_t kBootProgressPort = 0x440;
constexpr uint16_t kPvPanicPort = 0x505;
constexpr uint16_t kSleepControlPort = 0x600;
constexpr uint16_t kSleepStatusPort = 0x601;
constexpr uint16_t kResetPort = 0x604;

constexpr uint64_t kIoApicAddress = 0xfec00000;
constexpr uint64_t kLocalApicAddress = 0xfee00000;
// virtio-mmio windows, 512 bytes apart, interrupts from GSI 5 upward (16 of them at most).
constexpr uint64_t kVirtioMmioBase = 0xd0000000;
constexpr uint32_t kVirtioMmioSize = 0x200;
constexpr uint32_t kVirtioFirstGsi = 5;

}  // namespace ingot::vmm::layout
