// virtio-rng on guest memory the fuzzer writes: the same input format as fuzz_virtio_blk
// (byte 0 = flags: bit 1 EVENT_IDX, bit 2 INDIRECT_DESC; byte 1 = log2 of the queue size; the
// rest = guest memory from 0, descriptor table first, then the available and used rings). What
// must hold for any input: nothing outside guest RAM is touched (ASan), and one round never
// gives more than a queue's worth of capped requests. (The used ring itself is fair game for
// the guest's buffers, so its contents afterwards prove nothing.)
#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "FuzzCheck.h"
#include "GuestMemory.h"
#include "devices/virtio/VirtQueue.h"
#include "devices/virtio/VirtioRng.h"
#include "devices/virtio/VirtioSpec.h"

using namespace ingot::vmm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static GuestMemory memory(16ull << 20);
    if (size < 2) return 0;
    uint64_t features = virtio::kFeatureVersion1;
    if (data[0] & 2) features |= virtio::kFeatureEventIdx;
    if (data[0] & 4) features |= virtio::kFeatureIndirectDesc;
    uint16_t queueSize = static_cast<uint16_t>(1u << (data[1] % 9));
    virtio::QueueLayout layout;
    layout.size = queueSize;
    layout.descTable = 0;
    layout.availRing = 16ull * queueSize;
    layout.usedRing = (layout.availRing + 6 + 2ull * queueSize + 3) & ~3ull;

    auto& ram = memory.regions().front();
    madvise(ram.host, ram.size, MADV_DONTNEED);
    std::memcpy(ram.host, data + 2, std::min<size_t>(size - 2, ram.size));

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
