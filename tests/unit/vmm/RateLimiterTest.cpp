// The token bucket and the two-bucket rate limiter, driven by a fake clock: refill arithmetic,
// all-or-nothing payment across both buckets, requests larger than a bucket, and the waits the
// worker's timer is set to. Nothing here sleeps or reads the real clock.
#include "devices/virtio/RateLimiter.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>

namespace ingot::vmm::virtio {
namespace {

using namespace std::chrono_literals;
using Clock = TokenBucket::Clock;

// An arbitrary start, far from the epoch, so nothing depends on time 0.
const Clock::time_point kT0 = Clock::time_point(1000s);

TEST(RateLimiterTokenBucket, StartsFullAndPaysUpToItsSize) {
    TokenBucket b(1000, 1s);
    EXPECT_EQ(b.budget(kT0), 1000);
    EXPECT_TRUE(b.consume(600, kT0));
    EXPECT_TRUE(b.consume(400, kT0));
    EXPECT_FALSE(b.consume(1, kT0));
    EXPECT_EQ(b.budget(kT0), 0);
}

TEST(RateLimiterTokenBucket, RefillsAtSizePerRefillTime) {
    TokenBucket b(1000, 1s);
    ASSERT_TRUE(b.consume(1000, kT0));
    EXPECT_EQ(b.budget(kT0 + 1ms), 1);
    EXPECT_EQ(b.budget(kT0 + 250ms), 250);
    EXPECT_EQ(b.budget(kT0 + 999ms), 999);
    EXPECT_EQ(b.budget(kT0 + 1s), 1000);
    // Never above its size, however long it waits.
    EXPECT_EQ(b.budget(kT0 + 1h), 1000);
}

TEST(RateLimiterTokenBucket, FractionsOfATokenCarryOver) {
    // 3 tokens per second: one token every 333.33 ms. Many small steps add up to exactly what
    // one big step gives.
    TokenBucket b(3, 1s);
    ASSERT_TRUE(b.consume(3, kT0));
    auto t = kT0;
    for (int i = 0; i < 100; ++i) {
        t += 10ms;
        b.budget(t);
    }
    EXPECT_EQ(b.budget(t), 3);  // 1 s later: full again
    ASSERT_TRUE(b.consume(3, t));
    EXPECT_EQ(b.budget(t + 333ms), 0);
    EXPECT_EQ(b.budget(t + 334ms), 1);
    EXPECT_EQ(b.budget(t + 666ms), 1);
    EXPECT_EQ(b.budget(t + 667ms), 2);
}

TEST(RateLimiterTokenBucket, AFullBucketDoesNotBankTime) {
    TokenBucket b(100, 1s);
    EXPECT_EQ(b.budget(kT0), 100);
    // Full for a minute, then emptied: the refill starts from the emptying, not from kT0.
    ASSERT_TRUE(b.consume(100, kT0 + 60s));
    EXPECT_EQ(b.budget(kT0 + 60s), 0);
    EXPECT_EQ(b.budget(kT0 + 60s + 500ms), 50);
}

TEST(RateLimiterTokenBucket, TimeGoingBackwardsAddsNothing) {
    TokenBucket b(100, 1s);
    ASSERT_TRUE(b.consume(100, kT0));
    EXPECT_EQ(b.budget(kT0 - 10s), 0);
    EXPECT_EQ(b.budget(kT0 + 100ms), 10);
}

TEST(RateLimiterTokenBucket, TimeUntilIsExactAndZeroWhenPayable) {
    TokenBucket b(1000, 1s);
    EXPECT_EQ(b.timeUntil(1000, kT0), 0ns);
    ASSERT_TRUE(b.consume(1000, kT0));
    EXPECT_EQ(b.timeUntil(500, kT0), 500ms);
    // Part of the way there.
    EXPECT_EQ(b.timeUntil(500, kT0 + 200ms), 300ms);
    auto wait = b.timeUntil(500, kT0 + 200ms);
    EXPECT_FALSE(b.canPay(500, kT0 + 200ms + wait - 1ns));
    EXPECT_TRUE(b.canPay(500, kT0 + 200ms + wait));
    // A fraction of a token already earned counts: 3 tokens/s, 100 ms into the first token.
    TokenBucket c(3, 1s);
    ASSERT_TRUE(c.consume(3, kT0));
    auto w = c.timeUntil(1, kT0 + 100ms);
    EXPECT_EQ(w, 233333334ns);  // ceil((1e9 - 3e8) / 3) ns: 0.7 of a token at 3 per second
    EXPECT_FALSE(c.canPay(1, kT0 + 100ms + w - 1ns));
    EXPECT_TRUE(c.canPay(1, kT0 + 100ms + w));
}

TEST(RateLimiterTokenBucket, OversizePaymentPassesWhenFullAndLeavesDebt) {
    TokenBucket b(1000, 1s);
    ASSERT_TRUE(b.consume(10, kT0));
    // 2500 tokens never fit; they pass only when the bucket is full ...
    EXPECT_FALSE(b.canPay(2500, kT0));
    EXPECT_EQ(b.timeUntil(2500, kT0), 10ms);
    EXPECT_TRUE(b.consume(2500, kT0 + 10ms));
    // ... and the debt is repaid before anything else passes: 1500 missing, then 1 more token.
    EXPECT_EQ(b.budget(kT0 + 10ms), -1500);
    EXPECT_EQ(b.timeUntil(1, kT0 + 10ms), 1501ms);
    EXPECT_FALSE(b.consume(1, kT0 + 10ms + 1500ms));
    EXPECT_TRUE(b.consume(1, kT0 + 10ms + 1501ms));
}

TEST(RateLimiterTokenBucket, OversizePaymentsHoldTheLongRunRate) {
    // 100 tokens per second; payments of 350 each. Over 10 s of a greedy client, at most the
    // first full bucket plus 10 s of refill pass.
    TokenBucket b(100, 1s);
    uint64_t paid = 0;
    auto t = kT0;
    while (t <= kT0 + 10s) {
        if (b.consume(350, t)) {
            paid += 350;
        } else {
            t += b.timeUntil(350, t);
        }
    }
    EXPECT_LE(paid, 100u + 10 * 100 + 350);
    EXPECT_GE(paid, 10u * 100 - 350);
}

TEST(RateLimiterTokenBucket, SizeZeroIsUnlimited) {
    TokenBucket b;
    EXPECT_TRUE(b.unlimited());
    EXPECT_TRUE(b.consume(UINT64_MAX, kT0));
    EXPECT_EQ(b.timeUntil(UINT64_MAX, kT0), 0ns);
    TokenBucket z(0, 1s);
    EXPECT_TRUE(z.unlimited());
    EXPECT_TRUE(z.consume(1 << 30, kT0));
}

TEST(RateLimiterTokenBucket, RejectsBadParameters) {
    EXPECT_THROW(TokenBucket(10, 0s), std::invalid_argument);
    EXPECT_THROW(TokenBucket(10, -1s), std::invalid_argument);
    EXPECT_THROW(TokenBucket(TokenBucket::kMaxSize + 1, 1s), std::invalid_argument);
    EXPECT_NO_THROW(TokenBucket(TokenBucket::kMaxSize, 1s));
}

TEST(RateLimiterTokenBucket, LargeRatesDoNotOverflow) {
    // 1 PiB per second over an hour of refill arithmetic.
    TokenBucket b(uint64_t{1} << 50, 1s);
    ASSERT_TRUE(b.consume(uint64_t{1} << 50, kT0));
    EXPECT_EQ(b.budget(kT0 + 500ms), int64_t{1} << 49);
    EXPECT_EQ(b.budget(kT0 + 1h), int64_t{1} << 50);
    // A one-token-per-second bucket after a huge payment: an exact wait while it fits, and a
    // saturated, still positive one beyond what nanoseconds hold.
    TokenBucket slow(1, 1s);
    ASSERT_TRUE(slow.consume(uint64_t{1} << 30, kT0));
    EXPECT_EQ(slow.timeUntil(1, kT0), std::chrono::seconds(int64_t{1} << 30));
    TokenBucket slower(1, 1s);
    ASSERT_TRUE(slower.consume(uint64_t{1} << 40, kT0));
    auto w = slower.timeUntil(1, kT0);
    EXPECT_GT(w, 0ns);
    EXPECT_GE(w.count(), INT64_MAX / 4);
}

// --- RateLimiter ---

class RateLimiterTest : public ::testing::Test {
protected:
    RateLimiter make(RateLimit limit) {
        return RateLimiter(limit, [this] { return now; });
    }
    Clock::time_point now = kT0;
};

TEST_F(RateLimiterTest, DefaultIsUnlimited) {
    RateLimiter r;
    EXPECT_TRUE(r.unlimited());
    EXPECT_TRUE(r.consume(UINT64_MAX, UINT64_MAX));
    EXPECT_EQ(r.timeUntil(UINT64_MAX, UINT64_MAX), 0ns);
    EXPECT_TRUE(make({}).unlimited());
}

TEST_F(RateLimiterTest, BucketsHoldOneSecondOfTheRate) {
    auto r = make({.bytesPerSecond = 4096, .opsPerSecond = 10});
    EXPECT_FALSE(r.unlimited());
    EXPECT_EQ(r.bytesBucket().size(), 4096u);
    EXPECT_EQ(r.opsBucket().size(), 10u);
    EXPECT_EQ(r.bytesBucket().budget(now), 4096);
}

TEST_F(RateLimiterTest, BandwidthLimit) {
    auto r = make({.bytesPerSecond = 1 << 20});
    EXPECT_TRUE(r.opsBucket().unlimited());
    for (int i = 0; i < 16; ++i) ASSERT_TRUE(r.consume(64 << 10)) << i;
    EXPECT_FALSE(r.consume(64 << 10));
    EXPECT_EQ(r.timeUntil(64 << 10), 62500us);  // 1/16 s
    now += 62500us;
    EXPECT_TRUE(r.consume(64 << 10));
    EXPECT_FALSE(r.consume(512));
}

TEST_F(RateLimiterTest, OpsLimit) {
    auto r = make({.opsPerSecond = 4});
    EXPECT_TRUE(r.bytesBucket().unlimited());
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(r.consume(1 << 30)) << i;  // bytes are free
    EXPECT_FALSE(r.consume(0));
    EXPECT_EQ(r.timeUntil(0), 250ms);
    now += 250ms;
    EXPECT_TRUE(r.consume(0));
    EXPECT_FALSE(r.consume(0));
}

TEST_F(RateLimiterTest, PaysBothBucketsOrNeither) {
    auto r = make({.bytesPerSecond = 1000, .opsPerSecond = 2});
    ASSERT_TRUE(r.consume(900, 1));
    // Bytes short, ops enough: neither bucket is charged.
    EXPECT_FALSE(r.consume(200, 1));
    EXPECT_EQ(r.opsBucket().budget(now), 1);
    EXPECT_EQ(r.bytesBucket().budget(now), 100);
    ASSERT_TRUE(r.consume(100, 1));
    // Ops short, bytes enough after a while: still nothing charged.
    now += 500ms;
    EXPECT_EQ(r.bytesBucket().budget(now), 500);
    EXPECT_EQ(r.opsBucket().budget(now), 1);
    ASSERT_TRUE(r.consume(10, 1));
    EXPECT_FALSE(r.consume(10, 1));
    EXPECT_EQ(r.bytesBucket().budget(now), 490);
    // The wait is the longer of the two.
    EXPECT_EQ(r.timeUntil(10, 1), 500ms);    // ops: one every 500 ms
    EXPECT_EQ(r.timeUntil(1000, 1), 510ms);  // bytes: 510 missing at 1000/s
}

TEST_F(RateLimiterTest, OversizeRequestWaitsForAFullBucketThenPasses) {
    auto r = make({.bytesPerSecond = 64 << 10});
    ASSERT_TRUE(r.consume(4096));
    // A 1 MiB request against a 64 KiB bucket: passes once the bucket is full again.
    EXPECT_FALSE(r.consume(1 << 20));
    auto wait = r.timeUntil(1 << 20);
    EXPECT_EQ(wait, 62500us);  // 4 KiB at 64 KiB/s
    now += wait;
    EXPECT_TRUE(r.consume(1 << 20));
    // Then nothing for the 15 s the other 960 KiB take.
    EXPECT_EQ(r.timeUntil(512), 15s + 7812500ns);  // 960 KiB + 512 B at 64 KiB/s
}

}  // namespace
}  // namespace ingot::vmm::virtio
