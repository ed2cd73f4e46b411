#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "GuestMemory.h"
#include "boot/CpuSetup.h"
#include "boot/X86Layout.h"

namespace ingot::vmm {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kPresent = 1ull << 0;
constexpr uint64_t kWritable = 1ull << 1;
constexpr uint64_t kHuge = 1ull << 7;
constexpr uint64_t kAddressMask = 0x000f'ffff'ffff'f000ull;

struct Translation {
    uint64_t physical;
    uint64_t pdEntry;
};

// Walks 4-level tables from kPml4 the way the MMU does, expecting a 2 MiB page at the end.
std::optional<Translation> translate(GuestMemory& memory, uint64_t va) {
    uint64_t pml4e = memory.readObject<uint64_t>(layout::kPml4 + ((va >> 39) & 511) * 8);
    if (!(pml4e & kPresent)) return std::nullopt;
    uint64_t pdpte = memory.readObject<uint64_t>((pml4e & kAddressMask) + ((va >> 30) & 511) * 8);
    if (!(pdpte & kPresent) || (pdpte & kHuge)) return std::nullopt;
    uint64_t pde = memory.readObject<uint64_t>((pdpte & kAddressMask) + ((va >> 21) & 511) * 8);
    if (!(pde & kPresent) || !(pde & kHuge)) return std::nullopt;
    return Translation{(pde & 0x000f'ffff'ffe0'0000ull) | (va & 0x1f'ffff), pde};
}

TEST(IdentityPageTables, MapSampleAddressesToThemselves) {
    GuestMemory memory(64 * kMiB);
    writeIdentityPageTables(memory);
    for (uint64_t va : {uint64_t{0}, uint64_t{0x1234567}, 3 * kGiB + 5, 4 * kGiB - 1,
                        uint64_t{0x100000}, uint64_t{0xfee00000}}) {
        SCOPED_TRACE(va);
        auto t = translate(memory, va);
        ASSERT_TRUE(t);
        EXPECT_EQ(t->physical, va);
        EXPECT_EQ(t->pdEntry & (kPresent | kWritable | kHuge), kPresent | kWritable | kHuge);
    }
}

TEST(IdentityPageTables, MapEveryTwoMiBPageBelowFourGiB) {
    GuestMemory memory(64 * kMiB);
    writeIdentityPageTables(memory);
    for (uint64_t va = 0; va < 4 * kGiB; va += 2 * kMiB) {
        auto t = translate(memory, va + 0x1ff000);
        ASSERT_TRUE(t) << std::hex << va;
        ASSERT_EQ(t->physical, va + 0x1ff000) << std::hex << va;
    }
}

TEST(IdentityPageTables, LeaveEverythingAboveFourGiBUnmapped) {
    GuestMemory memory(64 * kMiB);
    // Stale bytes in the PML4 must not survive.
    std::vector<uint8_t> junk(4096, 0xff);
    memory.write(layout::kPml4, junk);
    writeIdentityPageTables(memory);
    for (uint64_t va : {4 * kGiB, 5 * kGiB + 7, 512 * kGiB, uint64_t{0xffff'8000'0000'0000},
                        uint64_t{0xffff'ffff'8100'0000}})
        EXPECT_FALSE(translate(memory, va)) << std::hex << va;
}

TEST(IdentityPageTables, UseTheDocumentedTableAddresses) {
    GuestMemory memory(64 * kMiB);
    writeIdentityPageTables(memory);
    EXPECT_EQ(memory.readObject<uint64_t>(layout::kPml4), layout::kPdpt | kPresent | kWritable);
    for (uint64_t d = 0; d < 4; ++d)
        EXPECT_EQ(memory.readObject<uint64_t>(layout::kPdpt + d * 8),
                  (layout::kPageDirectories + d * 0x1000) | kPresent | kWritable);
    // The tables end before the command line and below the EBDA.
    EXPECT_LE(layout::kPageDirectories + 4 * 0x1000, layout::kCmdline);
}

}  // namespace
}  // namespace ingot::vmm
