#include "acpi/AcpiTables.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>

#include "acpi/Aml.h"
#include "ingot/core/Error.h"

namespace ingot::vmm::acpi {

namespace {

using Bytes = std::vector<uint8_t>;

// Identity in every header. The OEM ID is exactly six characters, padded with spaces.
constexpr std::string_view kOemId = "INGOT ";
constexpr std::string_view kOemTableId = "INGOTVMM";
constexpr std::string_view kCreatorId = "INGT";
constexpr std::string_view kHypervisorVendor = "INGOTVMM";
constexpr uint32_t kOemRevision = 1;
constexpr uint32_t kCreatorRevision = 1;

// Table revisions. FADT 6 (ACPI 6.0) is the first with the hypervisor vendor identity; the MADT
// of the same spec is revision 4. DSDT revision 2 gives the AML interpreter 64-bit integers.
constexpr uint8_t kRsdpRevision = 2;
constexpr uint8_t kXsdtRevision = 1;
constexpr uint8_t kFadtRevision = 6;
constexpr uint8_t kFadtMinorRevision = 0;
constexpr uint8_t kMadtRevision = 4;
constexpr uint8_t kDsdtRevision = 2;

constexpr size_t kTableAlignment = 16;
// The XSDT lists the FADT and the MADT; the DSDT is reached through the FADT.
constexpr size_t kXsdtEntryCount = 2;

// System description table header (ACPI 6.x section 5.2.6).
namespace sdt {
constexpr size_t kSignature = 0;
constexpr size_t kLength = 4;
constexpr size_t kRevision = 8;
constexpr size_t kChecksum = 9;
constexpr size_t kOemId = 10;
constexpr size_t kOemTableId = 16;
constexpr size_t kOemRevision = 24;
constexpr size_t kCreatorId = 28;
constexpr size_t kCreatorRevision = 32;
constexpr size_t kHeaderSize = 36;
}  // namespace sdt

// Root System Description Pointer (ACPI 6.x section 5.2.5.3).
namespace rsdp {
constexpr size_t kSignature = 0;
constexpr size_t kChecksum = 8;  // covers the first 20 bytes (the ACPI 1.0 structure)
constexpr size_t kOemId = 9;
constexpr size_t kRevision = 15;
constexpr size_t kRsdtAddress = 16;
constexpr size_t kLength = 20;
constexpr size_t kXsdtAddress = 24;
constexpr size_t kExtendedChecksum = 32;  // covers all 36 bytes
constexpr size_t kV1Size = 20;
constexpr size_t kSize = 36;
}  // namespace rsdp

// Fixed ACPI Description Table, revision 6 (ACPI 6.x section 5.2.9). Fields not listed stay zero:
// a hardware-reduced platform has no PM1/PM2/GPE blocks, no PM timer, no SCI and no FACS.
namespace fadt {
constexpr size_t kDsdt = 40;
constexpr size_t kIapcBootArch = 109;
constexpr size_t kFlags = 112;
constexpr size_t kResetReg = 116;
constexpr size_t kResetValue = 128;
constexpr size_t kMinorVersion = 131;
constexpr size_t kXDsdt = 140;
constexpr size_t kSleepControlReg = 244;
constexpr size_t kSleepStatusReg = 256;
constexpr size_t kHypervisorVendorIdentity = 268;
constexpr size_t kSize = 276;

// Fixed feature flags.
constexpr uint32_t kPowerButtonIsControlMethod = 1u << 4;  // "PWR_BUTTON": no fixed button
constexpr uint32_t kResetRegSupported = 1u << 10;
constexpr uint32_t kHardwareReducedAcpi = 1u << 20;

// IA-PC boot architecture flags, chosen by what Linux does with them (arch/x86/kernel/acpi/
// boot.c, acpi_parse_fadt, and drivers/acpi/pci_*):
// - bit 1 "8042" is set: the keyboard controller at ports 0x60/0x64 is how `ingot stop` sends
//   Ctrl+Alt+Del (the DSDT describes it as PNP0303, which is how Linux finds it; with this bit
//   clear, from FADT revision 2 on, Linux would also mark the i8042 absent);
// - bit 5 "CMOS RTC not present" is set: Linux then registers no rtc_cmos device and never
//   touches ports 0x70/0x71 (kvmclock gives the guest its time);
// - bit 2 "VGA not present" is set: there is no VGA, so nothing pokes the legacy VGA ranges;
// - bit 3 "MSI not supported" is set: there is no PCI at all and every ingot device uses a wired
//   IO-APIC pin, so telling the guest not to try MSI is the truth;
// - bit 0 "legacy devices" stays clear: Linux only uses it to skip PnP BIOS probing, and COM1 is
//   enumerated through the DSDT anyway.
constexpr uint16_t k8042Present = 1u << 1;
constexpr uint16_t kVgaNotPresent = 1u << 2;
constexpr uint16_t kMsiNotSupported = 1u << 3;
constexpr uint16_t kCmosRtcNotPresent = 1u << 5;
}  // namespace fadt

// Generic Address Structure (ACPI 6.x section 5.2.3.2).
namespace gas {
constexpr uint8_t kSystemIo = 1;
constexpr uint8_t kByteAccess = 1;
}  // namespace gas

// Multiple APIC Description Table (ACPI 6.x section 5.2.12).
namespace madt {
constexpr size_t kLocalApicAddress = 36;
constexpr size_t kFlags = 40;
constexpr size_t kFirstEntry = 44;
// KVM's in-kernel irqchip includes the two 8259 PICs; the flag tells the guest to mask them.
constexpr uint32_t kPcatCompat = 1;

constexpr uint8_t kLocalApicType = 0;
constexpr uint8_t kLocalApicLength = 8;
constexpr uint32_t kLocalApicEnabled = 1;
constexpr uint8_t kIoApicType = 1;
constexpr uint8_t kIoApicLength = 12;
constexpr uint8_t kInterruptSourceOverrideType = 2;
constexpr uint8_t kInterruptSourceOverrideLength = 10;
constexpr uint8_t kIsaBus = 0;
constexpr uint16_t kConformsToBus = 0;  // ISA: edge triggered, active high
}  // namespace madt

// The monitor wires the in-kernel PIT (ISA IRQ 0) to IO-APIC pin 2, as QEMU and every PC do.
constexpr uint8_t kPitIsaIrq = 0;
constexpr uint32_t kPitGsi = 2;

// COM1, the 16550 UART the monitor emulates.
constexpr uint16_t kCom1Port = layout::kCom1Port;
constexpr uint8_t kCom1PortCount = 8;
constexpr uint8_t kCom1IsaIrq = layout::kCom1Irq;

// The i8042 and its keyboard (ingot stop's Ctrl+Alt+Del).
constexpr uint16_t kI8042DataPort = layout::kI8042DataPort;
constexpr uint16_t kI8042CommandPort = layout::kI8042CommandPort;
constexpr uint8_t kKeyboardIsaIrq = layout::kKeyboardIrq;

void put8(Bytes& table, size_t offset, uint8_t value) {
    table.at(offset) = value;
}

void putLittleEndian(Bytes& table, size_t offset, uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) table.at(offset + i) = static_cast<uint8_t>(value >> (8 * i));
}
void put16(Bytes& table, size_t offset, uint16_t value) {
    putLittleEndian(table, offset, value, 2);
}
void put32(Bytes& table, size_t offset, uint32_t value) {
    putLittleEndian(table, offset, value, 4);
}
void put64(Bytes& table, size_t offset, uint64_t value) {
    putLittleEndian(table, offset, value, 8);
}

void putChars(Bytes& table, size_t offset, std::string_view chars) {
    std::copy(chars.begin(), chars.end(), table.begin() + static_cast<ptrdiff_t>(offset));
}

// Sets table[checksumOffset] so that the first `length` bytes sum to zero (mod 256).
void putChecksum(Bytes& table, size_t checksumOffset, size_t length) {
    table.at(checksumOffset) = 0;
    uint8_t sum = 0;
    for (size_t i = 0; i < length; ++i) sum = static_cast<uint8_t>(sum + table.at(i));
    table.at(checksumOffset) = static_cast<uint8_t>(-sum);
}

// A zeroed table of `length` bytes with its header filled in, checksum still zero.
Bytes sdtTable(std::string_view signature, uint8_t revision, size_t length) {
    Bytes table(length, 0);
    putChars(table, sdt::kSignature, signature);
    put32(table, sdt::kLength, static_cast<uint32_t>(length));
    put8(table, sdt::kRevision, revision);
    putChars(table, sdt::kOemId, kOemId);
    putChars(table, sdt::kOemTableId, kOemTableId);
    put32(table, sdt::kOemRevision, kOemRevision);
    putChars(table, sdt::kCreatorId, kCreatorId);
    put32(table, sdt::kCreatorRevision, kCreatorRevision);
    return table;
}

void sealSdt(Bytes& table) {
    putChecksum(table, sdt::kChecksum, table.size());
}

void putIoRegister(Bytes& table, size_t offset, uint16_t port) {
    put8(table, offset + 0, gas::kSystemIo);
    put8(table, offset + 1, 8);  // register width in bits
    put8(table, offset + 2, 0);  // bit offset
    put8(table, offset + 3, gas::kByteAccess);
    put64(table, offset + 4, port);
}

[[noreturn]] void rejectLayout(const std::string& what) {
    throw Error("ACPI tables: " + what, ExitStatus::kUsage);
}

std::string hex(uint64_t value) {
    char text[24];
    std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
    return text;
}

void validateLayout(const AcpiLayout& layout) {
    if (layout.cpuCount == 0 || layout.cpuCount > kMaxCpuCount)
        rejectLayout(std::to_string(layout.cpuCount) + " CPUs: use 1 to " +
                     std::to_string(kMaxCpuCount) + " (xAPIC ids are 8 bits)");
    const auto& devices = layout.virtioMmio;
    // Their DSDT names are VR00..VR99 (in practice the free IO-APIC pins run out first).
    if (devices.size() > 100)
        rejectLayout(std::to_string(devices.size()) + " virtio-mmio devices: at most 100 fit");
    for (size_t i = 0; i < devices.size(); ++i) {
        const auto& device = devices[i];
        std::string which = "virtio-mmio device " + std::to_string(i) + " at " + hex(device.base);
        if (device.size == 0) rejectLayout(which + " has an empty register window");
        if (device.base + device.size > (1ull << 32) || device.base + device.size < device.base)
            rejectLayout(which + " ends above 4 GiB; its window must be 32-bit addressable");
        if (device.gsi >= kIoApicPinCount)
            rejectLayout(which + " uses GSI " + std::to_string(device.gsi) +
                         ", but the IO-APIC only has GSIs 0.." +
                         std::to_string(kIoApicPinCount - 1));
        // GSI 1 carries the keyboard, 2 the PIT and 4 COM1; GSI 0 has no ISA line once IRQ 0 is
        // moved to pin 2.
        if (device.gsi == 0 || device.gsi == kKeyboardIsaIrq || device.gsi == kPitGsi ||
            device.gsi == kCom1IsaIrq)
            rejectLayout(which + " uses GSI " + std::to_string(device.gsi) +
                         ", which is reserved for the PIT, the keyboard and COM1 (0, 1, 2 and 4)");
        for (size_t j = 0; j < i; ++j) {
            const auto& other = devices[j];
            if (other.gsi == device.gsi)
                rejectLayout(which + " shares GSI " + std::to_string(device.gsi) + " with device " +
                             std::to_string(j) + "; edge-triggered interrupts cannot be shared");
            if (device.base < other.base + other.size && other.base < device.base + device.size)
                rejectLayout(which + " overlaps the window of device " + std::to_string(j) +
                             " at " + hex(other.base));
        }
    }
}

Bytes buildDsdt(const AcpiLayout& layout) {
    using namespace aml;
    // COM1 takes the short IRQ descriptor, as on PC firmware and QEMU: it is an ISA device on ISA
    // IRQ 4, and IRQNoFlags says exactly that with the ISA defaults (edge, active high,
    // exclusive). Linux (drivers/acpi/resource.c) treats the number of either descriptor as a GSI
    // after checking the MADT overrides, so Interrupt(){4} would land on the same IO-APIC pin;
    // the short form keeps the description honest and is what 8250_pnp sees on real machines.
    std::vector<Bytes> devices;
    devices.push_back(device("COM1", {name("_HID", eisaId("PNP0501")), name("_UID", integer(1)),
                                      name("_CRS", ResourceTemplate()
                                                       .io(kCom1Port, kCom1Port, 1, kCom1PortCount)
                                                       .irqNoFlags(kCom1IsaIrq)
                                                       .toBuffer())}));
    // The keyboard controller as PC firmware and QEMU describe it. Linux's i8042 driver finds
    // it through PNP, and that is what maps ISA IRQ 1 to its IO-APIC pin: probed directly
    // instead, on a hardware-reduced machine (no legacy PIC, so no legacy IRQs set up in
    // advance), its request_irq(1) fails with EINVAL and the keyboard never appears (measured
    // with Debian's 6.1 kernel).
    devices.push_back(device("PS2K", {name("_HID", eisaId("PNP0303")),
                                      name("_CRS", ResourceTemplate()
                                                       .io(kI8042DataPort, kI8042DataPort, 1, 1)
                                                       .io(kI8042CommandPort, kI8042CommandPort, 1, 1)
                                                       .irqNoFlags(kKeyboardIsaIrq)
                                                       .toBuffer())}));
    if (layout.pvpanicPort)
        devices.push_back(device(
            "PEVT", {name("_HID", string("QEMU0001")),
                     name("_CRS", ResourceTemplate()
                                      .io(layout.pvpanicPort, layout.pvpanicPort, 1, 1)
                                      .toBuffer())}));
    for (size_t i = 0; i < layout.virtioMmio.size(); ++i) {
        const auto& virtio = layout.virtioMmio[i];
        std::string deviceName = {'V', 'R', static_cast<char>('0' + i / 10),
                                  static_cast<char>('0' + i % 10)};
        devices.push_back(
            device(deviceName,
                   {name("_HID", string("LNRO0005")), name("_UID", integer(i)),
                    name("_CRS", ResourceTemplate()
                                     .memory32Fixed(static_cast<uint32_t>(virtio.base), virtio.size)
                                     .extendedInterrupt(virtio.gsi, InterruptTrigger::kEdge,
                                                        InterruptPolarity::kActiveHigh,
                                                        InterruptSharing::kExclusive)
                                     .toBuffer())}));
    }

    Bytes aml = scope("\\_SB_", devices);
    Bytes s5 =
        name("_S5_", package({integer(layout.s5SleepType), integer(0), integer(0), integer(0)}));
    aml.insert(aml.end(), s5.begin(), s5.end());

    Bytes table = sdtTable("DSDT", kDsdtRevision, sdt::kHeaderSize + aml.size());
    std::copy(aml.begin(), aml.end(), table.begin() + sdt::kHeaderSize);
    sealSdt(table);
    return table;
}

Bytes buildMadt(const AcpiLayout& layout) {
    size_t length = madt::kFirstEntry + layout.cpuCount * madt::kLocalApicLength +
                    madt::kIoApicLength + madt::kInterruptSourceOverrideLength;
    Bytes table = sdtTable("APIC", kMadtRevision, length);
    put32(table, madt::kLocalApicAddress, kLocalApicAddress);
    put32(table, madt::kFlags, madt::kPcatCompat);

    size_t at = madt::kFirstEntry;
    for (uint32_t cpu = 0; cpu < layout.cpuCount; ++cpu) {
        put8(table, at + 0, madt::kLocalApicType);
        put8(table, at + 1, madt::kLocalApicLength);
        put8(table, at + 2, static_cast<uint8_t>(cpu));  // ACPI processor UID
        put8(table, at + 3, static_cast<uint8_t>(cpu));  // APIC id
        put32(table, at + 4, madt::kLocalApicEnabled);
        at += madt::kLocalApicLength;
    }

    put8(table, at + 0, madt::kIoApicType);
    put8(table, at + 1, madt::kIoApicLength);
    put8(table, at + 2, static_cast<uint8_t>(layout.cpuCount));  // the first id after the CPUs
    put32(table, at + 4, kIoApicAddress);
    put32(table, at + 8, 0);  // GSI base
    at += madt::kIoApicLength;

    put8(table, at + 0, madt::kInterruptSourceOverrideType);
    put8(table, at + 1, madt::kInterruptSourceOverrideLength);
    put8(table, at + 2, madt::kIsaBus);
    put8(table, at + 3, kPitIsaIrq);
    put32(table, at + 4, kPitGsi);
    put16(table, at + 8, madt::kConformsToBus);

    sealSdt(table);
    return table;
}

Bytes buildFadt(const AcpiLayout& layout, uint64_t dsdtAddress) {
    Bytes table = sdtTable("FACP", kFadtRevision, fadt::kSize);
    // Both DSDT pointers hold the same address: ACPICA prefers X_DSDT and only warns when they
    // differ, and a reader that knows only the 32-bit field still finds the table.
    put32(table, fadt::kDsdt, static_cast<uint32_t>(dsdtAddress));
    put64(table, fadt::kXDsdt, dsdtAddress);
    put16(table, fadt::kIapcBootArch,
          fadt::k8042Present | fadt::kVgaNotPresent | fadt::kMsiNotSupported |
              fadt::kCmosRtcNotPresent);
    put32(
        table, fadt::kFlags,
        fadt::kHardwareReducedAcpi | fadt::kResetRegSupported | fadt::kPowerButtonIsControlMethod);
    putIoRegister(table, fadt::kResetReg, layout.resetPort);
    put8(table, fadt::kResetValue, layout.resetValue);
    put8(table, fadt::kMinorVersion, kFadtMinorRevision);
    putIoRegister(table, fadt::kSleepControlReg, layout.sleepControlPort);
    putIoRegister(table, fadt::kSleepStatusReg, layout.sleepStatusPort);
    putChars(table, fadt::kHypervisorVendorIdentity, kHypervisorVendor);
    sealSdt(table);
    return table;
}

Bytes buildXsdt(const std::vector<uint64_t>& entries) {
    Bytes table = sdtTable("XSDT", kXsdtRevision, sdt::kHeaderSize + 8 * entries.size());
    for (size_t i = 0; i < entries.size(); ++i) put64(table, sdt::kHeaderSize + 8 * i, entries[i]);
    sealSdt(table);
    return table;
}

Bytes buildRsdp(uint64_t xsdtAddress) {
    Bytes table(rsdp::kSize, 0);
    putChars(table, rsdp::kSignature, "RSD PTR ");
    putChars(table, rsdp::kOemId, kOemId);
    put8(table, rsdp::kRevision, kRsdpRevision);
    // No RSDT: every ACPI 2.0+ reader, Linux included, follows the XSDT when revision >= 2.
    put32(table, rsdp::kRsdtAddress, 0);
    put32(table, rsdp::kLength, rsdp::kSize);
    put64(table, rsdp::kXsdtAddress, xsdtAddress);
    putChecksum(table, rsdp::kChecksum, rsdp::kV1Size);
    putChecksum(table, rsdp::kExtendedChecksum, rsdp::kSize);
    return table;
}

uint64_t alignUp(uint64_t address) {
    return (address + kTableAlignment - 1) & ~uint64_t{kTableAlignment - 1};
}

}  // namespace

