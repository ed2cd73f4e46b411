// Drives the monitor's split-virtqueue walker and virtio-blk request handling with guest memory
// taken from the fuzzer's input, and checks what must hold whatever the guest wrote. Shared by
// fuzz_virtio_blk.cpp and the unit test that replays the committed seeds.
//
// Input: VirtioFuzzInput.h's format; bit 0 of the flags makes the disk read-only.
// The disk is 64 sectors of a fixed pattern in a memfd.
#pragma once

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "FuzzCheck.h"
#include "VirtioFuzzInput.h"
#include "GuestMemory.h"
#include "devices/virtio/RawFileBackend.h"
#include "devices/virtio/VirtQueue.h"
#include "devices/virtio/VirtioBlk.h"
#include "devices/virtio/VirtioSpec.h"

namespace ingot::vmm::fuzz {

// What a run left behind; for well-formed inputs (the seeds) the used index equals the
// available one and nothing failed.
struct VirtioBlkRun {
    uint16_t available = 0;  // the available index the input set
    uint16_t used = 0;       // the used index afterwards
    bool broken = false;
    uint64_t malformedChains = 0;
    uint64_t failedRequests = 0;
};

class VirtioBlkHarness {
public:
    static constexpr uint64_t kDiskBytes = 64 * 512;
    static constexpr uint64_t kMemoryBytes = 16ull << 20;

    static uint8_t diskByte(uint64_t i) { return static_cast<uint8_t>(i * 13 + (i >> 9)); }

    VirtioBlkRun run(const uint8_t* data, size_t size) {
        VirtioBlkRun result;
        if (size < 2) return result;
        bool readOnly = data[0] & 1;
        auto [features, layout] = loadVirtioFuzzInput(memory_, data, size);
        const uint16_t queueSize = layout.size;
        auto& ram = memory_.regions().front();
        uint16_t availIdx;
        std::memcpy(&availIdx, ram.host + layout.availRing + 2, 2);

        int fd = memfd_create("fuzz-disk", MFD_CLOEXEC);
        FUZZ_CHECK(fd >= 0);
        FUZZ_CHECK(::pwrite(fd, disk_.data(), disk_.size(), 0) == static_cast<ssize_t>(kDiskBytes));
        int check = ::dup(fd);
        {
            auto backend =
                std::make_unique<virtio::RawFileBackend>(FileDescriptor(fd), "fuzz", readOnly);
            virtio::VirtioBlk blk("fuzz-blk", std::move(backend), "fuzz-id");
            blk.log().setSink([](const std::string&) {});
            FUZZ_CHECK(virtio::VirtQueue::checkLayout(memory_, layout, queueSize).empty());
            virtio::VirtQueue queue(memory_, layout, features, 0, blk.log());
            blk.processQueue(0, queue);
            (void)queue.needsNotification();
            // A second round sees whatever the first left (the driver's index did not move).
            blk.processQueue(0, queue);

            result.available = availIdx;
            result.broken = queue.broken();
            result.malformedChains = queue.malformedChains();
            result.failedRequests = blk.stats().errors;
            std::memcpy(&result.used, ram.host + layout.usedRing + 2, 2);
            // The rings themselves are fair game for the guest's buffers (a read can land on
            // the used ring), so what holds for any input is about the host: nothing crashed or
            // touched memory outside guest RAM (ASan), and the disk below.
        }
        // Requests never grow or shrink the disk, and a read-only disk is never written.
        struct stat st {};
        FUZZ_CHECK(::fstat(check, &st) == 0);
        FUZZ_CHECK(static_cast<uint64_t>(st.st_size) == kDiskBytes);
        if (readOnly) {
            std::vector<uint8_t> now(kDiskBytes);
            FUZZ_CHECK(::pread(check, now.data(), now.size(), 0) ==
                       static_cast<ssize_t>(kDiskBytes));
            FUZZ_CHECK(now == disk_);
        }
        ::close(check);
        return result;
    }

private:
    GuestMemory memory_{kMemoryBytes};
    std::vector<uint8_t> disk_ = [] {
        std::vector<uint8_t> d(kDiskBytes);
        for (uint64_t i = 0; i < d.size(); ++i) d[i] = diskByte(i);
        return d;
    }();
};

}  // namespace ingot::vmm::fuzz
