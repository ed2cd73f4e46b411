#include "CpuSetup.h"

#include "X86Layout.h"

namespace ingot::vmm {

namespace {
constexpr uint64_t kCr0Pe = 1ull << 0;
constexpr uint64_t kCr0Et = 1ull << 4;
constexpr uint64_t kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kEferLme = 1ull << 8;
constexpr uint64_t kEferLma = 1ull << 10;
constexpr uint64_t kPagePresent = 1ull << 0;
constexpr uint64_t kPageWritable = 1ull << 1;
constexpr uint64_t kPageHuge = 1ull << 7;

constexpr uint16_t kCode64Flags = 0xa09b;  // G, L, P, S, execute/read, accessed
constexpr uint16_t kCode32Flags = 0xc09b;  // G, D, P, S, execute/read, accessed
constexpr uint16_t kDataFlags = 0xc093;    // G, B, P, S, read/write, accessed
constexpr uint16_t kTssFlags = 0x008b;     // P, 32/64-bit TSS (busy)
}  // namespace

uint64_t gdtEntry(uint16_t flags, uint32_t base, uint32_t limit) {
    return ((uint64_t{base} & 0xff000000u) << (56 - 24)) | ((uint64_t{flags} & 0x0000f0ffu) << 40) |
           ((uint64_t{limit} & 0x000f0000u) << (48 - 16)) | ((uint64_t{base} & 0x00ffffffu) << 16) |
           (uint64_t{limit} & 0x0000ffffu);
}

kvm_segment segmentFromGdtEntry(uint64_t e, uint16_t selector) {
    kvm_segment s{};
    s.base = ((e >> 16) & 0xffffff) | (((e >> 56) & 0xff) << 24);
    uint32_t limit = static_cast<uint32_t>((e & 0xffff) | (((e >> 48) & 0xf) << 16));
    s.g = (e >> 55) & 1;
    // The CPU caches the limit in bytes: page-granular limits are scaled.
    s.limit = s.g ? (limit << 12) | 0xfff : limit;
    s.selector = selector;
    s.type = (e >> 40) & 0xf;
    s.present = (e >> 47) & 1;
    s.dpl = (e >> 45) & 3;
    s.db = (e >> 54) & 1;
    s.s = (e >> 44) & 1;
    s.l = (e >> 53) & 1;
    s.avl = (e >> 52) & 1;
    s.unusable = s.present ? 0 : 1;
    return s;
}

std::array<uint64_t, 5> bootGdt(BootEntry::Mode mode) {
    return {0, 0,
            gdtEntry(mode == BootEntry::Mode::kLinux64 ? kCode64Flags : kCode32Flags, 0, 0xfffff),
            gdtEntry(kDataFlags, 0, 0xfffff), gdtEntry(kTssFlags, 0, 0x67)};
}

void writeIdentityPageTables(GuestMemory& memory) {
    memory.writeObject<uint64_t>(layout::kPml4, layout::kPdpt | kPagePresent | kPageWritable);
    for (uint64_t i = 1; i < 512; ++i) memory.writeObject<uint64_t>(layout::kPml4 + i * 8, 0);
    for (uint64_t i = 4; i < 512; ++i) memory.writeObject<uint64_t>(layout::kPdpt + i * 8, 0);
    for (uint64_t d = 0; d < 4; ++d) {
        uint64_t pd = layout::kPageDirectories + d * 0x1000;
        memory.writeObject<uint64_t>(layout::kPdpt + d * 8, pd | kPagePresent | kPageWritable);
        for (uint64_t i = 0; i < 512; ++i) {
            uint64_t phys = (d << 30) | (i << 21);
            memory.writeObject<uint64_t>(pd + i * 8,
                                         phys | kPagePresent | kPageWritable | kPageHuge);
        }
    }
}

kvm_sregs bootSpecialRegisters(GuestMemory& memory, BootEntry::Mode mode, kvm_sregs sregs) {
    auto gdt = bootGdt(mode);
    for (size_t i = 0; i < gdt.size(); ++i)
        memory.writeObject<uint64_t>(layout::kGdt + i * 8, gdt[i]);
    memory.writeObject<uint64_t>(layout::kIdt, 0);
    sregs.gdt.base = layout::kGdt;
    sregs.gdt.limit = static_cast<uint16_t>(gdt.size() * 8 - 1);
    sregs.idt.base = layout::kIdt;
    sregs.idt.limit = 7;

    kvm_segment code = segmentFromGdtEntry(gdt[kCodeSelector / 8], kCodeSelector);
    kvm_segment data = segmentFromGdtEntry(gdt[kDataSelector / 8], kDataSelector);
    kvm_segment tss = segmentFromGdtEntry(gdt[kTssSelector / 8], kTssSelector);
    sregs.cs = code;
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
    sregs.tr = tss;

    if (mode == BootEntry::Mode::kLinux64) {
        writeIdentityPageTables(memory);
        sregs.cr3 = layout::kPml4;
        sregs.cr4 |= kCr4Pae;
        sregs.cr0 |= kCr0Pe | kCr0Et | kCr0Pg;
        sregs.efer |= kEferLme | kEferLma;
    } else {
        sregs.cr0 = (sregs.cr0 | kCr0Pe | kCr0Et) & ~kCr0Pg;
        sregs.cr4 = 0;
        sregs.efer = 0;
    }
    return sregs;
}

kvm_regs bootRegisters(const BootEntry& entry) {
    kvm_regs regs{};
    regs.rflags = 0x2;  // reserved bit 1; interrupts off
    regs.rip = entry.entry;
    if (entry.mode == BootEntry::Mode::kLinux64) {
        regs.rsi = entry.bootInfo;
        regs.rsp = regs.rbp = layout::kBootStack;
    } else {
        regs.rbx = entry.bootInfo;
    }
    return regs;
}

std::array<MsrValue, 10> bootMsrs() {
    return {{
        {0x174, 0},                      // IA32_SYSENTER_CS
        {0x175, 0},                      // IA32_SYSENTER_ESP
        {0x176, 0},                      // IA32_SYSENTER_EIP
        {0xc0000081, 0},                 // STAR
        {0xc0000082, 0},                 // LSTAR
        {0xc0000083, 0},                 // CSTAR
        {0xc0000084, 0},                 // SYSCALL_MASK
        {0xc0000102, 0},                 // KERNEL_GS_BASE
        {0x1a0, 1},                      // IA32_MISC_ENABLE: fast strings
        {0x2ff, (1u << 11) | 6},         // MTRRdefType: MTRRs on, write-back by default
    }};
}

}  // namespace ingot::vmm
