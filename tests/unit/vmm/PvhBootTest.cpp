#include <elf.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "GuestMemory.h"
#include "VmmTestSupport.h"
#include "boot/BootEntry.h"
#include "boot/E820.h"
#include "boot/PvhBoot.h"
#include "boot/X86Layout.h"
#include "ingot/core/Error.h"

namespace ingot::vmm {
namespace {

using test::contains;
using test::errorFrom;
using test::store;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;
constexpr uint32_t kXenElfNotePhys32Entry = 18;

// File layout of the synthetic ELF: header, two program headers (PT_LOAD, PT_NOTE), the note
// segment, then the loadable segment's data.
constexpr size_t kNoteOffset = 0x100;
constexpr size_t kLoadOffset = 0x1000;

struct ElfSpec {
    bool elf64 = true;
    uint64_t paddr = 0x100000;
    uint64_t filesz = 0x2345;
    uint64_t memsz = 0x5000;
    uint64_t entry = 0x100040;
    uint32_t descSize = 4;  // 4 or 8 bytes of entry point in the PVH note
    bool pvhNote = true;
    bool leadingGnuNote = false;  // another note before the PVH one, as real kernels have
};

uint8_t segmentByte(size_t i) {
    return static_cast<uint8_t>(0x80 ^ (i * 11) ^ (i >> 9));
}

void appendNote(std::vector<uint8_t>& notes, const char* name, uint32_t type,
                const std::vector<uint8_t>& desc) {
    uint32_t namesz = static_cast<uint32_t>(std::strlen(name) + 1);
    uint32_t descsz = static_cast<uint32_t>(desc.size());
    size_t at = notes.size();
    notes.resize(at + 12 + ((namesz + 3) & ~3u) + ((descsz + 3) & ~3u), 0);
    store<uint32_t>(&notes[at], namesz);
    store<uint32_t>(&notes[at + 4], descsz);
    store<uint32_t>(&notes[at + 8], type);
    std::memcpy(&notes[at + 12], name, namesz);
    std::copy(desc.begin(), desc.end(), notes.begin() + at + 12 + ((namesz + 3) & ~3u));
}

std::vector<uint8_t> noteBytes(const ElfSpec& spec) {
    std::vector<uint8_t> notes;
    if (spec.leadingGnuNote)
        appendNote(notes, "GNU", NT_GNU_BUILD_ID, std::vector<uint8_t>(20, 0xab));
    if (spec.pvhNote) {
        std::vector<uint8_t> desc(spec.descSize, 0);
        std::memcpy(desc.data(), &spec.entry, std::min<size_t>(desc.size(), 8));
        appendNote(notes, "Xen", kXenElfNotePhys32Entry, desc);
    } else {
        appendNote(notes, "Xen", 17, {1, 2, 3, 4});  // some other Xen note
    }
    return notes;
}

template <typename Ehdr, typename Phdr>
std::vector<uint8_t> buildElf(const ElfSpec& spec, unsigned char cls, uint16_t machine) {
    auto notes = noteBytes(spec);
    std::vector<uint8_t> file(kLoadOffset + spec.filesz, 0);
    Ehdr eh{};
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = cls;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = machine;
    eh.e_version = EV_CURRENT;
    eh.e_entry = static_cast<decltype(eh.e_entry)>(0xffffffff81000000ull);
    eh.e_phoff = sizeof(Ehdr);
    eh.e_ehsize = sizeof(Ehdr);
    eh.e_phentsize = sizeof(Phdr);
    eh.e_phnum = 2;
    std::memcpy(file.data(), &eh, sizeof eh);

    Phdr load{};
    load.p_type = PT_LOAD;
    load.p_flags = PF_R | PF_W | PF_X;
    load.p_offset = kLoadOffset;
    load.p_vaddr = static_cast<decltype(load.p_vaddr)>(0xffffffff81000000ull);  // unused
    load.p_paddr = static_cast<decltype(load.p_paddr)>(spec.paddr);
    load.p_filesz = static_cast<decltype(load.p_filesz)>(spec.filesz);
    load.p_memsz = static_cast<decltype(load.p_memsz)>(spec.memsz);
    load.p_align = 0x1000;
    Phdr note{};
    note.p_type = PT_NOTE;
    note.p_offset = kNoteOffset;
    note.p_filesz = static_cast<decltype(note.p_filesz)>(notes.size());
    note.p_align = 4;
    std::memcpy(file.data() + sizeof(Ehdr), &load, sizeof load);
    std::memcpy(file.data() + sizeof(Ehdr) + sizeof(Phdr), &note, sizeof note);
    std::copy(notes.begin(), notes.end(), file.begin() + kNoteOffset);
    for (size_t i = 0; i < spec.filesz; ++i) file[kLoadOffset + i] = segmentByte(i);
    return file;
}

std::vector<uint8_t> makeElf(const ElfSpec& spec = {}) {
    if (spec.elf64) return buildElf<Elf64_Ehdr, Elf64_Phdr>(spec, ELFCLASS64, EM_X86_64);
    return buildElf<Elf32_Ehdr, Elf32_Phdr>(spec, ELFCLASS32, EM_386);
}

// Offsets of ELF64 fields the rejection tests corrupt.
constexpr size_t kPhoff64 = offsetof(Elf64_Ehdr, e_phoff);
constexpr size_t kPhnum64 = offsetof(Elf64_Ehdr, e_phnum);
constexpr size_t kLoadPhdr64 = sizeof(Elf64_Ehdr);
constexpr size_t kNotePhdr64 = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr);

std::vector<uint8_t> bytesOf(const std::string& s) {
    return {s.begin(), s.end()};
}

std::vector<uint8_t> patternBytes(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 29 + (i >> 12));
    return v;
}

