#include "devices/virtio/VirtioNet.h"

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "devices/virtio/VirtioSpec.h"

namespace ingot::vmm::virtio {

namespace {
// Offset of num_buffers in virtio 1.x's virtio_net_hdr. tun skips these two bytes on receive
// (its header is the 10-byte legacy one), so the device fills them: one buffer per frame
// without VIRTIO_NET_F_MRG_RXBUF.
constexpr uint64_t kNumBuffersOffset = 10;
}  // namespace

VirtioNet::VirtioNet(std::string name, std::unique_ptr<NetBackend> backend, Mac mac,
                     RateLimiter receiveLimit, RateLimiter sendLimit)
    : VirtioDevice(std::move(name)),
      backend_(std::move(backend)),
      mac_(mac),
      receiveLimit_(std::move(receiveLimit)),
      sendLimit_(std::move(sendLimit)) {}

uint32_t VirtioNet::deviceType() const {
    return kDeviceNet;
}

uint64_t VirtioNet::offeredFeatures() const {
    return kFeatureVersion1 | kFeatureIndirectDesc | kFeatureEventIdx | kFeatureMac |
           kFeatureCsum | kFeatureGuestCsum | kFeatureGuestTso4 | kFeatureGuestTso6 |
           kFeatureHostTso4 | kFeatureHostTso6;
}

void VirtioNet::readConfig(uint64_t offset, std::span<uint8_t> data) {
    // struct virtio_net_config: mac[6], then status, max_virtqueue_pairs and mtu, which exist
    // only with features not offered; they read as zero.
    for (size_t i = 0; i < data.size(); ++i)
        data[i] = offset + i < mac_.size() ? mac_[offset + i] : 0;
}

void VirtioNet::activate(uint64_t features) {
    const bool checksum = features & kFeatureGuestCsum;
    if (auto why = backend_->setReceiveOffloads(checksum, checksum && (features & kFeatureGuestTso4),
                                                checksum && (features & kFeatureGuestTso6));
        !why.empty())
        log().report(backend_->describe() + ": receive offloads not enabled: " + why);
    wantsInput_ = true;
}

void VirtioNet::reset() {
    wantsInput_ = false;
    holdingReceive_ = holdingSend_ = false;
    if (auto why = backend_->setReceiveOffloads(false, false, false); !why.empty())
        log().report(backend_->describe() + ": receive offloads not disabled: " + why);
}

void VirtioNet::setWakeUp(WakeUp wakeUp) {
    std::lock_guard lock(wakeUpMutex_);
    wakeUp_ = std::move(wakeUp);
}

void VirtioNet::wakeUp(unsigned queue, std::chrono::nanoseconds after) {
    std::lock_guard lock(wakeUpMutex_);
    if (wakeUp_) wakeUp_(queue, after);
}

void VirtioNet::processQueue(unsigned index, VirtQueue& queue) {
    if (index == kReceiveQueue)
        receive(queue);
    else if (index == kTransmitQueue)
        transmit(queue);
}

void VirtioNet::refuse(VirtQueue& queue, const DescriptorChain& chain, const std::string& why) {
    ++refusedChains_;
    log().report("queue " + std::to_string(queue.index()) + ": chain at descriptor " +
                 std::to_string(chain.head()) + ": " + why + "; returned unused");
    queue.pushUsed(chain.head(), 0);
}

void VirtioNet::receive(VirtQueue& queue) {
    for (unsigned frames = 0; frames < kBatch;) {
        if (!holdingReceive_) {
            if (!queue.pop(receiveChain_)) {
                // Nowhere to put a frame: the driver's next buffers come with a notification.
                wantsInput_ = false;
                return;
            }
            if (receiveChain_.readableBytes() != 0 || receiveChain_.writableBytes() < kHeaderBytes) {
                refuse(queue, receiveChain_,
                       "a receive buffer needs at least " + std::to_string(kHeaderBytes) +
                           " device-writable and no device-readable bytes (has " +
                           std::to_string(receiveChain_.writableBytes()) + " and " +
                           std::to_string(receiveChain_.readableBytes()) + ")");
                continue;
            }
            holdingReceive_ = true;
        }
        const uint64_t capacity = std::min(receiveChain_.writableBytes(), kMaxPacketBytes);
        if (!receiveLimit_.canPay(capacity, 1)) {
            ++receiveThrottled_;
            wantsInput_ = false;
            wakeUp(kReceiveQueue, receiveLimit_.timeUntil(capacity, 1));
            return;
        }
        iovecs_.clear();
        receiveChain_.writableIovecs(0, capacity, iovecs_);
        const ssize_t got = ::readv(backend_->fd(), iovecs_.data(), static_cast<int>(iovecs_.size()));
        if (got < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                wantsInput_ = true;  // the chain stays held for the next frame
                return;
            }
            const int error = errno;
            ++receiveDropped_;
            ++frames;
            log().report(backend_->describe() + ": receive: " + std::strerror(error) +
                         "; frame dropped");
            // A frame the kernel could not copy (EFAULT, EINVAL) is lost and the chain waits for
            // the next one. Any other error may last: stop polling rather than spin on a
            // readable descriptor, until the driver's next buffers bring the worker back.
            if (error != EFAULT && error != EINVAL && error != EMSGSIZE) {
                wantsInput_ = false;
                return;
            }
            continue;
        }
        ++frames;
        if (static_cast<uint64_t>(got) > capacity) {
            // tun reports a frame's whole length even when the chain held only part of it: a
            // truncated frame is dropped, never handed over with a used length beyond the chain.
            ++receiveDropped_;
            log().report(backend_->describe() + ": a " + std::to_string(got) +
                         "-byte frame does not fit a " + std::to_string(capacity) +
                         "-byte receive buffer; dropped");
            continue;
        }
        if (static_cast<uint64_t>(got) < kHeaderBytes) {
            ++receiveDropped_;
            log().report(backend_->describe() + ": a " + std::to_string(got) +
                         "-byte frame is shorter than its header; dropped");
            continue;
        }
        const uint8_t oneBuffer[2] = {1, 0};
        receiveChain_.write(kNumBuffersOffset, oneBuffer);
        receiveLimit_.take(static_cast<uint64_t>(got), 1);
        holdingReceive_ = false;
        queue.pushUsed(receiveChain_.head(), static_cast<uint32_t>(got));
        ++receivedFrames_;
        receivedBytes_ += static_cast<uint64_t>(got);
    }
    // More may be waiting: the tap stays readable and the worker comes back after the
    // interrupt for this batch.
    wantsInput_ = true;
}

