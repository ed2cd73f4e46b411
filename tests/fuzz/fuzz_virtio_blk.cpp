// The monitor's virtqueue walker and virtio-blk request handling on guest memory the fuzzer
// writes: descriptor tables, rings, indirect tables, request headers. See VirtioBlkHarness.h for
// the input format and the properties checked.
#include <cstddef>
#include <cstdint>

#include "VirtioBlkHarness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static ingot::vmm::fuzz::VirtioBlkHarness harness;
    harness.run(data, size);
    return 0;
}
