#include "devices/virtio/RateLimiter.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <utility>

namespace ingot::vmm::virtio {

namespace {
using u128 = unsigned __int128;

// Saturates far beyond any wait that matters (about 146 years).
int64_t ceilDiv(u128 a, u128 b) {
    u128 q = (a + b - 1) / b;
    return static_cast<int64_t>(std::min<u128>(q, u128(INT64_MAX / 2)));
}
}  // namespace

TokenBucket::TokenBucket(uint64_t size, std::chrono::nanoseconds refillTime)
    : size_(size), refillNs_(refillTime.count()), budget_(static_cast<int64_t>(size)) {
    if (size > kMaxSize) throw std::invalid_argument("token bucket size too large");
    if (size != 0 && refillNs_ <= 0)
        throw std::invalid_argument("token bucket refill time must be positive");
}

void TokenBucket::refill(Clock::time_point now) {
    if (unlimited()) return;
    const auto size = static_cast<int64_t>(size_);
    // A full bucket does not bank time: the refill starts when tokens are first taken.
    if (budget_ >= size) {
        last_ = std::max(last_, now);
        fraction_ = 0;
        return;
    }
    if (now <= last_) return;
    // Tokens earned are elapsed * size / refillTime; the remainder of that division (less than
    // one token) is kept in fraction_, so many small steps add up to exactly one big step.
    const u128 earned = u128((now - last_).count()) * size_ + fraction_;
    last_ = now;
    const u128 added = earned / u128(refillNs_);
    if (added >= u128(size - budget_)) {
        budget_ = size;
        fraction_ = 0;
        return;
    }
    budget_ += static_cast<int64_t>(added);
    fraction_ = static_cast<uint64_t>(earned % u128(refillNs_));
}

int64_t TokenBucket::needed(uint64_t tokens) const {
    return static_cast<int64_t>(std::min(tokens, size_));
}

int64_t TokenBucket::budget(Clock::time_point now) {
    refill(now);
    return budget_;
}

bool TokenBucket::canPay(uint64_t tokens, Clock::time_point now) {
    if (unlimited()) return true;
    refill(now);
    return budget_ >= needed(tokens);
}

void TokenBucket::take(uint64_t tokens) {
    if (unlimited()) return;
    // tokens may exceed the bucket (oversize rule): the budget goes negative, bounded by
    // kMaxSize - tokens as long as callers pay at most 2^62 at once.
    budget_ -= static_cast<int64_t>(std::min<uint64_t>(tokens, uint64_t{1} << 62));
}

bool TokenBucket::consume(uint64_t tokens, Clock::time_point now) {
    if (!canPay(tokens, now)) return false;
    take(tokens);
    return true;
}

std::chrono::nanoseconds TokenBucket::timeUntil(uint64_t tokens, Clock::time_point now) {
    if (unlimited()) return std::chrono::nanoseconds(0);
    refill(now);
    const int64_t missing = needed(tokens) - budget_;
    if (missing <= 0) return std::chrono::nanoseconds(0);
    // After t more nanoseconds the bucket has earned (t * size + fraction_) / refillTime tokens
    // (rounded down); the first t where that reaches `missing`:
    const u128 wanted = u128(missing) * u128(refillNs_) - fraction_;  // fraction_ < refillNs_
    return std::chrono::nanoseconds(ceilDiv(wanted, size_));
}

RateLimiter::RateLimiter(const RateLimit& limit, Now now)
    : RateLimiter(TokenBucket(limit.bytesPerSecond, std::chrono::seconds(1)),
                  TokenBucket(limit.opsPerSecond, std::chrono::seconds(1)), std::move(now)) {}

RateLimiter::RateLimiter(TokenBucket bytes, TokenBucket ops, Now now)
    : bytes_(bytes), ops_(ops), now_(std::move(now)) {}

bool RateLimiter::consume(uint64_t bytes, uint64_t ops) {
    if (!canPay(bytes, ops)) return false;
    take(bytes, ops);
    return true;
}

bool RateLimiter::canPay(uint64_t bytes, uint64_t ops) {
    if (unlimited()) return true;
    const auto now = now_();
    return bytes_.canPay(bytes, now) && ops_.canPay(ops, now);
}

void RateLimiter::take(uint64_t bytes, uint64_t ops) {
    bytes_.take(bytes);
    ops_.take(ops);
}

std::chrono::nanoseconds RateLimiter::timeUntil(uint64_t bytes, uint64_t ops) {
    if (unlimited()) return std::chrono::nanoseconds(0);
    const auto now = now_();
    return std::max(bytes_.timeUntil(bytes, now), ops_.timeUntil(ops, now));
}

}  // namespace ingot::vmm::virtio
