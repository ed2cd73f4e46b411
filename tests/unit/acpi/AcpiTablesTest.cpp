#include "acpi/AcpiTables.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "GuestMemory.h"
#include "ingot/core/Error.h"

namespace ingot::vmm::acpi {
namespace {

using Bytes = std::vector<uint8_t>;

uint64_t readLittleEndian(const Bytes& bytes, size_t offset, int size) {
    uint64_t value = 0;
    for (int i = size - 1; i >= 0; --i) value = (value << 8) | bytes.at(offset + i);
    return value;
}
uint8_t u8(const Bytes& b, size_t offset) {
    return b.at(offset);
}
uint16_t u16(const Bytes& b, size_t offset) {
    return static_cast<uint16_t>(readLittleEndian(b, offset, 2));
}
uint32_t u32(const Bytes& b, size_t offset) {
    return static_cast<uint32_t>(readLittleEndian(b, offset, 4));
}
uint64_t u64(const Bytes& b, size_t offset) {
    return readLittleEndian(b, offset, 8);
}
std::string chars(const Bytes& b, size_t offset, size_t length) {
    return std::string(b.begin() + offset, b.begin() + offset + length);
}
uint8_t byteSum(const Bytes& b, size_t length) {
    uint8_t sum = 0;
    for (size_t i = 0; i < length; ++i) sum = static_cast<uint8_t>(sum + b.at(i));
    return sum;
}

// Two virtio-mmio devices as a small guest has them: a disk and a console.
AcpiLayout twoDeviceLayout() {
    AcpiLayout layout;
    layout.cpuCount = 2;
    layout.virtioMmio = {{0xFEB0'0000, 0x200, 5}, {0xFEB0'0200, 0x200, 6}};
    return layout;
}

std::vector<const AcpiTable*> allTables(const AcpiTables& tables) {
    return {&tables.rsdp, &tables.xsdt, &tables.fadt, &tables.madt, &tables.dsdt};
}

TEST(AcpiRsdp, IsRevision2WithBothChecksumsAndPointsAtTheXsdt) {
    AcpiTables tables = buildAcpiTables(twoDeviceLayout());
    const Bytes& rsdp = tables.rsdp.bytes;
    ASSERT_EQ(rsdp.size(), 36u);
    EXPECT_EQ(tables.rsdp.address, kRsdpAddress);
    EXPECT_EQ(chars(rsdp, 0, 8), "RSD PTR ");
    EXPECT_EQ(byteSum(rsdp, 20), 0) << "ACPI 1.0 checksum over the first 20 bytes";
    EXPECT_EQ(byteSum(rsdp, 36), 0) << "extended checksum over all 36 bytes";
    EXPECT_EQ(chars(rsdp, 9, 6), "INGOT ");
    EXPECT_EQ(u8(rsdp, 15), 2);
    EXPECT_EQ(u32(rsdp, 20), 36u);
    EXPECT_EQ(u64(rsdp, 24), tables.xsdt.address);
}

TEST(AcpiXsdt, ListsTheFadtAndTheMadt) {
    AcpiTables tables = buildAcpiTables(twoDeviceLayout());
    const Bytes& xsdt = tables.xsdt.bytes;
    EXPECT_EQ(chars(xsdt, 0, 4), "XSDT");
    ASSERT_EQ(u32(xsdt, 4), 36u + 2 * 8);
    EXPECT_EQ(u64(xsdt, 36), tables.fadt.address);
    EXPECT_EQ(u64(xsdt, 44), tables.madt.address);
    EXPECT_EQ(chars(tables.fadt.bytes, 0, 4), "FACP");
    EXPECT_EQ(chars(tables.madt.bytes, 0, 4), "APIC");
    EXPECT_EQ(chars(tables.dsdt.bytes, 0, 4), "DSDT");
}

TEST(AcpiTables, EveryHeaderIsCompleteAndChecksumsToZero) {
    AcpiTables tables = buildAcpiTables(twoDeviceLayout());
    for (const AcpiTable* table : {&tables.xsdt, &tables.fadt, &tables.madt, &tables.dsdt}) {
        const Bytes& bytes = table->bytes;
        std::string signature = chars(bytes, 0, 4);
        EXPECT_EQ(u32(bytes, 4), bytes.size()) << signature;
        EXPECT_EQ(byteSum(bytes, bytes.size()), 0) << signature;
        EXPECT_EQ(chars(bytes, 10, 6), "INGOT ") << signature;
        EXPECT_EQ(chars(bytes, 16, 8), "INGOTVMM") << signature;
        EXPECT_EQ(chars(bytes, 28, 4), "INGT") << signature;
    }
}

TEST(AcpiTables, AreAlignedDisjointAndInsideTheRsdpWindow) {
    AcpiTables tables = buildAcpiTables(twoDeviceLayout());
    uint64_t previousEnd = kRsdpAddress;
    for (const AcpiTable* table : allTables(tables)) {
        EXPECT_EQ(table->address % 16, 0u);
        EXPECT_GE(table->address, previousEnd);
        previousEnd = table->address + table->bytes.size();
    }
    EXPECT_LE(previousEnd, kAcpiWindowEnd);
}

TEST(AcpiFadt, DescribesAHardwareReducedMachine) {
    AcpiTables tables = buildAcpiTables(twoDeviceLayout());
    const Bytes& fadt = tables.fadt.bytes;
    ASSERT_EQ(fadt.size(), 276u);
    EXPECT_EQ(u8(fadt, 8), 6) << "revision";
    EXPECT_EQ(u32(fadt, 112), (1u << 20) | (1u << 10) | (1u << 4)) << "flags";
    EXPECT_EQ(u32(fadt, 40), tables.dsdt.address) << "DSDT";
    EXPECT_EQ(u64(fadt, 140), tables.dsdt.address) << "X_DSDT";
    EXPECT_EQ(u32(fadt, 36), 0u) << "no FACS on a hardware-reduced machine";
    EXPECT_EQ(u16(fadt, 46), 0u) << "no SCI";

    uint16_t bootArch = u16(fadt, 109);
    EXPECT_NE(bootArch & (1u << 1), 0u) << "an 8042: Linux probes it, ingot stop needs its keyboard";
    EXPECT_NE(bootArch & (1u << 5), 0u) << "no CMOS RTC";
    EXPECT_EQ(bootArch, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 5));

