#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "devices/virtio/RateLimiter.h"
#include "devices/virtio/VirtioDevice.h"

namespace ingot::vmm::virtio {

// virtio-rng, the entropy device (virtio 1.2, 5.4): one request queue whose device-writable
// buffers are filled from the host's getrandom(). A freshly cloned gold image has the same
// on-disk random seed as every other clone of it, so the guest's own pool needs this to diverge
// early. A guest cannot make the monitor do unbounded work: each request gets at most
// kMaxBytesPerRequest, and all requests together at most `bytesPerSecond` (a token bucket with
// one second's worth of burst); a request that finds the bucket empty is answered with what is
// left, possibly nothing, which the driver simply retries.
class VirtioRng : public VirtioDevice {
public:
    static constexpr uint64_t kMaxBytesPerRequest = 64 * 1024;
    static constexpr uint64_t kDefaultBytesPerSecond = 1 << 20;

    // `bytesPerSecond` is at most TokenBucket::kMaxSize. `now` is the clock the bucket refills
    // by; tests pass a fake one so the limit is checked without depending on how fast they run.
    explicit VirtioRng(std::string name, uint64_t bytesPerSecond = kDefaultBytesPerSecond,
                       RateLimiter::Now now = RateLimiter::systemNow());

    uint32_t deviceType() const override;
    uint64_t offeredFeatures() const override;
    unsigned queueCount() const override { return 1; }
    void readConfig(uint64_t offset, std::span<uint8_t> data) override;
    void processQueue(unsigned index, VirtQueue& queue) override;

    // Serves one chain; returns the used length. Public for tests.
    uint32_t handleRequest(const DescriptorChain& chain);

    uint64_t bytesServed() const { return served_.load(); }

private:
    TokenBucket bucket_;  // bytes; one second of the rate
    RateLimiter::Now now_;
    DescriptorChain chain_;
    std::atomic<uint64_t> served_{0};
};

}  // namespace ingot::vmm::virtio
