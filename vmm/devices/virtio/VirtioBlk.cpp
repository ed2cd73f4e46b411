#include "devices/virtio/VirtioBlk.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "devices/virtio/VirtioSpec.h"

namespace ingot::vmm::virtio {

namespace {

struct RequestHeader {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};
static_assert(sizeof(RequestHeader) == 16);

// struct virtio_blk_discard_write_zeroes (5.2.6).
struct Segment {
    uint64_t sector;
    uint32_t numSectors;
    uint32_t flags;
};
static_assert(sizeof(Segment) == VirtioBlk::kSegmentBytes);

// struct virtio_blk_config offsets (5.2.4).
constexpr size_t kConfigCapacity = 0;
constexpr size_t kConfigSegMax = 12;
constexpr size_t kConfigMaxDiscardSectors = 36;
constexpr size_t kConfigMaxDiscardSeg = 40;
constexpr size_t kConfigDiscardSectorAlignment = 44;
constexpr size_t kConfigMaxWriteZeroesSectors = 48;
constexpr size_t kConfigMaxWriteZeroesSeg = 52;
constexpr size_t kConfigWriteZeroesMayUnmap = 56;

std::string hex(uint32_t v) {
    char text[9];
    std::snprintf(text, sizeof text, "%x", v);
    return text;
}

}  // namespace

VirtioBlk::VirtioBlk(std::string name, std::unique_ptr<BlockBackend> backend, std::string id,
                     RateLimiter limiter)
    : VirtioDevice(std::move(name)), backend_(std::move(backend)), limiter_(std::move(limiter)) {
    std::memcpy(id_.data(), id.data(), std::min(id.size(), id_.size()));
    uint64_t capacity = capacitySectors();
    std::memcpy(config_.data() + kConfigCapacity, &capacity, 8);
    // Linux sizes its requests by seg_max (plus header and status), and a chain may not hold
    // more buffers than the queue has entries; without SEG_MAX it sends one segment per request.
    uint32_t segMax = VirtQueue::kMaxSize - 2;
    std::memcpy(config_.data() + kConfigSegMax, &segMax, 4);

    uint32_t granularity = backend_->discardGranularity();
    discard_ = !backend_->readOnly() && granularity != 0;
    if (discard_) {
        auto put32 = [this](size_t at, uint32_t v) { std::memcpy(config_.data() + at, &v, 4); };
        put32(kConfigMaxDiscardSectors, kMaxDiscardSectors);
        put32(kConfigMaxDiscardSeg, kMaxDiscardSegments);
        // Linux takes this (in sectors) as the discard granularity of the guest's disk.
        put32(kConfigDiscardSectorAlignment,
              std::max<uint32_t>(1, granularity / static_cast<uint32_t>(kSectorBytes)));
        put32(kConfigMaxWriteZeroesSectors, kMaxDiscardSectors);
        put32(kConfigMaxWriteZeroesSeg, kMaxDiscardSegments);
        // WRITE_ZEROES with the unmap flag does free space (the backend may punch a hole).
        config_[kConfigWriteZeroesMayUnmap] = 1;
    }
}

uint32_t VirtioBlk::deviceType() const {
    return kDeviceBlock;
}

uint64_t VirtioBlk::offeredFeatures() const {
    uint64_t f =
        kFeatureVersion1 | kFeatureIndirectDesc | kFeatureEventIdx | kFeatureSegMax | kFeatureFlush;
    if (backend_->readOnly()) f |= kFeatureRo;
    if (discard_) f |= kFeatureDiscard | kFeatureWriteZeroes;
    return f;
}

void VirtioBlk::readConfig(uint64_t offset, std::span<uint8_t> data) {
    for (size_t i = 0; i < data.size(); ++i)
        data[i] = offset + i < config_.size() ? config_[offset + i] : 0;
}

VirtioBlk::Stats VirtioBlk::stats() const {
    Stats s;
    s.requests = requests_.load();
    s.bytesRead = bytesRead_.load();
    s.bytesWritten = bytesWritten_.load();
    s.flushes = flushes_.load();
    s.errors = errors_.load();
    s.discards = discards_.load();
    s.writeZeroes = writeZeroes_.load();
    s.throttled = throttled_.load();
    return s;
}

void VirtioBlk::processQueue(unsigned index, VirtQueue& queue) {
    for (;;) {
        // A held request goes first: requests are answered in the order the driver made them
        // available, and nothing more is taken from the ring while one waits.
        if (!held_ && !queue.pop(chain_)) return;
        if (!limiter_.unlimited()) {
            const uint64_t bytes = costBytes(chain_);
            if (!limiter_.consume(bytes, 1)) {
                if (!held_) ++throttled_;
                held_ = true;
                auto after = limiter_.timeUntil(bytes, 1);
                std::lock_guard lock(wakeUpMutex_);
                if (wakeUp_) wakeUp_(index, after);
                return;
            }
        }
        held_ = false;
        queue.pushUsed(chain_.head(), handleRequest(chain_));
    }
}

void VirtioBlk::reset() {
    // Serialised with processQueue by the transport. The held chain belongs to rings the driver
    // has taken back. (A queue disabled and enabled again without a reset is not seen here;
    // Linux only disables queues on its way to a reset.)
    held_ = false;
}

void VirtioBlk::setWakeUp(WakeUp wakeUp) {
    std::lock_guard lock(wakeUpMutex_);
    wakeUp_ = std::move(wakeUp);
}

uint64_t VirtioBlk::costBytes(const DescriptorChain& chain) const {
    RequestHeader header{};
    if (!chain.read(0, {reinterpret_cast<uint8_t*>(&header), sizeof header})) return 0;
    if (header.type == kTypeIn)
        return chain.writableBytes() > 0 ? chain.writableBytes() - 1 : 0;  // less the status
    if (header.type == kTypeOut) return chain.readableBytes() - sizeof header;
    return 0;
}

uint8_t VirtioBlk::fail(const std::string& why) {
    log().report(why);
    return kStatusIoErr;
}

uint8_t VirtioBlk::unsupported(const std::string& why) {
    log().report(why);
    return kStatusUnsupported;
}

bool VirtioBlk::inRange(uint64_t sector, uint64_t bytes) const {
    uint64_t capacity = capacitySectors();
    return sector <= capacity && bytes / kSectorBytes <= capacity - sector;
}

uint32_t VirtioBlk::handleRequest(const DescriptorChain& chain) {
    ++requests_;
    // The status byte is the last writable byte; without one the request cannot even fail.
    if (chain.writableBytes() == 0) {
        ++errors_;
        log().report("request without a writable status byte; returned unanswered");
        return 0;
    }
    uint64_t statusAt = chain.writableBytes() - 1;
    RequestHeader header{};
    uint64_t written = 0;
    uint8_t status;
    if (!chain.read(0, {reinterpret_cast<uint8_t*>(&header), sizeof header})) {
        status =
            fail("request header is " + std::to_string(chain.readableBytes()) + " bytes, not 16");
    } else {
        status = serve(chain, header.type, header.sector, chain.readableBytes() - sizeof header,
                       statusAt, &written);
    }
    if (status != kStatusOk) {
        ++errors_;
        written = 0;
    }
    chain.write(statusAt, {&status, 1});
    return static_cast<uint32_t>(written + 1);
}

// `dataOut`: bytes after the header the driver gave us to write; `dataIn`: writable bytes before
// the status byte. Sets *written to the data bytes put into the chain.
uint8_t VirtioBlk::serve(const DescriptorChain& chain, uint32_t type, uint64_t sector,
                         uint64_t dataOut, uint64_t dataIn, uint64_t* written) {
    auto range = [&](uint64_t bytes) {
        return "sectors " + std::to_string(sector) + "+" + std::to_string(bytes / kSectorBytes) +
               " of a disk of " + std::to_string(capacitySectors());
    };
    switch (type) {
        case kTypeIn: {
            if (dataOut != 0) return fail("read request carries data to write");
            if (dataIn % kSectorBytes != 0)
                return fail("read of " + std::to_string(dataIn) + " bytes, not whole sectors");
            if (dataIn > kMaxRequestBytes)
                return fail("read of " + std::to_string(dataIn) + " bytes, more than the " +
                            std::to_string(kMaxRequestBytes) + " one request may move");
            if (!inRange(sector, dataIn)) return fail("read of " + range(dataIn) + " past its end");
            iovecs_.clear();
            chain.writableIovecs(0, dataIn, iovecs_);
            if (int err = backend_->read(sector * kSectorBytes, iovecs_))
                return fail("read of " + range(dataIn) + " from " + backend_->describe() +
                            " failed: " + std::strerror(err));
            bytesRead_ += dataIn;
            *written = dataIn;
            return kStatusOk;
        }
        case kTypeOut: {
            if (backend_->readOnly()) return fail("write to a read-only disk refused");
            if (dataIn != 0) return fail("write request has writable buffers besides its status");
            if (dataOut % kSectorBytes != 0)
                return fail("write of " + std::to_string(dataOut) + " bytes, not whole sectors");
            if (dataOut > kMaxRequestBytes)
                return fail("write of " + std::to_string(dataOut) + " bytes, more than the " +
                            std::to_string(kMaxRequestBytes) + " one request may move");
            if (!inRange(sector, dataOut))
                return fail("write of " + range(dataOut) + " past its end");
            iovecs_.clear();
            chain.readableIovecs(sizeof(RequestHeader), dataOut, iovecs_);
            if (int err = backend_->write(sector * kSectorBytes, iovecs_))
                return fail("write of " + range(dataOut) + " to " + backend_->describe() +
                            " failed: " + std::strerror(err));
            bytesWritten_ += dataOut;
            return kStatusOk;
        }
        case kTypeFlush: {
            ++flushes_;
            if (int err = backend_->flush())
                return fail("flush of " + backend_->describe() + " failed: " + std::strerror(err));
            return kStatusOk;
        }
        case kTypeGetId: {
            // NUL-padded, not NUL-terminated when all 20 bytes are used.
            uint64_t n = std::min<uint64_t>(dataIn, kIdBytes);
            chain.write(0, {id_.data(), static_cast<size_t>(n)});
            *written = n;
            return kStatusOk;
        }
        case kTypeDiscard:
        case kTypeWriteZeroes:
            return serveDiscardOrWriteZeroes(chain, type, dataOut, dataIn);
        default:
            return unsupported("request type " + std::to_string(type) + " is not supported");
    }
}

// DISCARD and WRITE_ZEROES. The header's sector is unused (5.2.6); the ranges are in the
// segments. Every segment is checked before the first one is handed to the backend, so a
// request that fails a check leaves the disk untouched.
uint8_t VirtioBlk::serveDiscardOrWriteZeroes(const DescriptorChain& chain, uint32_t type,
                                             uint64_t dataOut, uint64_t dataIn) {
    bool isDiscard = type == kTypeDiscard;
    std::string what = isDiscard ? "discard" : "write-zeroes";
    // A read-only disk refuses as it refuses writes (5.2.6.2: IOERR, nothing written).
    if (backend_->readOnly()) return fail(what + " on a read-only disk refused");
    if (!discard_)
        return unsupported(what + " requested, but " + backend_->describe() +
                           " does not support it (the feature was not offered)");
    if (dataIn != 0) return fail(what + " request has writable buffers besides its status");
    if (dataOut == 0 || dataOut % kSegmentBytes != 0)
        return fail(what + " request carries " + std::to_string(dataOut) +
                    " bytes of segments, not a non-zero multiple of 16");
    uint64_t count = dataOut / kSegmentBytes;
    if (count > kMaxDiscardSegments)
        return fail(what + " request has " + std::to_string(count) + " segments, more than the " +
                    std::to_string(kMaxDiscardSegments) + " advertised");
    std::array<Segment, kMaxDiscardSegments> segments{};
    if (!chain.read(sizeof(RequestHeader),
                    {reinterpret_cast<uint8_t*>(segments.data()), count * kSegmentBytes}))
        return fail(what + " segments could not be read");  // cannot happen: dataOut covers them

    uint64_t capacity = capacitySectors();
    for (uint64_t i = 0; i < count; ++i) {
        const Segment& s = segments[i];
        std::string which = what + " segment " + std::to_string(i) + " (sectors " +
                            std::to_string(s.sector) + "+" + std::to_string(s.numSectors) + ")";
        // 5.2.6.2: UNSUPP for any unknown flag, and for unmap on a discard.
        if (s.flags & ~kSegmentFlagUnmap)
            return unsupported(which + " has unknown flag bits 0x" + hex(s.flags));
        if (isDiscard && (s.flags & kSegmentFlagUnmap))
            return unsupported(which + " has the unmap flag, which only write-zeroes takes");
        if (s.numSectors > kMaxDiscardSectors)
            return fail(which + " is longer than the " + std::to_string(kMaxDiscardSectors) +
                        " sectors advertised");
        if (s.sector > capacity || s.numSectors > capacity - s.sector)
            return fail(which + " goes past the end of a disk of " + std::to_string(capacity));
    }

    for (uint64_t i = 0; i < count; ++i) {
        const Segment& s = segments[i];
        if (s.numSectors == 0) continue;
        uint64_t offset = s.sector * kSectorBytes;
        uint64_t length = uint64_t{s.numSectors} * kSectorBytes;
        int err = isDiscard ? backend_->discard(offset, length)
                            : backend_->writeZeroes(offset, length, s.flags & kSegmentFlagUnmap);
        if (err) {
            std::string why = what + " of sectors " + std::to_string(s.sector) + "+" +
                              std::to_string(s.numSectors) + " on " + backend_->describe() +
                              " failed: " + std::strerror(err);
            // Earlier segments may have been done; 5.2.6 leaves their state open on an error.
            return err == EOPNOTSUPP ? unsupported(why) : fail(why);
        }
    }
    ++(isDiscard ? discards_ : writeZeroes_);
    return kStatusOk;
}

}  // namespace ingot::vmm::virtio
