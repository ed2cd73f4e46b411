#include "devices/virtio/VirtioMmioTransport.h"

#include <cstdio>

#include "devices/virtio/VirtioSpec.h"

namespace ingot::vmm::virtio {

namespace {
std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}
}  // namespace

VirtioMmioTransport::VirtioMmioTransport(GuestMemory& memory, std::shared_ptr<VirtioDevice> device,
                                         std::unique_ptr<EdgeInterrupt> interrupt)
    : memory_(memory),
      device_(std::move(device)),
      interrupt_(std::move(interrupt)),
      offered_(device_->offeredFeatures()) {
    unsigned count = device_->queueCount();
    queueRegs_.resize(count);
    queues_.resize(count);
    for (unsigned i = 0; i < count; ++i) queueRegs_[i].maxSize = device_->queueMaxSize(i);
    device_->setConfigChangedHandler([this] { configChanged(); });
}

// The device may outlive the transport (the VM keeps some for their counters).
VirtioMmioTransport::~VirtioMmioTransport() {
    device_->setConfigChangedHandler(nullptr);
}

void VirtioMmioTransport::read(uint64_t offset, std::span<uint8_t> data) {
    if (offset >= mmio::kConfig) {
        device_->readConfig(offset - mmio::kConfig, data);
        return;
    }
    if (data.size() != 4 || offset % 4 != 0) {
        device_->log().report(std::to_string(data.size()) + "-byte read of register " +
                              hex(offset) + ": registers take aligned 32-bit accesses");
        fillAccess(data, 0);
        return;
    }
    std::lock_guard lock(registers_);
    fillAccess(data, readRegister(offset));
}

void VirtioMmioTransport::write(uint64_t offset, std::span<const uint8_t> data) {
    if (offset >= mmio::kConfig) {
        device_->writeConfig(offset - mmio::kConfig, data);
        return;
    }
    if (data.size() != 4 || offset % 4 != 0) {
        device_->log().report(std::to_string(data.size()) + "-byte write of register " +
                              hex(offset) + ": registers take aligned 32-bit accesses");
        return;
    }
    std::optional<unsigned> notify;
    {
        std::lock_guard lock(registers_);
        notify = writeRegister(offset, static_cast<uint32_t>(accessValue(data)));
    }
    // Outside the register lock: processing may take a while, and other vCPUs must still be
    // able to read InterruptStatus meanwhile.
    if (notify) {
        if (notify_)
            notify_(*notify);
        else
            processQueue(*notify);
    }
}

uint32_t VirtioMmioTransport::readRegister(uint64_t offset) {
    const QueueRegisters* queue = queueSel_ < queueRegs_.size() ? &queueRegs_[queueSel_] : nullptr;
    switch (offset) {
        case mmio::kMagicValue:
            return mmio::kMagic;
        case mmio::kVersion:
            return mmio::kModernVersion;
        case mmio::kDeviceId:
            return device_->deviceType();
        case mmio::kVendorId:
            return kVendorId;
        case mmio::kDeviceFeatures:
            return deviceFeaturesSel_ < 2
                       ? static_cast<uint32_t>(offered_ >> (32 * deviceFeaturesSel_))
                       : 0;
        case mmio::kQueueNumMax:
            return queue ? queue->maxSize : 0;
        case mmio::kQueueReady:
            return queue && queue->ready ? 1 : 0;
        case mmio::kInterruptStatus:
            return interruptStatus_.load();
        case mmio::kStatus:
            return status_ | (needsReset_.load() ? kStatusDeviceNeedsReset : 0);
        // The device has no shared memory regions: every region reads as length and base -1.
        case mmio::kShmLenLow:
        case mmio::kShmLenHigh:
        case mmio::kShmBaseLow:
        case mmio::kShmBaseHigh:
            return 0xffffffff;
        case mmio::kConfigGeneration:
            return configGeneration_.load();
        default:
            return 0;  // write-only and unassigned registers
    }
}

void VirtioMmioTransport::setHalf(uint64_t& target, bool high, uint32_t value) {
    if (high)
        target = (target & 0xffffffffull) | (uint64_t{value} << 32);
    else
        target = (target & ~0xffffffffull) | value;
}

std::optional<unsigned> VirtioMmioTransport::writeRegister(uint64_t offset, uint32_t value) {
    QueueRegisters* queue = queueSel_ < queueRegs_.size() ? &queueRegs_[queueSel_] : nullptr;
    auto queueWritable = [&](const char* what) {
        if (!queue) return false;
        if (queue->ready) {
            device_->log().report(std::string(what) + " of queue " + std::to_string(queueSel_) +
                                  " written while the queue is ready; ignored");
            return false;
        }
        return true;
    };
    switch (offset) {
        case mmio::kDeviceFeaturesSel:
            deviceFeaturesSel_ = value;
            break;
        case mmio::kDriverFeaturesSel:
            driverFeaturesSel_ = value;
            break;
        case mmio::kDriverFeatures:
            if (status_ & kStatusFeaturesOk) {
                device_->log().report("driver features written after FEATURES_OK; ignored");
            } else if (driverFeaturesSel_ < 2) {
                setHalf(driverFeatures_, driverFeaturesSel_ == 1, value);
            }
            break;
        case mmio::kQueueSel:
            queueSel_ = value;
            break;
        case mmio::kQueueNum:
            if (queueWritable("QueueNum")) queue->size = value;
            break;
        case mmio::kQueueReady:
            if (queue && value <= 1) setQueueReady(queueSel_, value == 1);
            break;
        case mmio::kQueueNotify:
            if (value < queueRegs_.size()) return value;
            device_->log().report("notification for queue " + std::to_string(value) +
                                  ", which does not exist");
            break;
        case mmio::kInterruptAck:
            interruptStatus_.fetch_and(~value);
            break;
        case mmio::kStatus:
            writeStatus(value);
            break;
        case mmio::kQueueDescLow:
        case mmio::kQueueDescHigh:
            if (queueWritable("QueueDesc"))
                setHalf(queue->descTable, offset == mmio::kQueueDescHigh, value);
            break;
        case mmio::kQueueDriverLow:
        case mmio::kQueueDriverHigh:
            if (queueWritable("QueueDriver"))
                setHalf(queue->availRing, offset == mmio::kQueueDriverHigh, value);
            break;
        case mmio::kQueueDeviceLow:
        case mmio::kQueueDeviceHigh:
            if (queueWritable("QueueDevice"))
                setHalf(queue->usedRing, offset == mmio::kQueueDeviceHigh, value);
            break;
        case mmio::kShmSel:  // no shared memory regions to select
            break;
        case mmio::kQueueReset:
            break;  // VIRTIO_F_RING_RESET is not offered
        default:
            device_->log().report("write of " + hex(value) +
                                  " to read-only or unassigned register " + hex(offset) +
                                  "; ignored");
            break;
    }
    return std::nullopt;
}

