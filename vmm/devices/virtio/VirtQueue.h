#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "GuestMemory.h"
#include "RateLimitedLog.h"

namespace ingot::vmm::virtio {

// Where the driver placed one split virtqueue (virtio 1.2, 2.7), as the transport's registers
// describe it.
struct QueueLayout {
    uint32_t size = 0;       // as written to the register; checkLayout bounds it
    uint64_t descTable = 0;  // Descriptor Area
    uint64_t availRing = 0;  // Driver Area
    uint64_t usedRing = 0;   // Device Area
};

// One guest buffer of a chain, already checked to lie inside guest RAM.
struct ChainBuffer {
    uint64_t gpa;
    std::span<uint8_t> bytes;
};

// A descriptor chain taken from the available ring: its device-readable buffers, then its
// device-writable ones (the order virtio requires of drivers), each seen as one byte stream.
class DescriptorChain {
public:
    uint16_t head() const { return head_; }
    const std::vector<ChainBuffer>& readable() const { return readable_; }
    const std::vector<ChainBuffer>& writable() const { return writable_; }
    uint64_t readableBytes() const { return readableBytes_; }
    uint64_t writableBytes() const { return writableBytes_; }

    // Copies bytes [offset, offset + out.size()) of the readable stream; false (nothing copied)
    // when the stream is shorter.
    bool read(uint64_t offset, std::span<uint8_t> out) const;
    // Copies `in` to bytes [offset, offset + in.size()) of the writable stream; false (nothing
    // written) when the stream is shorter.
    bool write(uint64_t offset, std::span<const uint8_t> in) const;
    // Appends iovecs covering [offset, offset + length) of the readable or writable stream;
    // false when the stream is shorter.
    bool readableIovecs(uint64_t offset, uint64_t length, std::vector<iovec>& out) const {
        return iovecs(readable_, offset, length, out);
    }
    bool writableIovecs(uint64_t offset, uint64_t length, std::vector<iovec>& out) const {
        return iovecs(writable_, offset, length, out);
    }

private:
    friend class VirtQueue;
    static bool iovecs(const std::vector<ChainBuffer>& buffers, uint64_t offset, uint64_t length,
                       std::vector<iovec>& out);
    void clear(uint16_t head) {
        head_ = head;
        readable_.clear();
        writable_.clear();
        readableBytes_ = writableBytes_ = 0;
    }

    uint16_t head_ = 0;
    std::vector<ChainBuffer> readable_;
    std::vector<ChainBuffer> writable_;
    uint64_t readableBytes_ = 0;
    uint64_t writableBytes_ = 0;
};

// The device side of one split virtqueue. Everything the guest wrote is checked before use:
// ring indices, every descriptor's buffer (inside guest RAM, not empty), chain length (at most
// the queue size, which also catches loops), indirect tables (negotiated, not nested, not
// chained, whole descriptors, inside guest RAM) and buffer order. A chain that breaks a rule is
// handed back to the driver unused (length 0) and reported once through the rate-limited log;
// an available ring that cannot be trusted at all (an index that jumps further than the queue
// size, a head outside the table) makes the queue "broken", and the transport then asks the
// driver for a reset. Nothing a guest writes can make the monitor read or write outside guest
// RAM.
//
// Not thread-safe: one thread (the device's worker) owns a queue while it is active.
class VirtQueue {
public:
    // The largest queue the monitor offers: enough for a block device to keep a deep request
    // queue, small enough that a chain's buffers fit in one preadv (IOV_MAX is 1024).
    static constexpr uint16_t kMaxSize = 256;

    // Empty when `layout` is usable with at most `maxSize` entries; otherwise why not (size not
    // a power of two, a ring misaligned or outside guest RAM).
    static std::string checkLayout(GuestMemory& memory, const QueueLayout& layout,
                                   uint16_t maxSize);

    // `features` are the negotiated ones (VIRTIO_F_INDIRECT_DESC, VIRTIO_F_EVENT_IDX matter
    // here). The layout must have passed checkLayout. Resets the used ring's flags and index.
    VirtQueue(GuestMemory& memory, const QueueLayout& layout, uint64_t features, unsigned index,
              RateLimitedLog& log);

    // Takes the next well-formed chain into `chain`. False when the driver has made nothing
    // more available, or the queue is broken.
    bool pop(DescriptorChain& chain);
    // Returns a chain to the driver; `written` is how many bytes the device wrote into its
    // writable buffers. The used element is visible to the driver before the new used index.
    void pushUsed(uint16_t head, uint32_t written);
    // Whether the driver asked for a used-buffer notification covering what was pushed since
    // the previous call (VIRTQ_AVAIL_F_NO_INTERRUPT or, with VIRTIO_F_EVENT_IDX, used_event).
    bool needsNotification();

    bool broken() const { return broken_; }
    uint16_t size() const { return size_; }
    unsigned index() const { return index_; }
    uint64_t malformedChains() const { return malformed_; }

private:
    bool walk(uint16_t head, DescriptorChain& chain, std::string& why);
    void markBroken(const std::string& why);
    uint16_t availIndex() const;
    uint16_t availRingEntry(uint16_t slot) const;

    GuestMemory& memory_;
    RateLimitedLog& log_;
    unsigned index_;
    uint16_t size_;
    bool indirect_;
    bool eventIdx_;
    uint8_t* desc_;   // host view of the descriptor table, 16 * size bytes
    uint8_t* avail_;  // flags, idx, ring[size], used_event
    uint8_t* used_;   // flags, idx, ring[size] of {id, len}, avail_event
    uint16_t nextAvail_ = 0;
    uint16_t nextUsed_ = 0;
    uint16_t signalledUsed_ = 0;
    bool broken_ = false;
    uint64_t malformed_ = 0;
};

}  // namespace ingot::vmm::virtio
