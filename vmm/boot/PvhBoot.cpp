#include "PvhBoot.h"

#include <elf.h>

#include <algorithm>
#include <cstring>

#include "E820.h"
#include "X86Layout.h"
#include "ingot/core/Error.h"

namespace ingot::vmm {

namespace {

constexpr uint32_t kXenElfNotePhys32Entry = 18;

Error elfError(const std::string& name, const std::string& why) {
    return Error(name + ": " + why, ExitStatus::kUsage);
}

// A uniform view of ELF32 and ELF64 program headers.
struct Segment {
    uint32_t type;
    uint64_t offset, paddr, filesz, memsz;
};

std::vector<Segment> programHeaders(std::span<const uint8_t> elf, const std::string& name) {
    if (elf.size() < EI_NIDENT || std::memcmp(elf.data(), ELFMAG, SELFMAG) != 0)
        throw elfError(name, "neither a bzImage nor an ELF file");
    if (elf[EI_DATA] != ELFDATA2LSB) throw elfError(name, "not little-endian");
    std::vector<Segment> out;
    auto readPhdrs = [&](auto ehdrTag, auto phdrTag) {
        using Ehdr = decltype(ehdrTag);
        using Phdr = decltype(phdrTag);
        if (elf.size() < sizeof(Ehdr)) throw elfError(name, "truncated ELF header");
        Ehdr eh;
        std::memcpy(&eh, elf.data(), sizeof eh);
        if (eh.e_machine != EM_X86_64 && eh.e_machine != EM_386)
            throw elfError(name, "not an x86 ELF (e_machine " + std::to_string(eh.e_machine) + ")");
        if (eh.e_phentsize != sizeof(Phdr) || eh.e_phnum == 0 || eh.e_phnum > 64)
            throw elfError(name, "bad program header table");
        uint64_t end = static_cast<uint64_t>(eh.e_phoff) + uint64_t{eh.e_phnum} * sizeof(Phdr);
        if (eh.e_phoff > elf.size() || end > elf.size())
            throw elfError(name, "program headers beyond end of file");
        for (unsigned i = 0; i < eh.e_phnum; ++i) {
            Phdr ph;
            std::memcpy(&ph, elf.data() + eh.e_phoff + i * sizeof(Phdr), sizeof ph);
            out.push_back({ph.p_type, ph.p_offset, ph.p_paddr, ph.p_filesz, ph.p_memsz});
        }
    };
    if (elf[EI_CLASS] == ELFCLASS64)
        readPhdrs(Elf64_Ehdr{}, Elf64_Phdr{});
    else if (elf[EI_CLASS] == ELFCLASS32)
        readPhdrs(Elf32_Ehdr{}, Elf32_Phdr{});
    else
        throw elfError(name, "unknown ELF class");
    for (const auto& s : out) {
        if (s.offset > elf.size() || s.filesz > elf.size() - s.offset)
            throw elfError(name, "segment data beyond end of file");
        if (s.filesz > s.memsz && s.type == PT_LOAD)
            throw elfError(name, "segment file size exceeds memory size");
    }
    return out;
}

}  // namespace

uint64_t findPvhEntry(std::span<const uint8_t> elf, const std::string& name) {
    for (const auto& seg : programHeaders(elf, name)) {
        if (seg.type != PT_NOTE) continue;
        // Notes are 4-byte aligned records: namesz, descsz, type, name, desc.
        uint64_t at = seg.offset, end = seg.offset + seg.filesz;
        while (end - at >= 12) {
            uint32_t namesz, descsz, type;
            std::memcpy(&namesz, elf.data() + at, 4);
            std::memcpy(&descsz, elf.data() + at + 4, 4);
            std::memcpy(&type, elf.data() + at + 8, 4);
            uint64_t nameAt = at + 12;
            uint64_t descAt = nameAt + ((uint64_t{namesz} + 3) & ~3ull);
            uint64_t next = descAt + ((uint64_t{descsz} + 3) & ~3ull);
            if (next > end) throw elfError(name, "malformed note");
            if (type == kXenElfNotePhys32Entry && namesz == 4 &&
                std::memcmp(elf.data() + nameAt, "Xen", 4) == 0) {
                if (descsz == 4) {
                    uint32_t e;
                    std::memcpy(&e, elf.data() + descAt, 4);
                    return e;
                }
                if (descsz == 8) {
                    uint64_t e;
                    std::memcpy(&e, elf.data() + descAt, 8);
                    return e;
                }
                throw elfError(name, "PVH entry note has size " + std::to_string(descsz));
            }
            at = next;
        }
    }
    return 0;
}

BootEntry loadPvhElf(GuestMemory& memory, const PvhBootInputs& in) {
    uint64_t entry = findPvhEntry(in.elf, in.elfName);
    if (entry == 0)
        throw elfError(in.elfName, "has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
    if (entry >= 0x1'0000'0000ull) throw elfError(in.elfName, "PVH entry above 4 GiB");
    uint64_t loadedEnd = layout::kHighMemory;
    for (const auto& seg : programHeaders(in.elf, in.elfName)) {
        if (seg.type != PT_LOAD || seg.memsz == 0) continue;
        // Segments must stay clear of the monitor's boot structures below 1 MiB.
        if (seg.paddr < layout::kHighMemory || memory.trySlice(seg.paddr, seg.memsz).empty())
            throw elfError(in.elfName, "segment at 0x" + [&] {
                char b[32];
                std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(seg.paddr));
                return std::string(b);
            }() + " is outside usable guest RAM");
        auto dst = memory.slice(seg.paddr, seg.memsz);
        std::memcpy(dst.data(), in.elf.data() + seg.offset, seg.filesz);
        std::memset(dst.data() + seg.filesz, 0, seg.memsz - seg.filesz);
        loadedEnd = std::max(loadedEnd, seg.paddr + seg.memsz);
    }

    if (in.cmdline.size() + 1 > layout::kCmdlineMax)
        throw Error("command line too long (" + std::to_string(in.cmdline.size()) + " bytes)",
                    ExitStatus::kUsage);
    memory.write(layout::kCmdline, {reinterpret_cast<const uint8_t*>(in.cmdline.c_str()),
                                    in.cmdline.size() + 1});

    // Modules go at the top of low RAM, downward, page aligned; their command lines right
    // after the main one.
    constexpr size_t kMaxModules = (layout::kZeroPage - layout::kPvhModlist) / sizeof(HvmModlistEntry);
    if (in.modules.size() > kMaxModules) throw Error("too many PVH modules", ExitStatus::kUsage);
    uint64_t top = memory.lowRamEnd();
    uint64_t cmdAt = layout::kCmdline + ((in.cmdline.size() + 1 + 15) & ~15ull);
    std::vector<HvmModlistEntry> modlist;
    for (const auto& m : in.modules) {
        if (m.bytes.size() > top || ((top - m.bytes.size()) & ~0xfffull) < loadedEnd)
            throw Error("guest memory too small for a " + std::to_string(m.bytes.size() >> 20) +
                            " MiB module above the image",
                        ExitStatus::kUsage);
        top = (top - m.bytes.size()) & ~0xfffull;
        memory.write(top, m.bytes);
        HvmModlistEntry e{top, m.bytes.size(), 0, 0};
        if (!m.cmdline.empty()) {
            if (cmdAt + m.cmdline.size() + 1 > layout::kCmdline + layout::kCmdlineMax)
                throw Error("module command lines too long", ExitStatus::kUsage);
            memory.write(cmdAt, {reinterpret_cast<const uint8_t*>(m.cmdline.c_str()),
                                 m.cmdline.size() + 1});
            e.cmdlinePaddr = cmdAt;
            cmdAt += (m.cmdline.size() + 1 + 15) & ~15ull;
        }
        modlist.push_back(e);
    }
    for (size_t i = 0; i < modlist.size(); ++i)
        memory.writeObject(layout::kPvhModlist + i * sizeof(HvmModlistEntry), modlist[i]);

    auto map = buildE820Map(memory);
    constexpr size_t kMaxMemmap = (layout::kPvhModlist - layout::kPvhMemmap) / sizeof(HvmMemmapEntry);
    if (map.size() > kMaxMemmap) throw Error("memory map has too many entries");
    for (size_t i = 0; i < map.size(); ++i)
        memory.writeObject(layout::kPvhMemmap + i * sizeof(HvmMemmapEntry),
                           HvmMemmapEntry{map[i].addr, map[i].size, map[i].type, 0});

    HvmStartInfo info{};
    info.magic = kHvmStartMagic;
    info.version = 1;
    info.nrModules = static_cast<uint32_t>(modlist.size());
    info.modlistPaddr = modlist.empty() ? 0 : layout::kPvhModlist;
    info.cmdlinePaddr = layout::kCmdline;
    info.rsdpPaddr = in.rsdpAddress;
    info.memmapPaddr = layout::kPvhMemmap;
    info.memmapEntries = static_cast<uint32_t>(map.size());
    memory.writeObject(layout::kPvhStartInfo, info);
    return {BootEntry::Mode::kPvh32, entry, layout::kPvhStartInfo};
}

}  // namespace ingot::vmm
