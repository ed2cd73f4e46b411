#pragma once

#include <sys/uio.h>

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "devices/virtio/BlockBackend.h"
#include "devices/virtio/VirtioDevice.h"

namespace ingot::vmm::virtio {

// virtio-blk (virtio 1.2, 5.2): one request queue over a BlockBackend. Requests: IN, OUT,
// FLUSH, GET_ID; anything else is answered VIRTIO_BLK_S_UNSUPP. A request that is malformed
// (no status byte, short header, data in the wrong direction, a length that is not whole
// sectors, sectors past the capacity) or that the backend fails gets VIRTIO_BLK_S_IOERR and a
// rate-limited line in the log; so does a write to a read-only disk, which is never attempted.
class VirtioBlk : public VirtioDevice {
public:
    static constexpr uint64_t kSectorBytes = 512;
    static constexpr size_t kIdBytes = 20;

    // Feature bits (5.2.3).
    static constexpr uint64_t kFeatureSegMax = 1ull << 2;
    static constexpr uint64_t kFeatureRo = 1ull << 5;
    static constexpr uint64_t kFeatureFlush = 1ull << 9;
    // Request types and status values (5.2.6).
    static constexpr uint32_t kTypeIn = 0;
    static constexpr uint32_t kTypeOut = 1;
    static constexpr uint32_t kTypeFlush = 4;
    static constexpr uint32_t kTypeGetId = 8;
    static constexpr uint8_t kStatusOk = 0;
    static constexpr uint8_t kStatusIoErr = 1;
    static constexpr uint8_t kStatusUnsupported = 2;

    struct Stats {
        uint64_t requests = 0;
        uint64_t bytesRead = 0;
        uint64_t bytesWritten = 0;
        uint64_t flushes = 0;
        uint64_t errors = 0;  // requests answered with anything but VIRTIO_BLK_S_OK
    };

    // `id` is what GET_ID returns (the guest's /sys/block/vdX/serial); at most 20 bytes are used.
    VirtioBlk(std::string name, std::unique_ptr<BlockBackend> backend, std::string id);

    uint32_t deviceType() const override;
    uint64_t offeredFeatures() const override;
    unsigned queueCount() const override { return 1; }
    void readConfig(uint64_t offset, std::span<uint8_t> data) override;
    void processQueue(unsigned index, VirtQueue& queue) override;

    // Serves one request chain and returns how many bytes it wrote into the chain (data and
    // status), the used length. Public so the fuzzer can reach it directly.
    uint32_t handleRequest(const DescriptorChain& chain);

    uint64_t capacitySectors() const { return backend_->sizeBytes() / kSectorBytes; }
    bool readOnly() const { return backend_->readOnly(); }
    Stats stats() const;

private:
    uint8_t serve(const DescriptorChain& chain, uint32_t type, uint64_t sector, uint64_t dataOut,
                  uint64_t dataIn, uint64_t* written);
    bool inRange(uint64_t sector, uint64_t bytes) const;
    uint8_t fail(const std::string& why);

    std::unique_ptr<BlockBackend> backend_;
    std::array<uint8_t, kIdBytes> id_{};
    std::array<uint8_t, 64> config_{};  // struct virtio_blk_config up to the write-zeroes fields
    std::vector<iovec> iovecs_;         // reused across requests
    DescriptorChain chain_;

    std::atomic<uint64_t> requests_{0};
    std::atomic<uint64_t> bytesRead_{0};
    std::atomic<uint64_t> bytesWritten_{0};
    std::atomic<uint64_t> flushes_{0};
    std::atomic<uint64_t> errors_{0};
};

}  // namespace ingot::vmm::virtio
