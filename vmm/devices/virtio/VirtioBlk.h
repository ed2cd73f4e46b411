#pragma once

#include <sys/uio.h>

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "devices/virtio/BlockBackend.h"
#include "devices/virtio/RateLimiter.h"
#include "devices/virtio/VirtioDevice.h"

namespace ingot::vmm::virtio {

// virtio-blk (virtio 1.2, 5.2): one request queue over a BlockBackend. Requests: IN, OUT,
// FLUSH, GET_ID, and DISCARD and WRITE_ZEROES when the backend is writable and supports them
// (discardGranularity() != 0; only then are VIRTIO_BLK_F_DISCARD and VIRTIO_BLK_F_WRITE_ZEROES
// offered); anything else is answered VIRTIO_BLK_S_UNSUPP. A request that is malformed (no
// status byte, short header, data in the wrong direction, a length that is not whole sectors,
// sectors past the capacity) or that the backend fails gets VIRTIO_BLK_S_IOERR and a
// rate-limited line in the log; so does a write, discard or write-zeroes to a read-only disk,
// which is never attempted.
//
// DISCARD and WRITE_ZEROES carry an array of 16-byte segments (sector, num_sectors, flags).
// The whole array is checked before the backend sees any of it: a non-empty whole number of
// segments, at most kMaxDiscardSegments, each at most kMaxDiscardSectors long and inside the
// disk, no writable bytes besides the status. A failed check is IOERR and leaves the disk as it
// was. Unknown flag bits, or the unmap flag on a DISCARD, are UNSUPP (5.2.6.2), also before
// anything is touched. WRITE_ZEROES with unmap may free the space (backend writeZeroes with
// mayUnmap); either way the range reads as zeros afterwards.
//
// Rate limits (`limiter`): each request costs one operation and, for IN and OUT, its data
// bytes. A request the limiter cannot pay for yet is held (popped, not answered) and tried
// again first, before anything else is taken from the ring; the device stops taking requests
// meanwhile and asks its worker (Throttleable) to process the queue again when the tokens will
// be there. A reset drops the held request with everything else.
class VirtioBlk : public VirtioDevice, public Throttleable {
public:
    static constexpr uint64_t kSectorBytes = 512;
    static constexpr size_t kIdBytes = 20;
    // The most data one IN or OUT request may move. The used length is 32 bits, and a chain of
    // 254 buffers that each cover all of guest RAM could otherwise ask for terabytes; Linux's
    // requests are at most a few MiB.
    static constexpr uint64_t kMaxRequestBytes = 1ull << 30;

    // Feature bits (5.2.3).
    static constexpr uint64_t kFeatureSegMax = 1ull << 2;
    static constexpr uint64_t kFeatureRo = 1ull << 5;
    static constexpr uint64_t kFeatureFlush = 1ull << 9;
    static constexpr uint64_t kFeatureDiscard = 1ull << 13;
    static constexpr uint64_t kFeatureWriteZeroes = 1ull << 14;
    // Request types and status values (5.2.6).
    static constexpr uint32_t kTypeIn = 0;
    static constexpr uint32_t kTypeOut = 1;
    static constexpr uint32_t kTypeFlush = 4;
    static constexpr uint32_t kTypeGetId = 8;
    static constexpr uint32_t kTypeDiscard = 11;
    static constexpr uint32_t kTypeWriteZeroes = 13;
    static constexpr uint8_t kStatusOk = 0;
    static constexpr uint8_t kStatusIoErr = 1;
    static constexpr uint8_t kStatusUnsupported = 2;

    // struct virtio_blk_discard_write_zeroes (5.2.6): the payload of DISCARD and WRITE_ZEROES.
    static constexpr uint64_t kSegmentBytes = 16;
    static constexpr uint32_t kSegmentFlagUnmap = 1u << 0;
    // The limits advertised in the configuration space, for both request types.
    // max_*_sectors: 0x3fffff sectors (2 GiB - 512) per segment, the largest byte count that
    // fits a signed 32-bit length (QEMU advertises the same, BDRV_REQUEST_MAX_SECTORS); it keeps
    // one segment's work bounded where a backend has to write zeros instead of punching a hole.
    // Linux splits larger discards itself (an fstrim of a big disk becomes many requests).
    static constexpr uint32_t kMaxDiscardSectors = 0x3fffff;
    // max_*_seg: 32 segments (a 512-byte payload, copied onto the worker's stack and checked as
    // a whole before anything is done). Linux merges adjacent discards up to this many ranges
    // per request (it caps the number at 256 itself).
    static constexpr uint32_t kMaxDiscardSegments = 32;

