#include <gtest/gtest.h>

#include "MemoryMap.h"

using ingot::fw::kE820Ram;
using ingot::fw::MemoryMap;

namespace {

MemoryMap typicalMap() {
    MemoryMap m;
    EXPECT_TRUE(m.add(0, 0x9fc00, kE820Ram));
    EXPECT_TRUE(m.add(0x9fc00, 0x400, 2));
    EXPECT_TRUE(m.add(0x100000, 0x1000'0000 - 0x100000, kE820Ram));  // to 256 MiB
    return m;
}

}  // namespace

TEST(MemoryMap, AllocateTopTakesTheHighestAlignedFit) {
    auto m = typicalMap();
    uint64_t at = 0;
    ASSERT_TRUE(m.allocate_top(0x3000, 0x1000, UINT64_MAX, &at));
    EXPECT_EQ(at, 0x1000'0000u - 0x3000);
    uint64_t next = 0;
    ASSERT_TRUE(m.allocate_top(0x1000, 0x1000, UINT64_MAX, &next));
    EXPECT_EQ(next, at - 0x1000) << "the second allocation goes just below the first";
}

TEST(MemoryMap, AllocationsNeverOverlapReservationsOrLeaveRam) {
    auto m = typicalMap();
    ASSERT_TRUE(m.reserve(0x1000'0000 - 0x10'0000, 0x10'0000));  // top MiB taken
    uint64_t at = 0;
    ASSERT_TRUE(m.allocate_top(0x20'0000, 0x20'0000, UINT64_MAX, &at));
    EXPECT_LE(at + 0x20'0000, 0x1000'0000u - 0x10'0000);
    EXPECT_EQ(at % 0x20'0000, 0u);
    EXPECT_FALSE(m.is_free(at, 1));
    // Reserved (type 2) memory is never RAM, and nothing spans two entries.
    EXPECT_FALSE(m.is_ram(0x9fc00, 0x10));
    EXPECT_FALSE(m.is_ram(0x9f000, 0x2000));
}

TEST(MemoryMap, LimitAndSizeAreRespected) {
    auto m = typicalMap();
    uint64_t at = 0;
    ASSERT_TRUE(m.allocate_top(0x1000, 0x1000, 0x800'0000, &at));
    EXPECT_LE(at + 0x1000, 0x800'0000u);
    EXPECT_FALSE(m.allocate_top(0x2000'0000, 0x1000, UINT64_MAX, &at)) << "bigger than RAM";
    EXPECT_FALSE(m.allocate_top(0x1000, 3, UINT64_MAX, &at)) << "alignment not a power of two";
    EXPECT_FALSE(m.allocate_top(0, 0x1000, UINT64_MAX, &at));
}

TEST(MemoryMap, AllocateAtChecksEverything) {
    auto m = typicalMap();
    EXPECT_TRUE(m.allocate_at(0x100'0000, 0x100'0000));
    EXPECT_FALSE(m.allocate_at(0x180'0000, 0x1000)) << "already handed out";
    EXPECT_FALSE(m.allocate_at(0xfff'f000, 0x2000)) << "runs past RAM";
    EXPECT_FALSE(m.allocate_at(UINT64_MAX - 0xfff, 0x2000)) << "wraps";
}

TEST(MemoryMap, TablesAreBounded) {
    MemoryMap m;
    for (size_t i = 0; i < MemoryMap::kMaxEntries; ++i) ASSERT_TRUE(m.add(i * 0x1000, 0x1000, kE820Ram));
    EXPECT_FALSE(m.add(0x1000'0000, 0x1000, kE820Ram));
    EXPECT_FALSE(MemoryMap().add(UINT64_MAX - 1, 0x10, kE820Ram));
}