PvhBootInputs pvh(std::span<const uint8_t> elf, std::string name, std::string cmdline = "",
                  std::vector<PvhModule> modules = {}, uint64_t rsdpAddress = 0) {
    PvhBootInputs in;
    in.elf = elf;
    in.elfName = std::move(name);
    in.cmdline = std::move(cmdline);
    in.modules = std::move(modules);
    in.rsdpAddress = rsdpAddress;
    return in;
}

std::string cString(GuestMemory& memory, uint64_t gpa) {
    std::string s;
    for (uint8_t c; (c = memory.readObject<uint8_t>(gpa)) != 0; ++gpa)
        s.push_back(static_cast<char>(c));
    return s;
}

// --- Finding the entry point ---------------------------------------------------------------

TEST(PvhEntry, ReadsAFourByteNote) {
    auto elf = makeElf({.entry = 0x1000000, .descSize = 4});
    EXPECT_EQ(findPvhEntry(elf, "vmlinux"), 0x1000000u);
}

TEST(PvhEntry, ReadsAnEightByteNote) {
    auto elf = makeElf({.entry = 0x1234568, .descSize = 8});
    EXPECT_EQ(findPvhEntry(elf, "vmlinux"), 0x1234568u);
}

TEST(PvhEntry, SkipsOtherNotesBeforeIt) {
    auto elf = makeElf({.entry = 0x1000010, .leadingGnuNote = true});
    EXPECT_EQ(findPvhEntry(elf, "vmlinux"), 0x1000010u);
}

TEST(PvhEntry, ReadsTheNoteOfAnElf32) {
    auto elf = makeElf({.elf64 = false, .entry = 0x100020});
    ASSERT_EQ(elf[EI_CLASS], ELFCLASS32);
    EXPECT_EQ(findPvhEntry(elf, "multiboot.elf"), 0x100020u);
}

TEST(PvhEntry, IsZeroWithoutThePvhNote) {
    auto elf = makeElf({.pvhNote = false});
    EXPECT_EQ(findPvhEntry(elf, "vmlinux"), 0u);
}

