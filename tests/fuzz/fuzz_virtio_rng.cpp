// virtio-rng on guest memory the fuzzer writes, in VirtioFuzzInput.h's format. What
// must hold for any input: nothing outside guest RAM is touched (ASan), and one round never
// gives more than a queue's worth of capped requests. (The used ring itself is fair game for
// the guest's buffers, so its contents afterwards prove nothing.)
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "FuzzCheck.h"
#include "GuestMemory.h"
#include "VirtioFuzzInput.h"
#include "devices/virtio/VirtQueue.h"
#include "devices/virtio/VirtioRng.h"
#include "devices/virtio/VirtioSpec.h"

using namespace ingot::vmm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static GuestMemory memory(16ull << 20);
    if (size < 2) return 0;
    auto [features, layout] = fuzz::loadVirtioFuzzInput(memory, data, size);
    const uint16_t queueSize = layout.size;

    // A rate the fuzzer cannot exhaust in one input, so the cap is what limits a request.
    virtio::VirtioRng rng("fuzz-rng", 1ull << 40);
    rng.log().setSink([](const std::string&) {});
    FUZZ_CHECK(virtio::VirtQueue::checkLayout(memory, layout, queueSize).empty());
    virtio::VirtQueue queue(memory, layout, features, 0, rng.log());
    rng.processQueue(0, queue);
    (void)queue.needsNotification();
    FUZZ_CHECK(rng.bytesServed() <=
               static_cast<uint64_t>(queueSize) * virtio::VirtioRng::kMaxBytesPerRequest);
    return 0;
}
