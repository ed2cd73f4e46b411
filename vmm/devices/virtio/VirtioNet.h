#pragma once

#include <sys/uio.h>

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "devices/virtio/NetBackend.h"
#include "devices/virtio/RateLimiter.h"
#include "devices/virtio/VirtioDevice.h"

namespace ingot::vmm::virtio {

// virtio-net (virtio 1.2, 5.1): one receive and one transmit queue over a NetBackend (a tap).
// Frames travel with their 12-byte virtio_net_hdr between guest buffers and the backend by
// readv/writev straight on guest memory: the monitor never copies a frame and never parses a
// header (the host kernel's tun does, and refuses what is inconsistent). What the monitor
// checks is the chain: a transmit chain is 12 to kMaxPacketBytes device-readable bytes, a
// receive chain at least 12 device-writable bytes; anything else is returned unused and logged.
//
// Offloads: checksum and TSO both ways (CSUM, HOST_TSO4/6, GUEST_CSUM, GUEST_TSO4/6), so TCP
// moves in 64 KiB segments instead of 1.5 KiB frames; the tap is told at DRIVER_OK what the
// guest accepted. Without VIRTIO_NET_F_MRG_RXBUF a frame fills one chain: Linux then posts
// 64 KiB receive chains when it accepted TSO ("big packets"), MTU-sized ones otherwise.
//
// Rate limits, one RateLimiter per direction, each frame costing one operation and its bytes
// (header included). A transmit chain is paid for before it is sent; a receive chain is paid
// for after the frame landed in it, but only received into once the limiter could pay for a
// full chain. A direction out of tokens stops, holding its popped chain, and asks the worker to
// resume it when the tokens are back (Throttleable); meanwhile frames wait in the tap, and TCP
// slows down as it would behind a slow link.
//
// Host input: the receive queue is processed when the tap has frames (HostInput), but only
// while the device holds or can pop a receive chain and is not throttled.
class VirtioNet : public VirtioDevice, public Throttleable, public HostInput {
public:
    static constexpr unsigned kReceiveQueue = 0;
    static constexpr unsigned kTransmitQueue = 1;
    static constexpr uint64_t kHeaderBytes = 12;
    // Header plus the largest TSO frame tun hands out (64 KiB + an Ethernet header with VLAN
    // tag), as Firecracker bounds it.
    static constexpr uint64_t kMaxPacketBytes = 65562;
    // Frames per direction before the worker looks at the other queue and the guest is
    // interrupted.
    static constexpr unsigned kBatch = 64;

    // Feature bits (5.1.3).
    static constexpr uint64_t kFeatureCsum = 1ull << 0;
    static constexpr uint64_t kFeatureGuestCsum = 1ull << 1;
    static constexpr uint64_t kFeatureMac = 1ull << 5;
    static constexpr uint64_t kFeatureGuestTso4 = 1ull << 7;
    static constexpr uint64_t kFeatureGuestTso6 = 1ull << 8;
    static constexpr uint64_t kFeatureHostTso4 = 1ull << 11;
    static constexpr uint64_t kFeatureHostTso6 = 1ull << 12;

    using Mac = std::array<uint8_t, 6>;

    struct Stats {
        uint64_t receivedFrames = 0;
        uint64_t receivedBytes = 0;  // headers included
        uint64_t sentFrames = 0;
        uint64_t sentBytes = 0;      // headers included
        uint64_t receiveDropped = 0;  // frames the backend failed to hand over (too big, error)
        uint64_t sendDropped = 0;     // frames the backend refused (bad header, error)
        uint64_t refusedChains = 0;   // chains of the wrong shape, returned unused
        uint64_t receiveThrottled = 0;  // times receiving had to wait for the rate limit
        uint64_t sendThrottled = 0;     // frames that had to wait for the rate limit, each once
    };

    VirtioNet(std::string name, std::unique_ptr<NetBackend> backend, Mac mac,
              RateLimiter receiveLimit = {}, RateLimiter sendLimit = {});

    uint32_t deviceType() const override;
    uint64_t offeredFeatures() const override;
    unsigned queueCount() const override { return 2; }
    void readConfig(uint64_t offset, std::span<uint8_t> data) override;
    void activate(uint64_t features) override;
    void processQueue(unsigned index, VirtQueue& queue) override;
    void reset() override;
    void setWakeUp(WakeUp wakeUp) override;

    int hostInputFd() const override { return backend_->fd(); }
    unsigned hostInputQueue() const override { return kReceiveQueue; }
    bool wantsHostInput() const override { return wantsInput_.load(); }

    const Mac& mac() const { return mac_; }
    Stats stats() const;

private:
    void receive(VirtQueue& queue);
    void transmit(VirtQueue& queue);
    void wakeUp(unsigned queue, std::chrono::nanoseconds after);
    // A chain that cannot be a packet: back to the driver unused.
    void refuse(VirtQueue& queue, const DescriptorChain& chain, const std::string& why);

    std::unique_ptr<NetBackend> backend_;
    Mac mac_;
    // Worker thread only (processQueue), or under the transport's lock (activate, reset).
    RateLimiter receiveLimit_;
    RateLimiter sendLimit_;
    DescriptorChain receiveChain_;
    DescriptorChain sendChain_;
    bool holdingReceive_ = false;  // receiveChain_ is popped, not yet used
    bool holdingSend_ = false;     // sendChain_ is popped, not yet paid for
    std::vector<iovec> iovecs_;
    std::atomic<bool> wantsInput_{false};

    std::mutex wakeUpMutex_;
    WakeUp wakeUp_;

    std::atomic<uint64_t> receivedFrames_{0}, receivedBytes_{0}, sentFrames_{0}, sentBytes_{0};
    std::atomic<uint64_t> receiveDropped_{0}, sendDropped_{0}, refusedChains_{0};
    std::atomic<uint64_t> receiveThrottled_{0}, sendThrottled_{0};
};

}  // namespace ingot::vmm::virtio
