// virtio-rng against a driver's chains in guest memory: buffers filled with random bytes, the
// per-request cap, the rate limit, and readable buffers ignored.
#include "devices/virtio/VirtioRng.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "VirtioTestSupport.h"
#include "devices/virtio/VirtioSpec.h"

namespace ingot::vmm::virtio {
namespace {

using test::TestRing;

class VirtioRngTest : public ::testing::Test {
protected:
    VirtQueue queue() {
        return VirtQueue(memory, ring.layout(), kFeatureVersion1 | kFeatureIndirectDesc, 0, log);
    }
    // Serves everything available; returns the used lengths in order.
    std::vector<uint32_t> serve(VirtioRng& rng) {
        auto q = queue();
        rng.processQueue(0, q);
        std::vector<uint32_t> lengths;
        for (uint16_t i = 0; i < ring.usedIdx(); ++i) lengths.push_back(ring.used(i).len);
        return lengths;
    }
    std::vector<uint8_t> bytesAt(uint64_t gpa, size_t n) {
        auto bytes = memory.slice(gpa, n);
        return std::vector<uint8_t>(bytes.begin(), bytes.end());
    }

    GuestMemory memory{16ull << 20};
    TestRing ring{memory, 16};
    RateLimitedLog log{"test-rng", std::chrono::nanoseconds(0)};
};

TEST_F(VirtioRngTest, IsTheEntropyDeviceWithOneQueue) {
    VirtioRng rng("virtio-rng");
    EXPECT_EQ(rng.deviceType(), 4u);
    EXPECT_EQ(rng.queueCount(), 1u);
    EXPECT_TRUE(rng.offeredFeatures() & kFeatureVersion1);
}

TEST_F(VirtioRngTest, FillsWritableBuffersWithVariedBytes) {
    VirtioRng rng("virtio-rng");
    ring.publish(ring.addChain({{0x100000, 1000, true}, {0x200000, 3000, true}}));
    auto used = serve(rng);
    ASSERT_EQ(used.size(), 1u);
    EXPECT_EQ(used[0], 4000u);
    auto a = bytesAt(0x100000, 1000), b = bytesAt(0x200000, 3000);
    std::set<uint8_t> distinct(a.begin(), a.end());
    distinct.insert(b.begin(), b.end());
    EXPECT_GE(distinct.size(), 240u);  // 4000 random bytes take almost every value
    EXPECT_EQ(rng.bytesServed(), 4000u);
}

TEST_F(VirtioRngTest, OneRequestGetsAtMostTheCap) {
    VirtioRng rng("virtio-rng", 10 << 20);
    ring.publish(ring.addChain({{0x100000, 1 << 20, true}}));
    auto used = serve(rng);
    ASSERT_EQ(used.size(), 1u);
    EXPECT_EQ(used[0], VirtioRng::kMaxBytesPerRequest);
}

TEST_F(VirtioRngTest, TheRateLimitAnswersShortThenRefills) {
    // A fake clock: at 8 KiB/s a real one refills a byte every 122 us, which a loaded host
    // spends between two requests.
    auto now = TokenBucket::Clock::time_point{} + std::chrono::hours(1);
    VirtioRng rng("virtio-rng", 8192, [&now] { return now; });  // one second of burst: 8 KiB
    auto q = queue();
    for (int i = 0; i < 3; ++i) ring.publish(ring.addChain({{0x100000 + i * 0x10000ull, 4096, true}}));
    rng.processQueue(0, q);
    ASSERT_EQ(ring.usedIdx(), 3u);
    EXPECT_EQ(ring.used(0).len + ring.used(1).len + ring.used(2).len, 8192u);  // the burst only
    EXPECT_EQ(ring.used(2).len, 0u);
    now += std::chrono::milliseconds(100);
    ring.publish(ring.addChain({{0x100000, 8192, true}}));
    rng.processQueue(0, q);
    ASSERT_EQ(ring.usedIdx(), 4u);
    uint32_t later = ring.used(3).len;
    EXPECT_EQ(later, 819u);  // tokens come back with time, at the rate: a tenth of a second's
}

TEST_F(VirtioRngTest, ReadableBuffersAreIgnoredAndReported) {
    VirtioRng rng("virtio-rng");
    std::vector<std::string> lines;
    rng.log().setSink([&](const std::string& line) { lines.push_back(line); });
    ring.publish(ring.addChain({{0x100000, 64, false}, {0x200000, 64, true}}));
    auto used = serve(rng);
    ASSERT_EQ(used.size(), 1u);
    EXPECT_EQ(used[0], 64u);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("device-readable"), std::string::npos) << lines[0];
}

}  // namespace
}  // namespace ingot::vmm::virtio