void VirtioNet::transmit(VirtQueue& queue) {
    for (unsigned frames = 0; frames < kBatch; ++frames) {
        if (!holdingSend_) {
            if (!queue.pop(sendChain_)) return;
            holdingSend_ = true;
            const uint64_t bytes = sendChain_.readableBytes();
            if (bytes < kHeaderBytes || bytes > kMaxPacketBytes || sendChain_.writableBytes() != 0) {
                holdingSend_ = false;
                refuse(queue, sendChain_,
                       "a transmit buffer needs " + std::to_string(kHeaderBytes) + " to " +
                           std::to_string(kMaxPacketBytes) +
                           " device-readable and no device-writable bytes (has " +
                           std::to_string(bytes) + " and " +
                           std::to_string(sendChain_.writableBytes()) + ")");
                continue;
            }
            if (!sendLimit_.canPay(bytes, 1)) ++sendThrottled_;
        }
        const uint64_t bytes = sendChain_.readableBytes();
        if (!sendLimit_.consume(bytes, 1)) {
            wakeUp(kTransmitQueue, sendLimit_.timeUntil(bytes, 1));
            return;
        }
        holdingSend_ = false;
        iovecs_.clear();
        sendChain_.readableIovecs(0, bytes, iovecs_);
        ssize_t sent;
        do {
            sent = ::writev(backend_->fd(), iovecs_.data(), static_cast<int>(iovecs_.size()));
        } while (sent < 0 && errno == EINTR);
        if (sent < 0) {
            // A full tap queue (EAGAIN) or a header tun refused (EINVAL): a lost frame, which
            // the guest's protocols recover from as from any lossy link.
            ++sendDropped_;
            log().report(backend_->describe() + ": transmit: " + std::strerror(errno) +
                         "; frame dropped");
        } else {
            ++sentFrames_;
            sentBytes_ += bytes;
        }
        queue.pushUsed(sendChain_.head(), 0);
    }
    // A batch's worth sent: let the guest hear about it, then carry on without waiting for a
    // notification (the driver sends none for chains it already made available).
    wakeUp(kTransmitQueue, std::chrono::nanoseconds(0));
}

VirtioNet::Stats VirtioNet::stats() const {
    Stats s;
    s.receivedFrames = receivedFrames_.load();
    s.receivedBytes = receivedBytes_.load();
    s.sentFrames = sentFrames_.load();
    s.sentBytes = sentBytes_.load();
    s.receiveDropped = receiveDropped_.load();
    s.sendDropped = sendDropped_.load();
    s.refusedChains = refusedChains_.load();
    s.receiveThrottled = receiveThrottled_.load();
    s.sendThrottled = sendThrottled_.load();
    return s;
}

}  // namespace ingot::vmm::virtio
