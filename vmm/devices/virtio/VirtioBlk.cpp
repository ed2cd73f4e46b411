#include "devices/virtio/VirtioBlk.h"

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

// struct virtio_blk_config offsets (5.2.4).
constexpr size_t kConfigCapacity = 0;
constexpr size_t kConfigSegMax = 12;

}  // namespace

VirtioBlk::VirtioBlk(std::string name, std::unique_ptr<BlockBackend> backend, std::string id)
    : VirtioDevice(std::move(name)), backend_(std::move(backend)) {
    std::memcpy(id_.data(), id.data(), std::min(id.size(), id_.size()));
    uint64_t capacity = capacitySectors();
    std::memcpy(config_.data() + kConfigCapacity, &capacity, 8);
    // Linux sizes its requests by seg_max (plus header and status), and a chain may not hold
    // more buffers than the queue has entries; without SEG_MAX it sends one segment per request.
    uint32_t segMax = VirtQueue::kMaxSize - 2;
    std::memcpy(config_.data() + kConfigSegMax, &segMax, 4);
}

uint32_t VirtioBlk::deviceType() const {
    return kDeviceBlock;
}

uint64_t VirtioBlk::offeredFeatures() const {
    uint64_t f =
        kFeatureVersion1 | kFeatureIndirectDesc | kFeatureEventIdx | kFeatureSegMax | kFeatureFlush;
    if (backend_->readOnly()) f |= kFeatureRo;
    return f;
}

void VirtioBlk::readConfig(uint64_t offset, std::span<uint8_t> data) {
    for (size_t i = 0; i < data.size(); ++i)
        data[i] = offset + i < config_.size() ? config_[offset + i] : 0;
}

VirtioBlk::Stats VirtioBlk::stats() const {
    return {requests_.load(), bytesRead_.load(), bytesWritten_.load(), flushes_.load(),
            errors_.load()};
}

void VirtioBlk::processQueue(unsigned, VirtQueue& queue) {
    while (queue.pop(chain_)) queue.pushUsed(chain_.head(), handleRequest(chain_));
}

uint8_t VirtioBlk::fail(const std::string& why) {
    log().report(why);
    return kStatusIoErr;
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
        default:
            log().report("request type " + std::to_string(type) + " is not supported");
            return kStatusUnsupported;
    }
}

}  // namespace ingot::vmm::virtio