    EXPECT_EQ(chars(fadt, 268, 8), "INGOTVMM") << "hypervisor vendor identity";
}

void expectByteIoRegister(const Bytes& fadt, size_t offset, uint16_t port) {
    EXPECT_EQ(u8(fadt, offset + 0), 1) << "system I/O space, at " << offset;
    EXPECT_EQ(u8(fadt, offset + 1), 8) << "8-bit register, at " << offset;
    EXPECT_EQ(u8(fadt, offset + 2), 0) << "bit offset, at " << offset;
    EXPECT_EQ(u8(fadt, offset + 3), 1) << "byte access, at " << offset;
    EXPECT_EQ(u64(fadt, offset + 4), port) << "port, at " << offset;
}

TEST(AcpiFadt, SleepAndResetRegisters) {
    AcpiTables defaults = buildAcpiTables(twoDeviceLayout());
    expectByteIoRegister(defaults.fadt.bytes, 116, 0x604);
    EXPECT_EQ(u8(defaults.fadt.bytes, 128), 0x01);
    expectByteIoRegister(defaults.fadt.bytes, 244, 0x600);
    expectByteIoRegister(defaults.fadt.bytes, 256, 0x601);

    AcpiLayout layout = twoDeviceLayout();
    layout.sleepControlPort = 0x510;
    layout.sleepStatusPort = 0x511;
    layout.resetPort = 0xCF9;
    layout.resetValue = 0x06;
    AcpiTables custom = buildAcpiTables(layout);
    expectByteIoRegister(custom.fadt.bytes, 116, 0xCF9);
    EXPECT_EQ(u8(custom.fadt.bytes, 128), 0x06);
    expectByteIoRegister(custom.fadt.bytes, 244, 0x510);
    expectByteIoRegister(custom.fadt.bytes, 256, 0x511);
}

class AcpiMadt : public testing::TestWithParam<uint32_t> {};

TEST_P(AcpiMadt, HasOneLocalApicPerCpuTheIoApicAndThePitOverride) {
    uint32_t cpuCount = GetParam();
    AcpiLayout layout = twoDeviceLayout();
    layout.cpuCount = cpuCount;
    const Bytes madt = buildAcpiTables(layout).madt.bytes;
    EXPECT_EQ(u32(madt, 36), 0xFEE0'0000u) << "local APIC address";
    EXPECT_EQ(u32(madt, 40), 1u) << "PCAT_COMPAT";

    std::vector<uint8_t> apicIds;
    int ioApics = 0, overrides = 0;
    size_t at = 44;
    while (at < madt.size()) {
        uint8_t type = u8(madt, at), length = u8(madt, at + 1);
        ASSERT_GE(length, 2) << "entry at " << at;
        ASSERT_LE(at + length, madt.size()) << "entry at " << at;
        switch (type) {
            case 0:
                ASSERT_EQ(length, 8);
                EXPECT_EQ(u8(madt, at + 2), apicIds.size()) << "ACPI processor UID";
                EXPECT_EQ(u32(madt, at + 4), 1u) << "enabled";
                apicIds.push_back(u8(madt, at + 3));
                break;
            case 1:
                ASSERT_EQ(length, 12);
                ++ioApics;
                EXPECT_EQ(u8(madt, at + 2), cpuCount) << "IO-APIC id follows the CPUs";
                EXPECT_EQ(u32(madt, at + 4), 0xFEC0'0000u);
                EXPECT_EQ(u32(madt, at + 8), 0u) << "GSI base";
                break;
            case 2:
                ASSERT_EQ(length, 10);
                ++overrides;
                EXPECT_EQ(u8(madt, at + 2), 0) << "ISA bus";
                EXPECT_EQ(u8(madt, at + 3), 0) << "IRQ 0 (PIT)";
                EXPECT_EQ(u32(madt, at + 4), 2u) << "GSI 2";
                EXPECT_EQ(u16(madt, at + 8), 0u) << "conforms to the bus";
                break;
            default:
                ADD_FAILURE() << "unexpected MADT entry type " << int(type);
        }
        at += length;
    }
    EXPECT_EQ(at, madt.size());
    std::vector<uint8_t> expectedIds(cpuCount);
    for (uint32_t i = 0; i < cpuCount; ++i) expectedIds[i] = static_cast<uint8_t>(i);
    EXPECT_EQ(apicIds, expectedIds);
    EXPECT_EQ(ioApics, 1);
    EXPECT_EQ(overrides, 1);
}

INSTANTIATE_TEST_SUITE_P(CpuCounts, AcpiMadt, testing::Values(1u, 2u, 8u));

// Hand-assembled from ACPI 6.x section 20 and 6.4; each line is one AML object:
//   Scope (\_SB) {
//     Device (COM1) { Name (_HID, EisaId ("PNP0501")) Name (_UID, One)
//       Name (_CRS, ResourceTemplate () { IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08)
//                                         IRQNoFlags () {4} }) }
//     Device (PS2K) { Name (_HID, EisaId ("PNP0303"))
//       Name (_CRS, ResourceTemplate () { IO (Decode16, 0x0060, 0x0060, 0x01, 0x01)
//         IO (Decode16, 0x0064, 0x0064, 0x01, 0x01) IRQNoFlags () {1} }) }
//     Device (VR00) { Name (_HID, "LNRO0005") Name (_UID, Zero)
//       Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, 0xFEB00000, 0x00000200)
//         Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) {5} }) }
//     Device (VR01) { ... One ... 0xFEB00200 ... {6} }
//   }
//   Name (_S5, Package () { 5, Zero, Zero, Zero })
// clang-format off
const Bytes kCom1Device = {
    0x5B, 0x82, 0x2B, 'C', 'O', 'M', '1',                     // Device, PkgLength 43
    0x08, '_', 'H', 'I', 'D', 0x0C, 0x41, 0xD0, 0x05, 0x01,   // EisaId 0x0105D041
    0x08, '_', 'U', 'I', 'D', 0x01,                           // One
    0x08, '_', 'C', 'R', 'S', 0x11, 0x10, 0x0A, 0x0D,         // Buffer, PkgLength 16, size 13
    0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08,           // IO
    0x22, 0x10, 0x00,                                         // IRQNoFlags {4}
    0x79, 0x00,                                               // End Tag
};
const Bytes kKeyboardDevice = {
    0x5B, 0x82, 0x2D, 'P', 'S', '2', 'K',                     // Device, PkgLength 45
    0x08, '_', 'H', 'I', 'D', 0x0C, 0x41, 0xD0, 0x03, 0x03,   // EisaId 0x0303D041
    0x08, '_', 'C', 'R', 'S', 0x11, 0x18, 0x0A, 0x15,         // Buffer, PkgLength 24, size 21
    0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01,           // IO 0x60
    0x47, 0x01, 0x64, 0x00, 0x64, 0x00, 0x01, 0x01,           // IO 0x64
    0x22, 0x02, 0x00,                                         // IRQNoFlags {1}
    0x79, 0x00,                                               // End Tag
};
const Bytes kVirtio0Device = {
    0x5B, 0x82, 0x3A, 'V', 'R', '0', '0',  // Device, PkgLength 58
    0x08, '_', 'H', 'I', 'D', 0x0D, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0x00,
    0x08, '_', 'U', 'I', 'D', 0x00,                                          // Zero
    0x08, '_', 'C', 'R', 'S', 0x11, 0x1A, 0x0A, 0x17,                        // Buffer, size 23
    0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0xB0, 0xFE, 0x00, 0x02, 0x00, 0x00,  // Memory32Fixed
    0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00,                    // Interrupt {5}
    0x79, 0x00,
};
const Bytes kVirtio1Device = {
    0x5B, 0x82, 0x3A, 'V', 'R', '0', '1',
    0x08, '_', 'H', 'I', 'D', 0x0D, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0x00,
    0x08, '_', 'U', 'I', 'D', 0x01,
    0x08, '_', 'C', 'R', 'S', 0x11, 0x1A, 0x0A, 0x17,
    0x86, 0x09, 0x00, 0x01, 0x00, 0x02, 0xB0, 0xFE, 0x00, 0x02, 0x00, 0x00,
    0x89, 0x06, 0x00, 0x03, 0x01, 0x06, 0x00, 0x00, 0x00,
    0x79, 0x00,
};
const Bytes kSbScopeStart = {0x10, 0x4B, 0x0D, '\\', '_', 'S', 'B', '_'};  // PkgLength 219
const Bytes kS5Name = {0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x04, 0x0A, 0x05, 0x00, 0x00, 0x00};
// clang-format on

TEST(AcpiDsdt, MatchesHandAssembledAmlForTwoDevices) {
    AcpiTables tables = buildAcpiTables(twoDeviceLayout());
    const Bytes& dsdt = tables.dsdt.bytes;
    EXPECT_EQ(u8(dsdt, 8), 2) << "revision 2: 64-bit integers";

    Bytes expected;
    for (const Bytes* part :
         {&kSbScopeStart, &kCom1Device, &kKeyboardDevice, &kVirtio0Device, &kVirtio1Device,
          &kS5Name})
        expected.insert(expected.end(), part->begin(), part->end());
    ASSERT_EQ(kCom1Device.size(), 45u);
    ASSERT_EQ(kKeyboardDevice.size(), 47u);
    ASSERT_EQ(kVirtio0Device.size(), 60u);
    ASSERT_EQ(kSbScopeStart.size() - 1 + 45 + 47 + 60 + 60, 219u) << "scope PkgLength value";

    Bytes aml(dsdt.begin() + 36, dsdt.end());
    EXPECT_EQ(aml, expected);
}

TEST(AcpiDsdt, S5PackageCarriesTheConfiguredSleepType) {
    AcpiLayout layout = twoDeviceLayout();
    layout.s5SleepType = 7;
    const Bytes dsdt = buildAcpiTables(layout).dsdt.bytes;
    Bytes s5 = kS5Name;
    s5[9] = 0x07;
    EXPECT_TRUE(std::equal(s5.begin(), s5.end(), dsdt.end() - static_cast<ptrdiff_t>(s5.size())));
}

TEST(AcpiDsdt, WithoutVirtioDevicesStillDescribesCom1TheKeyboardAndS5) {
    AcpiLayout layout;
    const Bytes dsdt = buildAcpiTables(layout).dsdt.bytes;
    EXPECT_NE(std::search(dsdt.begin(), dsdt.end(), kCom1Device.begin(), kCom1Device.end()),
              dsdt.end());
    EXPECT_NE(std::search(dsdt.begin(), dsdt.end(), kKeyboardDevice.begin(), kKeyboardDevice.end()),
              dsdt.end());
    EXPECT_EQ(dsdt.size(), 36u + 3 + 5 + 45 + 47 + kS5Name.size());  // a 2-byte PkgLength
}

TEST(AcpiWrite, PutsTheTablesWhereLinuxScansForTheRsdp) {
    GuestMemory memory(64 << 20);
    AcpiLayout layout = twoDeviceLayout();
    EXPECT_EQ(writeAcpiTables(memory, layout), kRsdpAddress);

    AcpiTables expected = buildAcpiTables(layout, kRsdpAddress);
    for (const AcpiTable* table : allTables(expected)) {
        auto written = memory.slice(table->address, table->bytes.size());
        EXPECT_TRUE(std::equal(written.begin(), written.end(), table->bytes.begin()))
            << "table at 0x" << std::hex << table->address;
    }

    // What Linux's legacy scan does: 16-byte steps over 0xE0000-0xFFFFF, signature + checksum.
    uint64_t found = 0;
    for (uint64_t address = 0xE0000; address < 0x100000 && !found; address += 16) {
        auto candidate = memory.slice(address, 20);
        if (std::memcmp(candidate.data(), "RSD PTR ", 8) != 0) continue;
        uint8_t sum = 0;
        for (uint8_t b : candidate) sum = static_cast<uint8_t>(sum + b);
        if (sum == 0) found = address;
    }
    EXPECT_EQ(found, kRsdpAddress);
}

TEST(AcpiWrite, TheLargestValidLayoutFits) {
    AcpiLayout layout;
    layout.cpuCount = kMaxCpuCount;
    for (uint32_t gsi = 1; gsi < kIoApicPinCount; ++gsi)
        if (gsi != 1 && gsi != 2 && gsi != 4)
            layout.virtioMmio.push_back({0xFEB0'0000 + 0x200 * gsi, 0x200, gsi});
    GuestMemory memory(16 << 20);
    EXPECT_EQ(writeAcpiTables(memory, layout), kRsdpAddress);
    AcpiTables tables = buildAcpiTables(layout);
    EXPECT_LE(tables.dsdt.address + tables.dsdt.bytes.size(), kAcpiWindowEnd);
    EXPECT_EQ(byteSum(tables.madt.bytes, tables.madt.bytes.size()), 0);
}

TEST(AcpiLayoutChecks, TablesThatRunPastTheWindowThrow) {
    AcpiLayout layout = twoDeviceLayout();
    EXPECT_THROW(buildAcpiTables(layout, 0xFFF00), Error);
    layout.cpuCount = kMaxCpuCount;
    EXPECT_THROW(buildAcpiTables(layout, 0xFF800), Error);
    EXPECT_NO_THROW(buildAcpiTables(layout, 0xF0000));
}

TEST(AcpiLayoutChecks, BaseAddressOutsideTheWindowOrUnalignedThrows) {
    EXPECT_THROW(buildAcpiTables(twoDeviceLayout(), 0xD0000), Error);
    EXPECT_THROW(buildAcpiTables(twoDeviceLayout(), 0xE0008), Error);
    EXPECT_THROW(buildAcpiTables(twoDeviceLayout(), kAcpiWindowEnd), Error);
}

void expectRejected(const AcpiLayout& layout, const std::string& messagePart) {
    try {
        buildAcpiTables(layout);
        ADD_FAILURE() << "layout accepted; expected an error mentioning \"" << messagePart << "\"";
    } catch (const Error& error) {
        EXPECT_EQ(error.status(), ExitStatus::kUsage);
        EXPECT_NE(std::string(error.what()).find(messagePart), std::string::npos) << error.what();
    }
    GuestMemory memory(16 << 20);
    EXPECT_THROW(writeAcpiTables(memory, layout), Error);
}

TEST(AcpiLayoutChecks, CpuCountMustFitXapicIds) {
    AcpiLayout layout = twoDeviceLayout();
    layout.cpuCount = 0;
    expectRejected(layout, "0 CPUs");
    layout.cpuCount = kMaxCpuCount + 1;
    expectRejected(layout, "255 CPUs");
}

TEST(AcpiLayoutChecks, VirtioWindowsMustBeNonEmptyDisjointAndBelow4GiB) {
    AcpiLayout layout = twoDeviceLayout();
    layout.virtioMmio[1].size = 0;
    expectRejected(layout, "empty");
    layout = twoDeviceLayout();
    layout.virtioMmio[1].base = 0xFEB0'0100;
    expectRejected(layout, "overlaps");
    layout = twoDeviceLayout();
    layout.virtioMmio[1].base = 0xFFFF'FF00;
    expectRejected(layout, "4 GiB");
    layout.virtioMmio[1].base = 0x1'0000'0000;
    expectRejected(layout, "4 GiB");
}

TEST(AcpiLayoutChecks, VirtioGsisMustBeFreeIoApicPins) {
    AcpiLayout layout = twoDeviceLayout();
    layout.virtioMmio[1].gsi = kIoApicPinCount;
    expectRejected(layout, "GSI 24");
    for (uint32_t reserved : {0u, 1u, 2u, 4u}) {
        layout.virtioMmio[1].gsi = reserved;
        expectRejected(layout, "reserved");
    }
    layout.virtioMmio[1].gsi = layout.virtioMmio[0].gsi;
    expectRejected(layout, "shares GSI");
}

}  // namespace
}  // namespace ingot::vmm::acpi

TEST(AcpiDsdt, PvpanicDeviceMatchesHandAssembledAml) {
    using namespace ingot::vmm::acpi;
    using Bytes = std::vector<uint8_t>;
    AcpiLayout layout;
    layout.pvpanicPort = 0x505;
    const Bytes dsdt = buildAcpiTables(layout).dsdt.bytes;
    // clang-format off
    const Bytes expected = {
        0x5B, 0x82, 0x27, 'P', 'E', 'V', 'T',
        0x08, '_', 'H', 'I', 'D', 0x0D, 'Q', 'E', 'M', 'U', '0', '0', '0', '1', 0x00,
        0x08, '_', 'C', 'R', 'S', 0x11, 0x0D, 0x0A, 0x0A,
        0x47, 0x01, 0x05, 0x05, 0x05, 0x05, 0x01, 0x01, 0x79, 0x00,
    };
    // clang-format on
    EXPECT_NE(std::search(dsdt.begin(), dsdt.end(), expected.begin(), expected.end()), dsdt.end());
    AcpiLayout without;
    // COM1 and the keyboard already take the \\_SB scope past 63 bytes: its PkgLength has two
    // bytes either way.
    EXPECT_EQ(buildAcpiTables(without).dsdt.bytes.size() + expected.size(), dsdt.size());
}
