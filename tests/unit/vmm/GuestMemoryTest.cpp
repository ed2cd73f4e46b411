#include "GuestMemory.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "VmmTestSupport.h"
#include "ingot/core/Error.h"

namespace ingot::vmm {
namespace {

using test::errorFrom;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

TEST(GuestMemory, RejectsSizesOutsideTheSupportedRangeAsUsageErrors) {
    for (uint64_t bytes : {uint64_t{0}, 16 * kMiB - 4096, 16 * kMiB + 1, 512 * kMiB + 2048,
                           (uint64_t{1} << 40) + 4096}) {
        SCOPED_TRACE(bytes);
        auto e = errorFrom([&] { GuestMemory m(bytes); });
        ASSERT_TRUE(e);
        EXPECT_EQ(e->status(), ExitStatus::kUsage);
        EXPECT_TRUE(test::contains(e->what(), "out of range")) << e->what();
    }
}

TEST(GuestMemory, AcceptsTheSmallestSize) {
    GuestMemory m(16 * kMiB);
    EXPECT_EQ(m.size(), 16 * kMiB);
    ASSERT_EQ(m.regions().size(), 1u);
    EXPECT_EQ(m.lowRamEnd(), 16 * kMiB);
}

TEST(GuestMemory, SmallGuestHasOneLowRegion) {
    GuestMemory m(512 * kMiB);
    ASSERT_EQ(m.regions().size(), 1u);
    EXPECT_EQ(m.regions()[0].gpa, 0u);
    EXPECT_EQ(m.regions()[0].size, 512 * kMiB);
    EXPECT_EQ(m.lowRamEnd(), 512 * kMiB);
}

TEST(GuestMemory, ExactlyThreeGiBFitsBelowTheHole) {
    GuestMemory m(3 * kGiB);
    ASSERT_EQ(m.regions().size(), 1u);
    EXPECT_EQ(m.lowRamEnd(), GuestMemory::kMmioHoleStart);
}

TEST(GuestMemory, LargeGuestSplitsAroundTheMmioHole) {
    for (uint64_t bytes : {4 * kGiB, 5 * kGiB}) {
        SCOPED_TRACE(bytes);
        GuestMemory m(bytes);
        ASSERT_EQ(m.regions().size(), 2u);
        const auto& low = m.regions()[0];
        const auto& high = m.regions()[1];
        EXPECT_EQ(low.gpa, 0u);
        EXPECT_EQ(low.size, 0xC000'0000u);
        EXPECT_EQ(high.gpa, 4 * kGiB);
        EXPECT_EQ(high.size, bytes - 0xC000'0000u);
        EXPECT_EQ(high.host, low.host + low.size);
        EXPECT_EQ(m.lowRamEnd(), 0xC000'0000u);
    }
}

TEST(GuestMemory, WritesAreVisibleThroughSlicesAndReads) {
    GuestMemory m(5 * kGiB);
    std::vector<uint8_t> bytes{1, 2, 3, 4};
    m.write(0x1000, bytes);
    EXPECT_EQ(m.slice(0x1000, 4)[2], 3);
    m.writeObject<uint64_t>(4 * kGiB + 8, 0x1122334455667788);
    EXPECT_EQ(m.readObject<uint64_t>(4 * kGiB + 8), 0x1122334455667788u);
    // The high region starts right after the low one in the host mapping.
    EXPECT_EQ(m.slice(4 * kGiB, 1).data(), m.regions()[0].host + 0xC000'0000u);
}

TEST(GuestMemory, SlicesUpToTheEndOfARegion) {
    GuestMemory m(5 * kGiB);
    EXPECT_EQ(m.trySlice(0xC000'0000u - 8, 8).size(), 8u);
    EXPECT_EQ(m.trySlice(5 * kGiB + kGiB - 8, 8).size(), 8u);
    EXPECT_NO_THROW(m.slice(0, 0xC000'0000u));
}

TEST(GuestMemory, RefusesRangesCrossingOrInsideTheHole) {
    GuestMemory m(5 * kGiB);
    // Straddles the end of low RAM.
    EXPECT_TRUE(m.trySlice(0xC000'0000u - 4, 8).empty());
    EXPECT_THROW(m.slice(0xC000'0000u - 4, 8), Error);
    // Inside the hole.
    EXPECT_TRUE(m.trySlice(0xD000'0000u, 4).empty());
    EXPECT_THROW(m.slice(0xFEC0'0000u, 4), Error);
    // Starts in the hole and runs into high RAM.
    EXPECT_TRUE(m.trySlice(4 * kGiB - 4, 8).empty());
    // Covers all of RAM as if it were contiguous.
    EXPECT_TRUE(m.trySlice(0, 5 * kGiB).empty());
}

TEST(GuestMemory, RefusesRangesPastTheEnd) {
    GuestMemory m(512 * kMiB);
    EXPECT_TRUE(m.trySlice(512 * kMiB - 4, 8).empty());
    EXPECT_TRUE(m.trySlice(512 * kMiB, 1).empty());
    EXPECT_TRUE(m.trySlice(0, 512 * kMiB + 1).empty());
    EXPECT_THROW(m.slice(512 * kMiB, 1), Error);
    EXPECT_THROW(m.readObject<uint32_t>(512 * kMiB - 2), Error);

    GuestMemory big(5 * kGiB);
    EXPECT_TRUE(big.trySlice(6 * kGiB - 4, 8).empty());
    EXPECT_TRUE(big.trySlice(6 * kGiB, 1).empty());
}

TEST(GuestMemory, RefusesRangesWhoseEndOverflows) {
    GuestMemory m(5 * kGiB);
    EXPECT_TRUE(m.trySlice(UINT64_MAX - 1, 4).empty());
    EXPECT_TRUE(m.trySlice(UINT64_MAX, 1).empty());
    EXPECT_TRUE(m.trySlice(0x1000, UINT64_MAX).empty());
    EXPECT_TRUE(m.trySlice(4 * kGiB + 0x1000, UINT64_MAX - 0xfff).empty());
    EXPECT_THROW(m.slice(UINT64_MAX - 1, 4), Error);
}

TEST(GuestMemory, SliceErrorNamesTheRange) {
    GuestMemory m(16 * kMiB);
    auto e = test::errorFrom([&] { m.slice(0x2000000, 0x10); });
    ASSERT_TRUE(e);
    EXPECT_TRUE(test::contains(e->what(), "0x2000000+0x10")) << e->what();
}

}  // namespace
}  // namespace ingot::vmm
