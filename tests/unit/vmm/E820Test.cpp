#include "boot/E820.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "GuestMemory.h"
#include "boot/X86Layout.h"

namespace ingot::vmm {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

bool hasEntry(const std::vector<E820Entry>& map, uint64_t addr, uint64_t size, uint32_t type) {
    for (const auto& e : map)
        if (e.addr == addr && e.size == size && e.type == type) return true;
    return false;
}

uint64_t total(const std::vector<E820Entry>& map, uint32_t type) {
    uint64_t sum = 0;
    for (const auto& e : map)
        if (e.type == type) sum += e.size;
    return sum;
}

class E820Map : public ::testing::TestWithParam<uint64_t> {};

TEST_P(E820Map, IsSortedAndNonOverlapping) {
    GuestMemory memory(GetParam());
    auto map = buildE820Map(memory);
    ASSERT_FALSE(map.empty());
    for (size_t i = 0; i < map.size(); ++i) {
        EXPECT_GT(map[i].size, 0u) << "entry " << i;
        if (i > 0) {
            EXPECT_LE(map[i - 1].addr + map[i - 1].size, map[i].addr) << "entry " << i;
        }
    }
}

TEST_P(E820Map, DescribesTheLegacyAreaBelowOneMiB) {
    GuestMemory memory(GetParam());
    auto map = buildE820Map(memory);
    EXPECT_TRUE(hasEntry(map, 0, 0x9fc00, kE820Ram));
    EXPECT_TRUE(hasEntry(map, 0x9fc00, 0xa0000 - 0x9fc00, kE820Reserved));
    EXPECT_TRUE(hasEntry(map, 0xe0000, 0x100000 - 0xe0000, kE820Reserved));
    // The boot structures the monitor writes lie in the RAM below the EBDA.
    EXPECT_LT(layout::kPageDirectories + 4 * 0x1000, 0x9fc00u);
    EXPECT_LT(layout::kCmdline + layout::kCmdlineMax, 0x9fc00u);
}

TEST_P(E820Map, HasRamFromOneMiBToTheEndOfLowRam) {
    GuestMemory memory(GetParam());
    auto map = buildE820Map(memory);
    EXPECT_TRUE(hasEntry(map, 0x100000, memory.lowRamEnd() - 0x100000, kE820Ram));
}

TEST_P(E820Map, AccountsForAllGuestMemory) {
    GuestMemory memory(GetParam());
    auto map = buildE820Map(memory);
    // Only [0x9fc00, 1 MiB) of guest RAM is not usable RAM: the EBDA, the VGA hole and the
    // BIOS area (reserved or absent from the map).
    EXPECT_EQ(total(map, kE820Ram), memory.size() - (0x100000 - 0x9fc00));
    EXPECT_EQ(total(map, kE820Reserved), 0x400u + 0x20000u);
}

INSTANTIATE_TEST_SUITE_P(Sizes, E820Map, ::testing::Values(512 * kMiB, 5 * kGiB),
                         [](const ::testing::TestParamInfo<uint64_t>& info) {
                             return std::to_string(info.param >> 20) + "MiB";
                         });

TEST(E820Map, SmallGuestHasNoHighRam) {
    GuestMemory memory(512 * kMiB);
    auto map = buildE820Map(memory);
    ASSERT_EQ(map.size(), 4u);
    EXPECT_EQ(map.back().addr + map.back().size, 512 * kMiB);
}

TEST(E820Map, LargeGuestHasHighRamFromFourGiB) {
    GuestMemory memory(5 * kGiB);
    auto map = buildE820Map(memory);
    ASSERT_EQ(map.size(), 5u);
    EXPECT_TRUE(hasEntry(map, 0x100000, 0xC000'0000u - 0x100000, kE820Ram));
    EXPECT_TRUE(hasEntry(map, 4 * kGiB, 2 * kGiB, kE820Ram));
    // Nothing is described in the MMIO hole.
    for (const auto& e : map)
        EXPECT_FALSE(e.addr < 4 * kGiB && e.addr + e.size > 0xC000'0000u) << std::hex << e.addr;
}

}  // namespace
}  // namespace ingot::vmm
