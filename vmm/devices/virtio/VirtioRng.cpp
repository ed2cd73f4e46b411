#include "devices/virtio/VirtioRng.h"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "devices/virtio/VirtioSpec.h"

namespace ingot::vmm::virtio {

VirtioRng::VirtioRng(std::string name, uint64_t bytesPerSecond, RateLimiter::Now now)
    : VirtioDevice(std::move(name)),
      bucket_(bytesPerSecond, std::chrono::seconds(1)),
      now_(std::move(now)) {}

uint32_t VirtioRng::deviceType() const {
    return kDeviceEntropy;
}

uint64_t VirtioRng::offeredFeatures() const {
    return kFeatureVersion1 | kFeatureIndirectDesc | kFeatureEventIdx;
}

void VirtioRng::readConfig(uint64_t, std::span<uint8_t> data) {
    std::fill(data.begin(), data.end(), 0);  // the entropy device has no configuration space
}

void VirtioRng::processQueue(unsigned, VirtQueue& queue) {
    while (queue.pop(chain_)) queue.pushUsed(chain_.head(), handleRequest(chain_));
}

uint32_t VirtioRng::handleRequest(const DescriptorChain& chain) {
    if (chain.readableBytes() != 0)
        log().report("request carries " + std::to_string(chain.readableBytes()) +
                     " device-readable bytes; ignored");
    // Partial answers, unlike the block device's all-or-nothing: whatever the bucket holds now.
    uint64_t wanted = std::min(chain.writableBytes(), kMaxBytesPerRequest);
    int64_t budget = bucket_.budget(now_());
    uint64_t length = std::min<uint64_t>(wanted, budget > 0 ? static_cast<uint64_t>(budget) : 0);
    bucket_.take(length);
    std::array<uint8_t, 4096> block;
    uint64_t done = 0;
    while (done < length) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), length - done));
        ssize_t got = ::getrandom(block.data(), n, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            log().report("getrandom failed; answering with what is filled");
            break;
        }
        chain.write(done, {block.data(), static_cast<size_t>(got)});
        done += static_cast<uint64_t>(got);
    }
    served_ += done;
    return static_cast<uint32_t>(done);
}

}  // namespace ingot::vmm::virtio
