#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "GuestMemory.h"
#include "devices/IoDevice.h"
#include "devices/virtio/VirtQueue.h"
#include "devices/virtio/VirtioDevice.h"

namespace ingot::vmm::virtio {

// The virtio-mmio transport, modern interface only (virtio 1.2, 4.2; Version register 2): the
// register window a driver finds through ACPI (LNRO0005) or `virtio_mmio.device=`, feature
// negotiation, queue setup, the status state machine, and the interrupt status the device
// raises its edge-triggered interrupt for.
//
// Threads: vCPU threads call read/write (MMIO exits); the device's worker calls processQueue.
// Register state sits under one lock; the device's queue work under another, which a reset or a
// queue being disabled waits for, so the device never touches a queue the driver has taken away.
class VirtioMmioTransport : public IoDevice {
public:
    // The register window: 0x100 bytes of registers, then the device's configuration space.
    static constexpr uint64_t kWindowBytes = 0x200;
    static constexpr uint32_t kVendorId = 0;  // no PCI-style vendor to claim

    VirtioMmioTransport(GuestMemory& memory, std::shared_ptr<VirtioDevice> device,
                        std::unique_ptr<EdgeInterrupt> interrupt);
    ~VirtioMmioTransport() override;

    std::string_view name() const override { return device_->name(); }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    // What a QueueNotify write that reaches the monitor (no ioeventfd matched it) does. By
    // default the queue is processed at once on the calling thread, which is what unit tests
    // want; the VM hands it to the device's worker instead.
    void setNotifyHandler(std::function<void(unsigned queue)> handler) {
        notify_ = std::move(handler);
    }
    // Runs the device on `queue` if the driver has it enabled, then raises the interrupt if the
    // driver wants one. Any thread; serialised with resets.
    void processQueue(unsigned queue);

    VirtioDevice& device() { return *device_; }

    // What the driver got wrong over the VM's life, for the stats document: chains returned
    // unused (they never reach the device as requests) and times the device asked for a reset.
    uint64_t refusedChains() const { return refusedChains_.load(); }
    uint64_t needsResets() const { return needsResets_.load(); }
    unsigned queueCount() const { return static_cast<unsigned>(queueRegs_.size()); }

private:
    struct QueueRegisters {
        uint16_t maxSize = 0;
        uint16_t size = 0;
        bool ready = false;
        uint64_t descTable = 0;
        uint64_t availRing = 0;
        uint64_t usedRing = 0;
    };

    uint32_t readRegister(uint64_t offset);
    // Returns the queue to notify, if the write was a notification.
    std::optional<unsigned> writeRegister(uint64_t offset, uint32_t value);
    void writeStatus(uint32_t value);
    void setQueueReady(unsigned queue, bool ready);
    bool enableQueueLocked(unsigned queue);
    void resetLocked();
    void requestReset(const std::string& why);
    void flagNeedsReset();
    void raise(uint32_t cause);
    void configChanged();
    static void setHalf(uint64_t& target, bool high, uint32_t value);

    GuestMemory& memory_;
    std::shared_ptr<VirtioDevice> device_;
    std::unique_ptr<EdgeInterrupt> interrupt_;
    std::function<void(unsigned)> notify_;
    const uint64_t offered_;

    mutable std::mutex registers_;  // everything below up to queues_
    uint32_t status_ = 0;
    uint32_t deviceFeaturesSel_ = 0;
    uint32_t driverFeaturesSel_ = 0;
    uint64_t driverFeatures_ = 0;
    uint32_t queueSel_ = 0;
    std::vector<QueueRegisters> queueRegs_;

    // Lock order: registers_, then processing_.
    std::mutex processing_;  // guards queues_ and active_
    std::vector<std::optional<VirtQueue>> queues_;
    bool active_ = false;

    std::atomic<uint32_t> interruptStatus_{0};
    std::atomic<uint32_t> configGeneration_{0};
    std::atomic<bool> needsReset_{false};
    std::atomic<uint64_t> refusedChains_{0};
    std::atomic<uint64_t> needsResets_{0};
};

}  // namespace ingot::vmm::virtio
