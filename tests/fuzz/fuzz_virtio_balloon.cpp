// virtio-balloon's queues on guest memory the fuzzer writes, in VirtioFuzzInput.h's format. The
// flags byte says more here:
//   bit 0     the driver accepted VIRTIO_BALLOON_F_STATS_VQ
//   bits 3-4  0 inflate, 1 deflate, 2 stats; 3 inflate, deflate and stats in turn, each from a
//             fresh VirtQueue over the same rings, so that the deflate pass meets a full balloon
//   bit 5     the host asked for fresh figures (requestStats) before the stats queue runs
// Guest RAM is 4.5 GiB, so that PFNs can land below the MMIO hole, in it, above 4 GiB and past
// the end; only the few pages the input and the device touch are ever backed.
//
// What must hold for any input: nothing outside guest RAM is touched (ASan; GuestMemory::discard
// refuses ranges outside RAM, and the page bitmap is a heap vector), the balloon never holds
// more than RAM, its page count agrees with what went in and out, and a reset empties it.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "FuzzCheck.h"
#include "GuestMemory.h"
#include "VirtioFuzzInput.h"
#include "devices/virtio/VirtQueue.h"
#include "devices/virtio/VirtioBalloon.h"
#include "devices/virtio/VirtioSpec.h"

using namespace ingot::vmm;
using virtio::VirtioBalloon;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static GuestMemory memory(GuestMemory::kHighRamStart + (512ull << 20));
    if (size < 2) return 0;
    const uint8_t flags = data[0];
    const bool statsVq = flags & 1;
    const unsigned mode = (flags >> 3) & 3;
    // Named members rather than a structured binding: clang 14 cannot capture one in a lambda.
    const fuzz::VirtioFuzzQueue input = fuzz::loadVirtioFuzzInput(memory, data, size);
    const uint64_t features = input.features;
    const virtio::QueueLayout& layout = input.layout;
    FUZZ_CHECK(virtio::VirtQueue::checkLayout(memory, layout, layout.size).empty());

    VirtioBalloon balloon("fuzz-balloon", memory);
    balloon.log().setSink([](const std::string&) {});
    balloon.setWakeUp([&](unsigned queue, std::chrono::nanoseconds) {
        FUZZ_CHECK(queue < balloon.queueCount());
    });
    balloon.activate(features | (statsVq ? VirtioBalloon::kFeatureStatsVq : 0));
    if (flags & 0x20) FUZZ_CHECK(balloon.requestStats() == statsVq);

    const uint64_t ramPages = memory.size() / VirtioBalloon::kPageSize;
    auto run = [&](unsigned index) {
        virtio::VirtQueue queue(memory, layout, features, index, balloon.log());
        const uint64_t inflatedBefore = balloon.inflatedPages();
        const uint64_t deflatedBefore = balloon.deflatedPages();
        const uint64_t updatesBefore = balloon.guestStats().updates;
        balloon.processQueue(index, queue);
        (void)queue.needsNotification();
        if (index != VirtioBalloon::kInflateQueue)
            FUZZ_CHECK(balloon.inflatedPages() == inflatedBefore);
        if (index != VirtioBalloon::kDeflateQueue)
            FUZZ_CHECK(balloon.deflatedPages() == deflatedBefore);
        const auto stats = balloon.guestStats();
        // The stats loop takes each available chain once: at most a ring's worth.
        FUZZ_CHECK(stats.updates - updatesBefore <= layout.size);
        if (index != VirtioBalloon::kStatsQueue) FUZZ_CHECK(stats.updates == updatesBefore);
        FUZZ_CHECK((stats.present >> VirtioBalloon::kStatTags) == 0);
        FUZZ_CHECK(balloon.discardedBytes() <= memory.size());
        FUZZ_CHECK(balloon.discardedBytes() ==
                   (balloon.inflatedPages() - balloon.deflatedPages()) * VirtioBalloon::kPageSize);
        FUZZ_CHECK(balloon.inflatedPages() <= ramPages);
    };
    switch (mode) {
        case 0:
            run(VirtioBalloon::kInflateQueue);
            break;
        case 1:
            run(VirtioBalloon::kDeflateQueue);
            // Nothing was in the balloon: every PFN is refused, none deflated.
            FUZZ_CHECK(balloon.deflatedPages() == 0 && balloon.discardedBytes() == 0);
            break;
        case 2:
            run(VirtioBalloon::kStatsQueue);
            break;
        default:
            run(VirtioBalloon::kInflateQueue);
            run(VirtioBalloon::kDeflateQueue);
            run(VirtioBalloon::kStatsQueue);
            break;
    }
    FUZZ_CHECK(balloon.deflatedPages() <= balloon.inflatedPages());

    // The driver's `actual` is its own claim, stored as written and never checked.
    const uint8_t actual[4] = {data[size - 1], 0, 0, 0};
    balloon.writeConfig(4, actual);
    uint8_t config[8];
    balloon.readConfig(0, config);
    FUZZ_CHECK(config[4] == data[size - 1]);
    FUZZ_CHECK(balloon.actualBytes() == uint64_t{data[size - 1]} * VirtioBalloon::kPageSize);

    balloon.reset();
    FUZZ_CHECK(balloon.discardedBytes() == 0);
    FUZZ_CHECK(balloon.inflatedPages() == balloon.deflatedPages());
    FUZZ_CHECK(!balloon.requestStats());
    return 0;
}