    struct Stats {
        uint64_t requests = 0;
        uint64_t bytesRead = 0;
        uint64_t bytesWritten = 0;
        uint64_t flushes = 0;
        uint64_t errors = 0;       // requests answered with anything but VIRTIO_BLK_S_OK
        uint64_t discards = 0;     // DISCARD requests completed with VIRTIO_BLK_S_OK
        uint64_t writeZeroes = 0;  // WRITE_ZEROES requests completed with VIRTIO_BLK_S_OK
        uint64_t throttled = 0;    // requests that had to wait for the rate limit, each once
    };

    // `id` is what GET_ID returns (the guest's /sys/block/vdX/serial); at most 20 bytes are used.
    // `limiter` is the device's rate limit (unlimited by default).
    VirtioBlk(std::string name, std::unique_ptr<BlockBackend> backend, std::string id,
              RateLimiter limiter = {});

    uint32_t deviceType() const override;
    uint64_t offeredFeatures() const override;
    unsigned queueCount() const override { return 1; }
    void readConfig(uint64_t offset, std::span<uint8_t> data) override;
    void processQueue(unsigned index, VirtQueue& queue) override;
    void reset() override;
    void setWakeUp(WakeUp wakeUp) override;

    // Serves one request chain and returns how many bytes it wrote into the chain (data and
    // status), the used length. Public so the fuzzer can reach it directly.
    uint32_t handleRequest(const DescriptorChain& chain);

    uint64_t capacitySectors() const { return backend_->sizeBytes() / kSectorBytes; }
    bool readOnly() const { return backend_->readOnly(); }
    // Whether DISCARD and WRITE_ZEROES are offered: a writable backend that supports them.
    bool discardSupported() const { return discard_; }
    Stats stats() const;
    // Whether a request is held for lack of tokens. Worker thread (or tests) only.
    bool holdingRequest() const { return held_; }

private:
    uint8_t serve(const DescriptorChain& chain, uint32_t type, uint64_t sector, uint64_t dataOut,
                  uint64_t dataIn, uint64_t* written);
    uint8_t serveDiscardOrWriteZeroes(const DescriptorChain& chain, uint32_t type, uint64_t dataOut,
                                      uint64_t dataIn);
    bool inRange(uint64_t sector, uint64_t bytes) const;
    // What `chain` costs under the rate limit: data bytes of an IN or OUT (0 for the rest).
    uint64_t costBytes(const DescriptorChain& chain) const;
    uint8_t fail(const std::string& why);
    uint8_t unsupported(const std::string& why);

    std::unique_ptr<BlockBackend> backend_;
    bool discard_ = false;  // see discardSupported()
    std::array<uint8_t, kIdBytes> id_{};
    std::array<uint8_t, 64> config_{};  // struct virtio_blk_config up to the write-zeroes fields
    std::vector<iovec> iovecs_;         // reused across requests
    DescriptorChain chain_;
    RateLimiter limiter_;  // worker thread only
    bool held_ = false;    // chain_ is a request popped but not yet paid for
    std::mutex wakeUpMutex_;
    WakeUp wakeUp_;

    std::atomic<uint64_t> requests_{0};
    std::atomic<uint64_t> bytesRead_{0};
    std::atomic<uint64_t> bytesWritten_{0};
    std::atomic<uint64_t> flushes_{0};
    std::atomic<uint64_t> errors_{0};
    std::atomic<uint64_t> discards_{0};
    std::atomic<uint64_t> writeZeroes_{0};
    std::atomic<uint64_t> throttled_{0};
};

}  // namespace ingot::vmm::virtio
