// A polled virtio-blk driver over the virtio-mmio transport, modern (version 2) only. QEMU's
// microvm offers legacy devices unless started with -global virtio-mmio.force-legacy=false;
// the firmware names that flag when it meets a legacy device.
#pragma once

#include <stdint.h>

#include "BlockDevice.h"
#include "Refusal.h"

namespace ingot::fw {

class VirtioBlk final : public BlockDevice {
public:
    // Probes the device at `base`; false (with the reason) if it is not a usable block device.
    bool init(uint64_t base, BootError* error);
    uint64_t sector_count() const override { return capacity_; }
    bool read(uint64_t sector, uint32_t count, void* buffer) override;
    // Leaves the device reset, so the kernel's driver starts from a clean state.
    void reset();

    static constexpr uint32_t kMaxSectorsPerRequest = 2048;  // 1 MiB

private:
    uint64_t base_ = 0;
    uint64_t capacity_ = 0;
    uint16_t queue_size_ = 0;
    uint16_t next_avail_ = 0;
    uint16_t last_used_ = 0;
};

}  // namespace ingot::fw
