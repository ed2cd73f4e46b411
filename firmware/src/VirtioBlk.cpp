#include "VirtioBlk.h"

#include "PortIo.h"

namespace ingot::fw {
namespace {

// virtio-mmio register offsets (virtio 1.2, 4.2.2).
enum : uint32_t {
    kMagic = 0x000,
    kVersion = 0x004,
    kDeviceId = 0x008,
    kDeviceFeatures = 0x010,
    kDeviceFeaturesSel = 0x014,
    kDriverFeatures = 0x020,
    kDriverFeaturesSel = 0x024,
    kQueueSel = 0x030,
    kQueueNumMax = 0x034,
    kQueueNum = 0x038,
    kQueueReady = 0x044,
    kQueueNotify = 0x050,
    kInterruptStatus = 0x060,
    kInterruptAck = 0x064,
    kStatus = 0x070,
    kQueueDescLow = 0x080,
    kQueueDescHigh = 0x084,
    kQueueDriverLow = 0x090,
    kQueueDriverHigh = 0x094,
    kQueueDeviceLow = 0x0a0,
    kQueueDeviceHigh = 0x0a4,
    kConfigGeneration = 0x0fc,
    kConfig = 0x100,
};
enum : uint32_t { kAcknowledge = 1, kDriver = 2, kDriverOk = 4, kFeaturesOk = 8, kFailed = 128 };
constexpr uint32_t kMagicValue = 0x74726976;  // "virt"
constexpr uint32_t kBlockDeviceId = 2;
constexpr uint32_t kFeatureVersion1High = 1u << 0;  // bit 32
constexpr uint16_t kDescNext = 1, kDescWrite = 2;
constexpr uint32_t kBlkTypeIn = 0;
constexpr uint16_t kQueueSize = 4;

struct alignas(16) Descriptor {
    uint64_t address;
    uint32_t length;
    uint16_t flags;
    uint16_t next;
};
struct alignas(2) AvailRing {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[kQueueSize];
    uint16_t used_event;
};
struct UsedElement {
    uint32_t id;
    uint32_t length;
};
struct alignas(4) UsedRing {
    uint16_t flags;
    uint16_t idx;
    UsedElement ring[kQueueSize];
    uint16_t avail_event;
};
struct BlkRequestHeader {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

// One request in flight at a time: the rings and the request's header and status live here.
alignas(4096) Descriptor descriptors[kQueueSize];
alignas(4096) AvailRing avail;
alignas(4096) UsedRing used;
BlkRequestHeader request;
volatile uint8_t request_status;

uint64_t paddr(const volatile void* p) {
    return reinterpret_cast<uint64_t>(p);
}

}  // namespace

bool VirtioBlk::init(uint64_t base, BootError* error) {
    base_ = base;
    if (mmio_read32(base + kMagic) != kMagicValue) {
        error->set(Refusal::kBadDevice, "no virtio-mmio device at ").hex(base);
        return false;
    }
    uint32_t version = mmio_read32(base + kVersion);
    if (version == 1) {
        error->set(Refusal::kBadDevice, "legacy virtio-mmio device at ")
            .hex(base)
            .add(" (QEMU: add -global virtio-mmio.force-legacy=false)");
        return false;
    }
    if (version != 2 || mmio_read32(base + kDeviceId) != kBlockDeviceId) {
        error->set(Refusal::kBadDevice, "device at ").hex(base).add(" is not a virtio-blk (version 2)");
        return false;
    }
    mmio_write32(base + kStatus, 0);
    mmio_write32(base + kStatus, kAcknowledge);
    mmio_write32(base + kStatus, kAcknowledge | kDriver);
    mmio_write32(base + kDeviceFeaturesSel, 1);
    if (!(mmio_read32(base + kDeviceFeatures) & kFeatureVersion1High)) {
        mmio_write32(base + kStatus, kFailed);
        error->set(Refusal::kBadDevice, "virtio-blk at ").hex(base).add(" lacks VIRTIO_F_VERSION_1");
        return false;
    }
    // Nothing but VERSION_1: the firmware needs no optional feature to read sectors.
    mmio_write32(base + kDriverFeaturesSel, 0);
    mmio_write32(base + kDriverFeatures, 0);
    mmio_write32(base + kDriverFeaturesSel, 1);
    mmio_write32(base + kDriverFeatures, kFeatureVersion1High);
    mmio_write32(base + kStatus, kAcknowledge | kDriver | kFeaturesOk);
    if (!(mmio_read32(base + kStatus) & kFeaturesOk)) {
        error->set(Refusal::kBadDevice, "virtio-blk at ").hex(base).add(" refused our features");
        return false;
    }
    mmio_write32(base + kQueueSel, 0);
    uint32_t max = mmio_read32(base + kQueueNumMax);
    if (max < 3) {
        error->set(Refusal::kBadDevice, "virtio-blk queue 0 is too small or missing");
        return false;
    }
    queue_size_ = max < kQueueSize ? static_cast<uint16_t>(max) : kQueueSize;
    fill_bytes(descriptors, 0, sizeof descriptors);
    fill_bytes(&avail, 0, sizeof avail);
    fill_bytes(&used, 0, sizeof used);
    next_avail_ = last_used_ = 0;
    mmio_write32(base + kQueueNum, queue_size_);
    mmio_write32(base + kQueueDescLow, static_cast<uint32_t>(paddr(descriptors)));
    mmio_write32(base + kQueueDescHigh, static_cast<uint32_t>(paddr(descriptors) >> 32));
    mmio_write32(base + kQueueDriverLow, static_cast<uint32_t>(paddr(&avail)));
    mmio_write32(base + kQueueDriverHigh, static_cast<uint32_t>(paddr(&avail) >> 32));
    mmio_write32(base + kQueueDeviceLow, static_cast<uint32_t>(paddr(&used)));
    mmio_write32(base + kQueueDeviceHigh, static_cast<uint32_t>(paddr(&used) >> 32));
    mmio_write32(base + kQueueReady, 1);
    mmio_write32(base + kStatus, kAcknowledge | kDriver | kFeaturesOk | kDriverOk);

    // capacity is a 64-bit config field: re-read until the generation is stable.
    uint32_t generation;
    do {
        generation = mmio_read32(base + kConfigGeneration);
        capacity_ = mmio_read32(base + kConfig) | (uint64_t{mmio_read32(base + kConfig + 4)} << 32);
    } while (generation != mmio_read32(base + kConfigGeneration));
    return true;
}

bool VirtioBlk::read(uint64_t sector, uint32_t count, void* buffer) {
    if (count == 0 || count > kMaxSectorsPerRequest || sector + count > capacity_) return false;
    request = {kBlkTypeIn, 0, sector};
    request_status = 0xff;
    descriptors[0] = {paddr(&request), sizeof request, kDescNext, 1};
    descriptors[1] = {paddr(buffer), count * kSectorSize, kDescNext | kDescWrite, 2};
    descriptors[2] = {paddr(&request_status), 1, kDescWrite, 0};
    avail.ring[next_avail_ % queue_size_] = 0;
    compiler_barrier();
    avail.idx = ++next_avail_;
    compiler_barrier();
    mmio_write32(base_ + kQueueNotify, 0);

    // Polled: the firmware runs with interrupts off. The bound is generous (TCG is slow) but
    // keeps a dead device from hanging the boot forever.
    volatile uint16_t* used_idx = &used.idx;
    for (uint64_t spins = 0; *used_idx == last_used_; ++spins) {
        if (spins > (1ull << 32)) return false;
        cpu_relax();
    }
    compiler_barrier();
    ++last_used_;
    mmio_write32(base_ + kInterruptAck, mmio_read32(base_ + kInterruptStatus));
    return request_status == 0;
}

void VirtioBlk::reset() {
    if (base_) mmio_write32(base_ + kStatus, 0);
}

}  // namespace ingot::fw
