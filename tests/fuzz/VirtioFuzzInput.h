// The input format the virtio device fuzzers share: byte 0 = flags (bit 1 VIRTIO_F_EVENT_IDX,
// bit 2 VIRTIO_F_INDIRECT_DESC; bit 0 is the device's own), byte 1 = log2 of the queue size
// (mod 9: 1..256 entries), the rest = guest memory from address 0. The descriptor table sits at
// 0, the available ring right after it, the used ring after that (4-byte aligned); everything
// else the input places is buffers.
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "GuestMemory.h"
#include "devices/virtio/VirtQueue.h"
#include "devices/virtio/VirtioSpec.h"

namespace ingot::vmm::fuzz {

struct VirtioFuzzQueue {
    uint64_t features = 0;
    virtio::QueueLayout layout;
};

// Loads an input (at least 2 bytes) into `memory`, on fresh zero pages so one input's writes
// never leak into the next, and returns the queue it describes.
inline VirtioFuzzQueue loadVirtioFuzzInput(GuestMemory& memory, const uint8_t* data, size_t size) {
    VirtioFuzzQueue q;
    q.features = virtio::kFeatureVersion1;
    if (data[0] & 2) q.features |= virtio::kFeatureEventIdx;
    if (data[0] & 4) q.features |= virtio::kFeatureIndirectDesc;
    uint16_t queueSize = static_cast<uint16_t>(1u << (data[1] % 9));
    q.layout.size = queueSize;
    q.layout.descTable = 0;
    q.layout.availRing = 16ull * queueSize;
    q.layout.usedRing = (q.layout.availRing + 6 + 2ull * queueSize + 3) & ~3ull;
    auto& ram = memory.regions().front();
    madvise(ram.host, ram.size, MADV_DONTNEED);
    std::memcpy(ram.host, data + 2, std::min<size_t>(size - 2, ram.size));
    return q;
}

}  // namespace ingot::vmm::fuzz