void VirtioMmioTransport::writeStatus(uint32_t value) {
    if (value == 0) {
        resetLocked();
        return;
    }
    uint32_t current = status_;
    if ((value & current) != current) {
        device_->log().report("status " + hex(value) + " clears bits of " + hex(current) +
                              "; only a reset (0) may do that, ignored");
        return;
    }
    uint32_t added = value & ~current;
    if (added & kStatusFeaturesOk) {
        uint64_t unoffered = driverFeatures_ & ~offered_;
        if (unoffered != 0 || !(driverFeatures_ & kFeatureVersion1)) {
            device_->log().report(
                "driver features " + hex(driverFeatures_) +
                (unoffered ? " include ones never offered" : " lack VIRTIO_F_VERSION_1") +
                "; FEATURES_OK refused");
            value &= ~kStatusFeaturesOk;
        }
    }
    if ((added & kStatusDriverOk) && !(value & kStatusFeaturesOk)) {
        device_->log().report("DRIVER_OK without FEATURES_OK; ignored");
        value &= ~kStatusDriverOk;
    }
    status_ = value;
    if (!(added & kStatusDriverOk) || !(value & kStatusDriverOk) || (value & kStatusFailed)) return;
    std::lock_guard lock(processing_);
    for (unsigned q = 0; q < queueRegs_.size(); ++q) {
        if (queueRegs_[q].ready && !enableQueueLocked(q)) return;
    }
    device_->activate(driverFeatures_);
    active_ = true;
}

bool VirtioMmioTransport::enableQueueLocked(unsigned q) {
    const auto& r = queueRegs_[q];
    QueueLayout layout{r.size, r.descTable, r.availRing, r.usedRing};
    std::string why = VirtQueue::checkLayout(memory_, layout, r.maxSize);
    if (!why.empty()) {
        requestReset("queue " + std::to_string(q) + ": " + why);
        return false;
    }
    queues_[q].emplace(memory_, layout, driverFeatures_, q, device_->log());
    return true;
}

void VirtioMmioTransport::setQueueReady(unsigned q, bool ready) {
    auto& r = queueRegs_[q];
    if (r.ready == ready) return;
    // Waits for the device to finish with the queue: when the driver reads QueueReady back as
    // 0, the device no longer touches the rings (4.2.2.2).
    std::lock_guard lock(processing_);
    r.ready = ready;
    if (!ready)
        queues_[q].reset();
    else if (active_)
        enableQueueLocked(q);
}

void VirtioMmioTransport::resetLocked() {
    {
        std::lock_guard lock(processing_);
        active_ = false;
        for (auto& q : queues_) q.reset();
        device_->reset();
        interruptStatus_ = 0;
        needsReset_ = false;
    }
    status_ = 0;
    deviceFeaturesSel_ = driverFeaturesSel_ = queueSel_ = 0;
    driverFeatures_ = 0;
    for (auto& r : queueRegs_) r = QueueRegisters{.maxSize = r.maxSize};
}

void VirtioMmioTransport::requestReset(const std::string& why) {
    device_->log().report(why + "; the device needs a reset");
    flagNeedsReset();
}

void VirtioMmioTransport::flagNeedsReset() {
    // DEVICE_NEEDS_RESET with a configuration-change interrupt is how a device tells the driver
    // it cannot go on (2.1.1).
    if (!needsReset_.exchange(true)) {
        ++needsResets_;
        raise(kInterruptConfigChange);
    }
}

void VirtioMmioTransport::raise(uint32_t cause) {
    interruptStatus_.fetch_or(cause);
    interrupt_->trigger();
}

void VirtioMmioTransport::configChanged() {
    // Without the register locks: the device may call this from inside activate or
    // processQueue. A reset racing it may leave the bit set for the next driver, which then
    // reads the configuration once more.
    ++configGeneration_;
    raise(kInterruptConfigChange);
}

void VirtioMmioTransport::processQueue(unsigned q) {
    // Interrupts are raised under the lock too: a reset, which clears InterruptStatus under it,
    // then never sees a stale bit appear afterwards.
    std::lock_guard lock(processing_);
    if (!active_ || q >= queues_.size() || !queues_[q] || queues_[q]->broken()) return;
    VirtQueue& queue = *queues_[q];
    const uint64_t refusedBefore = queue.malformedChains();
    device_->processQueue(q, queue);
    refusedChains_ += queue.malformedChains() - refusedBefore;
    if (queue.needsNotification()) raise(kInterruptUsedBuffer);
    if (queue.broken()) flagNeedsReset();  // the queue logged why
}

}  // namespace ingot::vmm::virtio