AcpiTables buildAcpiTables(const AcpiLayout& layout, uint64_t baseAddress) {
    if (baseAddress < kRsdpAddress || baseAddress >= kAcpiWindowEnd ||
        baseAddress % kTableAlignment != 0)
        throw Error("ACPI tables: base address " + hex(baseAddress) +
                    " is not a 16-byte boundary inside the RSDP window " + hex(kRsdpAddress) + "-" +
                    hex(kAcpiWindowEnd - 1));
    validateLayout(layout);

    AcpiTables tables;
    tables.dsdt.bytes = buildDsdt(layout);
    tables.madt.bytes = buildMadt(layout);

    tables.rsdp.address = baseAddress;
    tables.xsdt.address = alignUp(tables.rsdp.address + rsdp::kSize);
    tables.fadt.address = alignUp(tables.xsdt.address + sdt::kHeaderSize + 8 * kXsdtEntryCount);
    tables.madt.address = alignUp(tables.fadt.address + fadt::kSize);
    tables.dsdt.address = alignUp(tables.madt.address + tables.madt.bytes.size());
    uint64_t end = tables.dsdt.address + tables.dsdt.bytes.size();
    if (end > kAcpiWindowEnd)
        rejectLayout("the tables for " + std::to_string(layout.cpuCount) + " CPUs and " +
                     std::to_string(layout.virtioMmio.size()) + " virtio-mmio devices need " +
                     hex(end - baseAddress) + " bytes from " + hex(baseAddress) +
                     ", past the end of the RSDP window at " + hex(kAcpiWindowEnd));

    tables.fadt.bytes = buildFadt(layout, tables.dsdt.address);
    tables.xsdt.bytes = buildXsdt({tables.fadt.address, tables.madt.address});
    static_assert(kXsdtEntryCount == 2);
    tables.rsdp.bytes = buildRsdp(tables.xsdt.address);
    return tables;
}

uint64_t writeAcpiTables(GuestMemory& memory, const AcpiLayout& layout) {
    AcpiTables tables = buildAcpiTables(layout, kRsdpAddress);
    // One write of the whole range with the alignment gaps zeroed, so the guest sees the same
    // bytes whatever the memory held before (a reboot reuses it).
    uint64_t end = tables.dsdt.address + tables.dsdt.bytes.size();
    Bytes image(end - kRsdpAddress, 0);
    for (const AcpiTable* table :
         {&tables.rsdp, &tables.xsdt, &tables.fadt, &tables.madt, &tables.dsdt})
        std::copy(table->bytes.begin(), table->bytes.end(),
                  image.begin() + static_cast<ptrdiff_t>(table->address - kRsdpAddress));
    memory.write(kRsdpAddress, image);
    return tables.rsdp.address;
}

}  // namespace ingot::vmm::acpi
