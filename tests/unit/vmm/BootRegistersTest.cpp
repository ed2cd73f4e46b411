#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <set>

#include "GuestMemory.h"
#include "boot/BootEntry.h"
#include "boot/CpuSetup.h"
#include "boot/X86Layout.h"

namespace ingot::vmm {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kCr0Pe = 1ull << 0;
constexpr uint64_t kCr0Et = 1ull << 4;
constexpr uint64_t kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kEferLme = 1ull << 8;
constexpr uint64_t kEferLma = 1ull << 10;

// What KVM reports for a fresh vCPU: real mode, caches disabled (CD|NW|ET).
kvm_sregs resetState() {
    kvm_sregs s{};
    s.cr0 = 0x60000010;
    s.cs.selector = 0xf000;
    s.cs.base = 0xffff0000;
    return s;
}

TEST(BootSpecialRegisters, Linux64EntersLongModeWithPaging) {
    GuestMemory memory(64 * kMiB);
    kvm_sregs s = bootSpecialRegisters(memory, BootEntry::Mode::kLinux64, resetState());
    EXPECT_EQ(s.cr0 & (kCr0Pe | kCr0Pg), kCr0Pe | kCr0Pg);
    EXPECT_TRUE(s.cr0 & kCr0Et);
    EXPECT_TRUE(s.cr4 & kCr4Pae);
    EXPECT_EQ(s.efer & (kEferLme | kEferLma), kEferLme | kEferLma);
    EXPECT_EQ(s.cr3, layout::kPml4);
}

TEST(BootSpecialRegisters, Linux64LoadsTheBootSelectors) {
    GuestMemory memory(64 * kMiB);
    kvm_sregs s = bootSpecialRegisters(memory, BootEntry::Mode::kLinux64, resetState());
    EXPECT_EQ(s.cs.selector, 0x10);
    EXPECT_EQ(s.cs.l, 1);
    EXPECT_EQ(s.cs.db, 0);
    EXPECT_EQ(s.cs.base, 0u);
    for (const kvm_segment* seg : {&s.ds, &s.es, &s.fs, &s.gs, &s.ss}) {
        EXPECT_EQ(seg->selector, 0x18);
        EXPECT_EQ(seg->base, 0u);
        EXPECT_EQ(seg->limit, 0xffffffffu);
        EXPECT_EQ(seg->present, 1);
    }
    EXPECT_EQ(s.tr.selector, 0x20);
    EXPECT_EQ(s.tr.type, 0xb);
}

TEST(BootSpecialRegisters, WritesTheGdtAndAnEmptyIdt) {
    GuestMemory memory(64 * kMiB);
    memory.writeObject<uint64_t>(layout::kIdt, ~0ull);
    kvm_sregs s = bootSpecialRegisters(memory, BootEntry::Mode::kLinux64, resetState());
    EXPECT_EQ(s.gdt.base, layout::kGdt);
    EXPECT_EQ(s.gdt.limit, 5 * 8 - 1);
    auto gdt = bootGdt(BootEntry::Mode::kLinux64);
    for (size_t i = 0; i < 4; ++i)
        EXPECT_EQ(memory.readObject<uint64_t>(layout::kGdt + i * 8), gdt[i]) << i;
    EXPECT_EQ(s.idt.base, layout::kIdt);
    EXPECT_EQ(s.idt.limit, 7);
    EXPECT_EQ(memory.readObject<uint64_t>(layout::kIdt), 0u);
}

TEST(BootSpecialRegisters, GdtInGuestMemoryKeepsTheTssDescriptor) {
    GuestMemory memory(64 * kMiB);
    kvm_sregs s = bootSpecialRegisters(memory, BootEntry::Mode::kLinux64, resetState());
    auto gdt = bootGdt(BootEntry::Mode::kLinux64);
    uint64_t tssAt = s.gdt.base + kTssSelector;
    ASSERT_LE(kTssSelector + 7u, s.gdt.limit);
    uint64_t inMemory = memory.readObject<uint64_t>(tssAt);
    // The GDT and the IDT must not share bytes.
    bool disjoint =
        s.idt.base >= s.gdt.base + s.gdt.limit + 1 || s.gdt.base >= s.idt.base + s.idt.limit + 1;
    EXPECT_TRUE(disjoint) << "IDT overlaps the GDT";
    EXPECT_EQ(inMemory, gdt[kTssSelector / 8]);
}

TEST(BootSpecialRegisters, Linux64WritesThePageTables) {
    GuestMemory memory(64 * kMiB);
    bootSpecialRegisters(memory, BootEntry::Mode::kLinux64, resetState());
    EXPECT_EQ(memory.readObject<uint64_t>(layout::kPml4), layout::kPdpt | 3);
    EXPECT_EQ(memory.readObject<uint64_t>(layout::kPageDirectories + 8), (2 * kMiB) | 0x83);
}

TEST(BootSpecialRegisters, Pvh32IsFlatProtectedModeWithoutPaging) {
    GuestMemory memory(64 * kMiB);
    kvm_sregs current = resetState();
    current.cr0 |= kCr0Pg;  // whatever state was there before must not leak through
    current.cr4 = kCr4Pae | (1 << 7);
    current.efer = kEferLme | kEferLma;
    kvm_sregs s = bootSpecialRegisters(memory, BootEntry::Mode::kPvh32, current);
    EXPECT_TRUE(s.cr0 & kCr0Pe);
    EXPECT_FALSE(s.cr0 & kCr0Pg);
    EXPECT_EQ(s.cr4, 0u);
    EXPECT_EQ(s.efer, 0u);
    EXPECT_EQ(s.cs.selector, 0x10);
    EXPECT_EQ(s.cs.l, 0);
    EXPECT_EQ(s.cs.db, 1);
    EXPECT_EQ(s.cs.limit, 0xffffffffu);
    EXPECT_EQ(s.ds.selector, 0x18);
    EXPECT_EQ(s.ss.selector, 0x18);
    EXPECT_EQ(s.tr.selector, 0x20);
    // No page tables for a guest that starts without paging.
    EXPECT_EQ(memory.readObject<uint64_t>(layout::kPml4), 0u);
}

TEST(BootRegisters, Linux64PassesTheZeroPageInRsi) {
    kvm_regs r = bootRegisters({BootEntry::Mode::kLinux64, 0x100200, layout::kZeroPage});
    EXPECT_EQ(r.rip, 0x100200u);
    EXPECT_EQ(r.rsi, layout::kZeroPage);
    EXPECT_EQ(r.rbx, 0u);
    EXPECT_EQ(r.rflags, 2u);
    EXPECT_EQ(r.rsp, layout::kBootStack);
    EXPECT_EQ(r.rsp % 16, 0u);
}

TEST(BootRegisters, PvhPassesTheStartInfoInRbx) {
    kvm_regs r = bootRegisters({BootEntry::Mode::kPvh32, 0x1000040, layout::kPvhStartInfo});
    EXPECT_EQ(r.rip, 0x1000040u);
    EXPECT_EQ(r.rbx, layout::kPvhStartInfo);
    EXPECT_EQ(r.rsi, 0u);
    EXPECT_EQ(r.rflags, 2u);
}

TEST(BootMsrs, EnableMtrrsWithWriteBackDefault) {
    auto msrs = bootMsrs();
    auto it =
        std::find_if(msrs.begin(), msrs.end(), [](const MsrValue& m) { return m.index == 0x2ff; });
    ASSERT_NE(it, msrs.end());
    EXPECT_TRUE(it->value & (1u << 11));  // E: MTRRs enabled
    EXPECT_EQ(it->value & 0xff, 6u);      // default type write-back
    EXPECT_EQ(it->value, 0x806u);
}

TEST(BootMsrs, SetEachMsrOnceAndClearSyscallState) {
    auto msrs = bootMsrs();
    std::set<uint32_t> seen;
    for (const auto& m : msrs) EXPECT_TRUE(seen.insert(m.index).second) << std::hex << m.index;
    for (uint32_t index : {0x174u, 0x175u, 0x176u, 0xc0000081u, 0xc0000082u, 0xc0000083u,
                           0xc0000084u, 0xc0000102u}) {
        auto it = std::find_if(msrs.begin(), msrs.end(),
                               [&](const MsrValue& m) { return m.index == index; });
        ASSERT_NE(it, msrs.end()) << std::hex << index;
        EXPECT_EQ(it->value, 0u) << std::hex << index;
    }
}

}  // namespace
}  // namespace ingot::vmm
