#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>

#include "RateLimitedLog.h"
#include "devices/virtio/VirtQueue.h"

namespace ingot::vmm::virtio {

// A virtio device model (block, later net, rng, ...) as a transport drives it: what it offers,
// its configuration space, and the work on its queues. Transport-independent: the same device
// could sit behind virtio-pci.
//
// Threads: config reads come from vCPU threads; activate, processQueue and reset are serialised
// by the transport (never two at once), and processQueue runs on the device's worker thread.
class VirtioDevice {
public:
    explicit VirtioDevice(std::string name) : name_(std::move(name)), log_(name_) {}
    virtual ~VirtioDevice() = default;
    VirtioDevice(const VirtioDevice&) = delete;
    VirtioDevice& operator=(const VirtioDevice&) = delete;

    // "virtio-blk0 (disk.img)": how messages name the device.
    const std::string& name() const { return name_; }
    // Guest-caused errors of the device and its transport go here.
    RateLimitedLog& log() { return log_; }

    virtual uint32_t deviceType() const = 0;
    // Every feature bit the device offers, transport ones (VERSION_1, INDIRECT_DESC, EVENT_IDX)
    // included.
    virtual uint64_t offeredFeatures() const = 0;
    virtual unsigned queueCount() const = 0;
    virtual uint16_t queueMaxSize(unsigned /*queue*/) const { return VirtQueue::kMaxSize; }

    // Device-specific configuration space; bytes past its end read as zero, writes to
    // read-only fields are ignored.
    virtual void readConfig(uint64_t offset, std::span<uint8_t> data) = 0;
    virtual void writeConfig(uint64_t /*offset*/, std::span<const uint8_t> /*data*/) {}

    // The driver set DRIVER_OK having accepted `features`.
    virtual void activate(uint64_t /*features*/) {}
    // Takes the chains the driver made available on `queue` and returns them used.
    virtual void processQueue(unsigned index, VirtQueue& queue) = 0;
    // The driver reset the device: forget everything negotiated.
    virtual void reset() {}

    // What configChanged() runs: the transport installs its configuration-change interrupt
    // when it takes the device, and removes it (nullptr) when it goes.
    void setConfigChangedHandler(std::function<void()> handler) {
        std::lock_guard lock(configChangedMutex_);
        configChanged_ = std::move(handler);
    }

protected:
    // Tells the driver the device changed its configuration space (virtio-balloon's target).
    // Any thread, transport calls into the device included; nothing happens without a
    // transport. The handler runs under the lock so that a transport being destroyed waits.
    void configChanged() {
        std::lock_guard lock(configChangedMutex_);
        if (configChanged_) configChanged_();
    }

private:
    std::string name_;
    RateLimitedLog log_;
    std::mutex configChangedMutex_;
    std::function<void()> configChanged_;
};

// A device that takes input from the host as well as from the guest (virtio-net's receive
// queue, fed by a tap). Its worker (VirtioWorker) finds this interface on the device and polls
// hostInputFd() for input while wantsHostInput() says the device has guest buffers to put it
// in; when input is there, the worker processes hostInputQueue(). The device must not want
// input it cannot take, or the worker would spin on a descriptor that stays readable.
class HostInput {
public:
    virtual int hostInputFd() const = 0;
    virtual unsigned hostInputQueue() const = 0;
    // Read by the worker before each wait, after processQueue or reset changed it.
    virtual bool wantsHostInput() const = 0;

protected:
    ~HostInput() = default;
};

}  // namespace ingot::vmm::virtio
