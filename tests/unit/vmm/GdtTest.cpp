#include <gtest/gtest.h>

#include <cstdint>

#include "boot/BootEntry.h"
#include "boot/CpuSetup.h"

namespace ingot::vmm {
namespace {

TEST(GdtEntry, EncodesTheFlat64BitCodeSegment) {
    EXPECT_EQ(gdtEntry(0xa09b, 0, 0xfffff), 0x00af9b000000ffffull);
}

TEST(GdtEntry, EncodesTheFlatDataSegment) {
    EXPECT_EQ(gdtEntry(0xc093, 0, 0xfffff), 0x00cf93000000ffffull);
}

TEST(GdtEntry, EncodesTheFlat32BitCodeSegment) {
    EXPECT_EQ(gdtEntry(0xc09b, 0, 0xfffff), 0x00cf9b000000ffffull);
}

TEST(GdtEntry, ScattersBaseAndLimit) {
    // base 0x12345678: bits 0-23 at 16-39, bits 24-31 at 56-63; limit 0xabcde: bits 0-15 at
    // 0-15, bits 16-19 at 48-51.
    EXPECT_EQ(gdtEntry(0x008b, 0x12345678, 0xabcde), 0x120a8b345678bcdeull);
    // Bits 8-11 of flags have no place in a descriptor and are dropped.
    EXPECT_EQ(gdtEntry(0x0f8b, 0, 0), gdtEntry(0x008b, 0, 0));
}

TEST(GdtEntry, DecodesBackToTheSameFields) {
    uint64_t e = gdtEntry(0x40f3, 0xdeadb000, 0x12345);  // DB, P, DPL 3, S, type 3
    kvm_segment s = segmentFromGdtEntry(e, 0x2b);
    EXPECT_EQ(s.base, 0xdeadb000u);
    EXPECT_EQ(s.limit, 0x12345u);  // byte granular
    EXPECT_EQ(s.selector, 0x2b);
    EXPECT_EQ(s.type, 3);
    EXPECT_EQ(s.present, 1);
    EXPECT_EQ(s.dpl, 3);
    EXPECT_EQ(s.db, 1);
    EXPECT_EQ(s.s, 1);
    EXPECT_EQ(s.l, 0);
    EXPECT_EQ(s.g, 0);
    EXPECT_EQ(s.avl, 0);
    EXPECT_EQ(s.unusable, 0);
}

TEST(GdtEntry, NotPresentSegmentIsUnusable) {
    kvm_segment s = segmentFromGdtEntry(0, 0);
    EXPECT_EQ(s.present, 0);
    EXPECT_EQ(s.unusable, 1);
}

TEST(BootGdt, HasNullEntriesThenCodeDataAndTss) {
    for (auto mode : {BootEntry::Mode::kLinux64, BootEntry::Mode::kPvh32}) {
        auto gdt = bootGdt(mode);
        EXPECT_EQ(gdt[0], 0u);
        EXPECT_EQ(gdt[1], 0u);
        EXPECT_EQ(kCodeSelector, 0x10);
        EXPECT_EQ(kDataSelector, 0x18);
        EXPECT_EQ(kTssSelector, 0x20);
    }
}

TEST(BootGdt, FlatSegmentsCoverAllFourGiB) {
    for (auto mode : {BootEntry::Mode::kLinux64, BootEntry::Mode::kPvh32}) {
        auto gdt = bootGdt(mode);
        for (uint16_t sel : {kCodeSelector, kDataSelector}) {
            SCOPED_TRACE(sel);
            kvm_segment s = segmentFromGdtEntry(gdt[sel / 8], sel);
            EXPECT_EQ(s.base, 0u);
            EXPECT_EQ(s.limit, 0xffffffffu);
            EXPECT_EQ(s.g, 1);
            EXPECT_EQ(s.present, 1);
            EXPECT_EQ(s.s, 1);
            EXPECT_EQ(s.dpl, 0);
            EXPECT_EQ(s.selector, sel);
        }
    }
}

TEST(BootGdt, CodeSegmentIs64BitForLinux) {
    auto gdt = bootGdt(BootEntry::Mode::kLinux64);
    EXPECT_EQ(gdt[kCodeSelector / 8], 0x00af9b000000ffffull);
    kvm_segment code = segmentFromGdtEntry(gdt[kCodeSelector / 8], kCodeSelector);
    EXPECT_EQ(code.l, 1);
    EXPECT_EQ(code.db, 0);
    EXPECT_EQ(code.type, 0xb);  // execute/read, accessed
}

TEST(BootGdt, CodeSegmentIs32BitForPvh) {
    auto gdt = bootGdt(BootEntry::Mode::kPvh32);
    kvm_segment code = segmentFromGdtEntry(gdt[kCodeSelector / 8], kCodeSelector);
    EXPECT_EQ(code.l, 0);
    EXPECT_EQ(code.db, 1);
    EXPECT_EQ(code.type, 0xb);
}

TEST(BootGdt, DataSegmentIsWritable) {
    auto gdt = bootGdt(BootEntry::Mode::kLinux64);
    EXPECT_EQ(gdt[kDataSelector / 8], 0x00cf93000000ffffull);
    kvm_segment data = segmentFromGdtEntry(gdt[kDataSelector / 8], kDataSelector);
    EXPECT_EQ(data.type, 0x3);  // read/write, accessed
    EXPECT_EQ(data.db, 1);
    EXPECT_EQ(data.l, 0);
}

TEST(BootGdt, TssIsABusyTssOfMinimalSize) {
    auto gdt = bootGdt(BootEntry::Mode::kLinux64);
    kvm_segment tss = segmentFromGdtEntry(gdt[kTssSelector / 8], kTssSelector);
    EXPECT_EQ(tss.type, 0xb);
    EXPECT_EQ(tss.s, 0);
    EXPECT_EQ(tss.present, 1);
    EXPECT_EQ(tss.limit, 0x67u);
    EXPECT_EQ(tss.g, 0);
    EXPECT_EQ(tss.base, 0u);
}

}  // namespace
}  // namespace ingot::vmm
