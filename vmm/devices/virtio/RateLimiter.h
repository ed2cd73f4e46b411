#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace ingot::vmm::virtio {

// A token bucket (after Firecracker's rate limiter, written anew): it holds at most `size`
// tokens and gains them back at size / refillTime, so refilling an empty bucket takes
// refillTime. It starts full. Time is an argument, never read here, so tests drive it with a
// fake clock; the refill is exact integer arithmetic (fractions of a token carry over to the
// next refill instead of being lost or invented), and time going backwards adds nothing.
//
// Oversize rule: a payment of n tokens needs min(n, size) tokens in the bucket. A payment larger
// than the bucket therefore goes through once the bucket is full, and leaves the bucket in debt
// (a negative budget) that the refill pays back before anything else gets through. Nothing ever
// waits forever, and over time no more than size / refillTime tokens per unit of time are
// spent, however large single payments are.
//
// A bucket of size 0 is unlimited: every payment goes through at once.
class TokenBucket {
public:
    using Clock = std::chrono::steady_clock;

    TokenBucket() = default;
    // Throws std::invalid_argument when size is non-zero and refillTime is not positive, or
    // size is above kMaxSize.
    TokenBucket(uint64_t size, std::chrono::nanoseconds refillTime);

    static constexpr uint64_t kMaxSize = uint64_t{1} << 52;

    bool unlimited() const { return size_ == 0; }
    uint64_t size() const { return size_; }
    // Tokens in the bucket at `now`; negative while a payment larger than the bucket is repaid.
    int64_t budget(Clock::time_point now);

    // Whether `tokens` could be paid at `now` (see the oversize rule).
    bool canPay(uint64_t tokens, Clock::time_point now);
    // Takes `tokens` unconditionally; only after canPay said yes at the same `now`.
    void take(uint64_t tokens);
    // canPay, then take: all or nothing.
    bool consume(uint64_t tokens, Clock::time_point now);
    // How long after `now` canPay(tokens) becomes true; zero when it already is.
    std::chrono::nanoseconds timeUntil(uint64_t tokens, Clock::time_point now);

private:
    void refill(Clock::time_point now);
    int64_t needed(uint64_t tokens) const;

    uint64_t size_ = 0;
    int64_t refillNs_ = 0;
    int64_t budget_ = 0;
    // When budget_ was last brought up to date, and the part of a token earned by then, in
    // units of 1 / refillNs_ tokens (always below refillNs_).
    Clock::time_point last_{};
    uint64_t fraction_ = 0;
};

// Rates a device is limited to; 0 means no limit on that resource.
struct RateLimit {
    uint64_t bytesPerSecond = 0;
    uint64_t opsPerSecond = 0;
    bool unlimited() const { return bytesPerSecond == 0 && opsPerSecond == 0; }
};

// Two token buckets, bandwidth (bytes) and operations, paid together: a request passes when
// both can pay and then pays both, or pays nothing. Built from a RateLimit, each bucket holds
// one second's worth of its rate (the largest burst) and refills in one second.
//
// Not thread-safe: a device touches its limiter only on its worker thread (processQueue).
class RateLimiter {
public:
    using Clock = TokenBucket::Clock;
    using Now = std::function<Clock::time_point()>;

    // Unlimited.
    RateLimiter() = default;
    explicit RateLimiter(const RateLimit& limit, Now now = systemNow());
    RateLimiter(TokenBucket bytes, TokenBucket ops, Now now = systemNow());

    bool unlimited() const { return bytes_.unlimited() && ops_.unlimited(); }
    // Pays `bytes` and `ops` if both buckets can; otherwise pays nothing and returns false.
    bool consume(uint64_t bytes, uint64_t ops = 1);
    // The two halves of consume, for a cost known only afterwards (a received frame's size):
    // canPay with the most it could cost, then take what it did cost (at most that).
    bool canPay(uint64_t bytes, uint64_t ops = 1);
    void take(uint64_t bytes, uint64_t ops = 1);
    // How long until consume(bytes, ops) would succeed; zero when it would now.
    std::chrono::nanoseconds timeUntil(uint64_t bytes, uint64_t ops = 1);

    TokenBucket& bytesBucket() { return bytes_; }
    TokenBucket& opsBucket() { return ops_; }

    static Now systemNow() {
        return [] { return Clock::now(); };
    }

private:
    TokenBucket bytes_;
    TokenBucket ops_;
    Now now_;
};

// A device whose queue work can stop before the ring is empty (a rate limit) and must be
// resumed without the driver notifying again. Its worker (VirtioWorker) finds this interface on
// the device and hands it `wakeUp`, which processes `queue` again `after` from now. The device
// calls it from processQueue only.
class Throttleable {
public:
    using WakeUp = std::function<void(unsigned queue, std::chrono::nanoseconds after)>;
    virtual void setWakeUp(WakeUp wakeUp) = 0;

protected:
    ~Throttleable() = default;
};

}  // namespace ingot::vmm::virtio