TEST(PvhEntry, RejectsAPvhNoteOfAnotherSize) {
    auto elf = makeElf({.descSize = 2});
    auto e = errorFrom([&] { findPvhEntry(elf, "odd"); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status(), ExitStatus::kUsage);
    EXPECT_TRUE(contains(e->what(), "note has size 2")) << e->what();
}

// --- Loading -----------------------------------------------------------------------------------

TEST(PvhLoad, ReturnsThe32BitEntryAndStartInfo) {
    GuestMemory memory(512 * kMiB);
    auto elf = makeElf({.entry = 0x100040});
    BootEntry entry = loadPvhElf(memory, pvh(elf, "kernel vmlinux"));
    EXPECT_EQ(entry.mode, BootEntry::Mode::kPvh32);
    EXPECT_EQ(entry.entry, 0x100040u);
    EXPECT_EQ(entry.bootInfo, layout::kPvhStartInfo);
}

TEST(PvhLoad, CopiesSegmentsToTheirPhysicalAddressAndZeroFillsBss) {
    for (bool elf64 : {true, false}) {
        SCOPED_TRACE(elf64 ? "ELF64" : "ELF32");
        GuestMemory memory(512 * kMiB);
        ElfSpec spec{.elf64 = elf64, .paddr = 0x200000, .filesz = 0x2345, .memsz = 0x5000};
        // Stale bytes where the bss goes.
        std::vector<uint8_t> junk(0x6000, 0xcc);
        memory.write(0x200000, junk);
        auto elf = makeElf(spec);
        loadPvhElf(memory, pvh(elf, "kernel vmlinux"));
        auto seg = memory.slice(spec.paddr, spec.memsz);
        for (size_t i = 0; i < spec.filesz; ++i)
            ASSERT_EQ(seg[i], segmentByte(i)) << "offset 0x" << std::hex << i;
        for (size_t i = spec.filesz; i < spec.memsz; ++i)
            ASSERT_EQ(seg[i], 0) << "bss offset 0x" << std::hex << i;
        // Only memsz bytes are touched.
        EXPECT_EQ(memory.readObject<uint8_t>(spec.paddr + spec.memsz), 0xcc);
    }
}

TEST(PvhLoad, WritesTheStartInfo) {
    GuestMemory memory(512 * kMiB);
    auto elf = makeElf();
    const std::string cmdline = "console=ttyS0 quiet";
    loadPvhElf(memory, pvh(elf, "k", cmdline, {}, 0xe0040));
    auto info = memory.readObject<HvmStartInfo>(layout::kPvhStartInfo);
    EXPECT_EQ(info.magic, kHvmStartMagic);
    EXPECT_EQ(info.magic, 0x336ec578u);
    EXPECT_EQ(info.version, 1u);
    EXPECT_EQ(info.flags, 0u);
    EXPECT_EQ(info.rsdpPaddr, 0xe0040u);
    EXPECT_EQ(info.cmdlinePaddr, layout::kCmdline);
    EXPECT_EQ(cString(memory, info.cmdlinePaddr), cmdline);
    EXPECT_EQ(info.nrModules, 0u);
    EXPECT_EQ(info.modlistPaddr, 0u);
    EXPECT_EQ(info.reserved, 0u);
}

TEST(PvhLoad, MemoryMapEqualsTheE820Map) {
    for (uint64_t size : {512 * kMiB, 5 * kGiB}) {
        SCOPED_TRACE(size);
        GuestMemory memory(size);
        auto elf = makeElf();
        loadPvhElf(memory, pvh(elf, "k"));
        auto info = memory.readObject<HvmStartInfo>(layout::kPvhStartInfo);
        auto map = buildE820Map(memory);
        EXPECT_EQ(info.memmapPaddr, layout::kPvhMemmap);
        ASSERT_EQ(info.memmapEntries, map.size());
        for (size_t i = 0; i < map.size(); ++i) {
            auto e =
                memory.readObject<HvmMemmapEntry>(info.memmapPaddr + i * sizeof(HvmMemmapEntry));
            EXPECT_EQ(e.addr, map[i].addr) << i;
            EXPECT_EQ(e.size, map[i].size) << i;
            EXPECT_EQ(e.type, map[i].type) << i;
            EXPECT_EQ(e.reserved, 0u) << i;
        }
    }
}

TEST(PvhLoad, PlacesModulesPageAlignedAtTheTopOfLowRam) {
    GuestMemory memory(512 * kMiB);
    auto elf = makeElf();
    auto initrd = patternBytes(3 * kMiB + 5, 0x11);
    auto second = patternBytes(70000, 0x77);
    const std::string cmdline = "root=/dev/vda";
    loadPvhElf(memory, pvh(elf, "k", cmdline, {{initrd, ""}, {second, "second module args"}}));
    auto info = memory.readObject<HvmStartInfo>(layout::kPvhStartInfo);
    ASSERT_EQ(info.nrModules, 2u);
    EXPECT_EQ(info.modlistPaddr, layout::kPvhModlist);
    auto m0 = memory.readObject<HvmModlistEntry>(info.modlistPaddr);
    auto m1 = memory.readObject<HvmModlistEntry>(info.modlistPaddr + sizeof m0);

    EXPECT_EQ(m0.paddr, (memory.lowRamEnd() - initrd.size()) & ~0xfffull);
    EXPECT_EQ(m0.size, initrd.size());
    EXPECT_EQ(m0.cmdlinePaddr, 0u);
    EXPECT_EQ(m1.size, second.size());
    EXPECT_EQ(m1.paddr, (m0.paddr - second.size()) & ~0xfffull);
    for (const auto& [m, bytes] : {std::pair{m0, &initrd}, std::pair{m1, &second}}) {
        EXPECT_EQ(m.paddr % 4096, 0u);
        EXPECT_GE(m.paddr, 0x100000u + 0x5000u);  // above the loaded image
        EXPECT_LE(m.paddr + m.size, memory.lowRamEnd());
        EXPECT_EQ(m.reserved, 0u);
        auto placed = memory.slice(m.paddr, m.size);
        EXPECT_TRUE(std::equal(placed.begin(), placed.end(), bytes->begin(), bytes->end()));
    }
    EXPECT_LE(m1.paddr + m1.size, m0.paddr);  // no overlap
    ASSERT_NE(m1.cmdlinePaddr, 0u);
    EXPECT_EQ(cString(memory, m1.cmdlinePaddr), "second module args");
    // The module's command line does not clobber the kernel's.
    EXPECT_GT(m1.cmdlinePaddr, layout::kCmdline + cmdline.size());
    EXPECT_EQ(cString(memory, info.cmdlinePaddr), cmdline);
}

TEST(PvhLoad, ModulesOfALargeGuestStayBelowTheMmioHole) {
    GuestMemory memory(5 * kGiB);
    auto elf = makeElf();
    auto initrd = patternBytes(kMiB, 3);
    loadPvhElf(memory, pvh(elf, "k", "", {{initrd, ""}}));
    auto m0 = memory.readObject<HvmModlistEntry>(layout::kPvhModlist);
    EXPECT_EQ(m0.paddr, 0xC000'0000u - kMiB);
}

// --- Rejections --------------------------------------------------------------------------------

void expectUsageError(std::span<const uint8_t> elf, const std::string& fragment,
                      uint64_t memorySize = 512 * kMiB) {
    GuestMemory memory(memorySize);
    auto e = errorFrom([&] { loadPvhElf(memory, pvh(elf, "kernel /x/vmlinux")); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status(), ExitStatus::kUsage) << e->what();
    EXPECT_TRUE(contains(e->what(), "kernel /x/vmlinux")) << e->what();
    EXPECT_TRUE(contains(e->what(), fragment)) << e->what();
}

TEST(PvhRejects, FilesThatAreNotElf) {
    expectUsageError(bytesOf("just some text, not an executable at all"), "nor an ELF");
    expectUsageError(bytesOf("\x7f"
                             "EL"),
                     "nor an ELF");
}

TEST(PvhRejects, BigEndianElf) {
    auto elf = makeElf();
    elf[EI_DATA] = ELFDATA2MSB;
    expectUsageError(elf, "not little-endian");
}

TEST(PvhRejects, UnknownElfClassAndTruncatedHeader) {
    auto elf = makeElf();
    elf[EI_CLASS] = 7;
    expectUsageError(elf, "unknown ELF class");
    auto cut = makeElf();
    cut.resize(40);
    expectUsageError(cut, "truncated ELF header");
}

TEST(PvhRejects, NonX86Machines) {
    auto elf = makeElf();
    store<uint16_t>(&elf[offsetof(Elf64_Ehdr, e_machine)], EM_AARCH64);
    expectUsageError(elf, "not an x86 ELF");
}

TEST(PvhRejects, ElfWithoutThePvhNote) {
    expectUsageError(makeElf({.pvhNote = false}), "no PVH entry note");
}

TEST(PvhRejects, NoteNameRunningPastTheSegment) {
    auto elf = makeElf();
    store<uint32_t>(&elf[kNoteOffset], 0xfffffff0u);  // namesz
    expectUsageError(elf, "malformed note");
}

TEST(PvhRejects, NoteDescRunningPastTheSegment) {
    auto elf = makeElf();
    store<uint32_t>(&elf[kNoteOffset + 4], 0x40);  // descsz beyond the note segment
    expectUsageError(elf, "malformed note");
    store<uint32_t>(&elf[kNoteOffset + 4], 0xffffffffu);
    expectUsageError(elf, "malformed note");
}

TEST(PvhRejects, NoteSegmentBeyondTheFile) {
    auto elf = makeElf();
    store<uint64_t>(&elf[kNotePhdr64 + offsetof(Elf64_Phdr, p_offset)], elf.size() - 4);
    expectUsageError(elf, "beyond end of file");
    auto huge = makeElf();
    store<uint64_t>(&huge[kNotePhdr64 + offsetof(Elf64_Phdr, p_offset)], UINT64_MAX - 8);
    expectUsageError(huge, "beyond end of file");
}

TEST(PvhRejects, SegmentBelowOneMiB) {
    expectUsageError(makeElf({.paddr = 0x80000, .entry = 0x80000}), "0x80000 is outside");
    // Ending just inside 1 MiB.
    expectUsageError(makeElf({.paddr = 0xfb000, .filesz = 0x1000, .memsz = 0x5000}),
                     "outside usable guest RAM");
}

TEST(PvhRejects, SegmentBeyondRam) {
    expectUsageError(makeElf({.paddr = 0x100000, .memsz = 600 * kMiB}), "outside usable guest RAM");
    expectUsageError(makeElf({.paddr = 512 * kMiB - 0x1000}), "outside usable guest RAM");
    // In the MMIO hole of a large guest.
    expectUsageError(makeElf({.paddr = 0xC000'0000u}), "0xc0000000 is outside", 5 * kGiB);
    // paddr + memsz wraps around.
    expectUsageError(makeElf({.paddr = 0x100000, .memsz = UINT64_MAX - 0xffff}),
                     "outside usable guest RAM");
}

TEST(PvhRejects, FileSizeLargerThanMemorySize) {
    expectUsageError(makeElf({.filesz = 0x3000, .memsz = 0x2000}), "file size exceeds memory size");
}

TEST(PvhRejects, SegmentDataBeyondTheFile) {
    auto elf = makeElf();
    store<uint64_t>(&elf[kLoadPhdr64 + offsetof(Elf64_Phdr, p_filesz)], elf.size());
    store<uint64_t>(&elf[kLoadPhdr64 + offsetof(Elf64_Phdr, p_memsz)], elf.size());
    expectUsageError(elf, "beyond end of file");
}

TEST(PvhRejects, ProgramHeadersBeyondTheFile) {
    auto elf = makeElf();
    store<uint64_t>(&elf[kPhoff64], elf.size() - sizeof(Elf64_Phdr));
    expectUsageError(elf, "program headers beyond end of file");
    store<uint64_t>(&elf[kPhoff64], elf.size() + 1);
    expectUsageError(elf, "program headers beyond end of file");
    // e_phoff + e_phnum * e_phentsize overflows.
    store<uint64_t>(&elf[kPhoff64], UINT64_MAX - 8);
    expectUsageError(elf, "program headers beyond end of file");
}

TEST(PvhRejects, TooManyProgramHeaders) {
    auto elf = makeElf();
    elf.resize(elf.size() + 70 * sizeof(Elf64_Phdr), 0);
    store<uint16_t>(&elf[kPhnum64], 65);
    expectUsageError(elf, "bad program header table");
    store<uint16_t>(&elf[kPhnum64], 0);
    expectUsageError(elf, "bad program header table");
}

TEST(PvhRejects, WrongProgramHeaderEntrySize) {
    auto elf = makeElf();
    store<uint16_t>(&elf[offsetof(Elf64_Ehdr, e_phentsize)], sizeof(Elf32_Phdr));
    expectUsageError(elf, "bad program header table");
}

TEST(PvhRejects, EntryAboveFourGiB) {
    expectUsageError(makeElf({.entry = 0x1'0000'1000ull, .descSize = 8}), "above 4 GiB");
}

TEST(PvhRejects, ModulesThatDoNotFitAboveTheImage) {
    GuestMemory memory(16 * kMiB);
    auto elf = makeElf({.paddr = 0x100000, .memsz = 8 * kMiB});
    auto big = patternBytes(8 * kMiB, 1);
    auto e = errorFrom([&] { loadPvhElf(memory, pvh(elf, "k", "", {{big, ""}})); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status(), ExitStatus::kUsage);
    EXPECT_TRUE(contains(e->what(), "module")) << e->what();
    // 7 MiB fits exactly between the image's end (9 MiB) and 16 MiB.
    auto exact = patternBytes(7 * kMiB, 1);
    EXPECT_NO_THROW(loadPvhElf(memory, pvh(elf, "k", "", {{exact, ""}})));
    EXPECT_EQ(memory.readObject<HvmModlistEntry>(layout::kPvhModlist).paddr, 9 * kMiB);
}

TEST(PvhRejects, CommandLineLongerThanTheBuffer) {
    GuestMemory memory(64 * kMiB);
    auto elf = makeElf();
    auto e = errorFrom([&] { loadPvhElf(memory, pvh(elf, "k", std::string(0x10000, 'a'))); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status(), ExitStatus::kUsage);
    EXPECT_NO_THROW(loadPvhElf(memory, pvh(elf, "k", std::string(0xffff, 'a'))));
}

TEST(PvhRejects, TooManyModules) {
    GuestMemory memory(64 * kMiB);
    auto elf = makeElf();
    std::vector<uint8_t> tiny{1};
    std::vector<PvhModule> modules(65, PvhModule{tiny, ""});
    auto e = errorFrom([&] { loadPvhElf(memory, pvh(elf, "k", "", modules)); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status(), ExitStatus::kUsage);
    modules.resize(64);
    EXPECT_NO_THROW(loadPvhElf(memory, pvh(elf, "k", "", modules)));
}

}  // namespace
}  // namespace ingot::vmm
