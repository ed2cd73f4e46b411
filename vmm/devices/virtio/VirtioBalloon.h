#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "GuestMemory.h"
#include "devices/virtio/RateLimiter.h"
#include "devices/virtio/VirtioDevice.h"

namespace ingot::vmm::virtio {

// virtio-balloon, the traditional memory balloon (virtio 1.2, 5.5), so that the host can take
// memory back from a running guest. The host sets a target (setTarget) and the device raises a
// configuration-change interrupt; the guest's driver reads `num_pages`, allocates that many
// 4 KiB pages from its own allocator and hands their page frame numbers (le32, guest physical
// address >> 12) over on the inflate queue. Each such page is discarded (MADV_DONTNEED through
// GuestMemory::discard): the monitor's RSS drops, and the page reads as zeroes when touched
// again. Deflating (the driver taking pages back) needs nothing from the host, since the page
// faults back in as zeroes; it is counted. The driver writes how many pages it holds to
// `actual`.
//
// Offered: VIRTIO_F_VERSION_1; VIRTIO_BALLOON_F_STATS_VQ (the guest's own memory figures, see
// requestStats); VIRTIO_BALLOON_F_DEFLATE_ON_OOM, so a guest under memory pressure takes pages
// back from the balloon instead of killing processes. The target is therefore a request, not a
// guarantee: `actual` can fall below it, and the guest inflates again only when told of a
// target (setTarget again, even with the same value). VIRTIO_BALLOON_F_MUST_TELL_HOST is not
// offered: deflating changes nothing on the host, so the driver need not wait for it.
//
// Host memory: a partly discarded transparent huge page is split at once (see
// GuestMemory::discard), so memory is freed as pages are inflated. Limitation: khugepaged may
// later collapse a 2 MiB block that the balloon holds only part of back into a huge page,
// backing the discarded pages again (zero-filled; they still count as in the balloon). How fast
// is set by /sys/kernel/mm/transparent_hugepage/khugepaged/ (max_ptes_none, pages_to_scan).
//
// A hostile or broken driver can only waste its own memory: PFNs outside guest RAM (past its
// end, in the MMIO hole below 4 GiB) are refused, as are a page inflated while already in the
// balloon and a page deflated that is not in it; buffers of more than kMaxPfnsPerBuffer PFNs
// are refused whole; trailing bytes that make no whole PFN and device-writable buffers are
// ignored. Each is reported through log(), and refused PFNs are counted in refusedPfns(). A
// device reset (reboot, driver reload) gives every page back to the guest.
//
// Threads: the host API (setTarget, the counters, requestStats, guestStats) is safe from any
// thread, typically the monitor's control thread; config accesses come from vCPU threads; queue
// work runs on the device's worker.
//
// Attaching it, as VirtioRng in vmm/Vm.cpp:
//   balloon_ = std::make_shared<virtio::VirtioBalloon>("virtio-balloon", memory_);
//   attach(balloon_, "virtio-balloon", VirtioSlot{});
// The transport installs the configuration-change handler itself, and the VirtioWorker that
// attach creates gives the device its wake-up (Throttleable), which requestStats needs. The
// guest needs the virtio_balloon driver (a module in Debian's kernel, loaded by udev when the
// device appears).
class VirtioBalloon : public VirtioDevice, public Throttleable {
public:
    static constexpr uint32_t kDeviceType = 5;
    static constexpr uint64_t kPageSize = 4096;  // the unit of PFNs and of the config fields
    // Feature bits (5.5.3).
    static constexpr uint64_t kFeatureMustTellHost = 1ull << 0;
    static constexpr uint64_t kFeatureStatsVq = 1ull << 1;
    static constexpr uint64_t kFeatureDeflateOnOom = 1ull << 2;
    // Queues (5.5.2); the stats queue exists only when its feature is negotiated.
    static constexpr unsigned kInflateQueue = 0;
    static constexpr unsigned kDeflateQueue = 1;
    static constexpr unsigned kStatsQueue = 2;
    // Linux sends at most 256 PFNs (VIRTIO_BALLOON_ARRAY_PFNS_MAX) in a buffer; a larger cap
    // leaves room for other drivers while bounding the work one chain costs the worker.
    static constexpr uint64_t kMaxPfnsPerBuffer = 4096;
    // What the balloon never takes: enough for the guest's kernel, the driver and init to keep
    // running. A target near the whole of RAM would leave the guest thrashing between the
    // balloon and the OOM killer (or deflate-on-OOM) instead of doing any work.
    static constexpr uint64_t kFloorBytes = 64ull << 20;

    // Statistics tags (5.5.6.3); Linux 6.12 and later send more (up to kStatTags), kept by
    // number.
    enum StatTag : uint16_t {
        kStatSwapIn = 0,
        kStatSwapOut = 1,
        kStatMajorFaults = 2,
        kStatMinorFaults = 3,
        kStatFreeMemory = 4,       // bytes the guest has not used at all
        kStatTotalMemory = 5,      // bytes the guest kernel manages (the balloon included)
        kStatAvailableMemory = 6,  // bytes the guest could use without swapping (MemAvailable)
        kStatDiskCaches = 7,
        kStatHugetlbAllocations = 8,
        kStatHugetlbFailures = 9,
    };
    static constexpr unsigned kStatTags = 16;
    struct GuestStats {
        uint64_t updates = 0;  // buffers of figures received; a change means fresh figures
        uint32_t present = 0;  // bit t: values[t] was in the latest buffer
        std::array<uint64_t, kStatTags> values{};
        bool has(unsigned tag) const { return tag < kStatTags && (present >> tag & 1); }
    };

    VirtioBalloon(std::string name, GuestMemory& memory);

    uint32_t deviceType() const override { return kDeviceType; }
    uint64_t offeredFeatures() const override;
    unsigned queueCount() const override { return 3; }
    void readConfig(uint64_t offset, std::span<uint8_t> data) override;
    void writeConfig(uint64_t offset, std::span<const uint8_t> data) override;
    void activate(uint64_t features) override;
    void processQueue(unsigned index, VirtQueue& queue) override;
    void reset() override;
    void setWakeUp(WakeUp wakeUp) override;

    // Asks the guest to hold `bytes` in its balloon: rounded down to whole pages, capped at
    // maxTargetBytes(). Raises the configuration-change interrupt even when the target stays
    // the same, which makes the driver look again (after it deflated on OOM, say).
    void setTarget(uint64_t bytes);
    uint64_t maxTargetBytes() const;
    uint64_t targetBytes() const { return targetPages_.load() * kPageSize; }
    // What the driver last wrote to `actual`: its own claim, not checked.
    uint64_t actualBytes() const { return uint64_t{actualPages_.load()} * kPageSize; }
    // Pages in the balloon now, as the device saw them: inflated minus deflated, each counted
    // once.
    uint64_t discardedBytes() const { return balloonPages_.load() * kPageSize; }

    // For the stats document, over the VM's life: pages put into the balloon, pages taken out
    // (a reset takes out all), and PFNs the device refused (above).
    uint64_t inflatedPages() const { return inflated_.load(); }
    uint64_t deflatedPages() const { return deflated_.load(); }
    uint64_t refusedPfns() const { return refused_.load(); }

    // Asks the driver for fresh figures by giving back the buffer it left with the device; they
    // arrive shortly after (guestStats().updates grows). False when the driver did not take
    // the stats queue (or is not running), and nothing will come.
    bool requestStats();
    GuestStats guestStats() const;

private:
    struct RamPages {
        uint64_t firstPfn;
        uint64_t pages;
        uint64_t firstIndex;  // of its first page in inBalloon_
    };

    void handlePfns(const DescriptorChain& chain, bool inflate);
    void processStats(VirtQueue& queue);
    void readStats(const DescriptorChain& chain);
    std::optional<uint64_t> pageIndex(uint64_t pfn) const;
    void discardRun(uint64_t firstPfn, uint64_t pages);
    void wake(unsigned queue);

    GuestMemory& memory_;
    std::vector<RamPages> ram_;

    std::atomic<uint64_t> targetPages_{0};
    std::atomic<uint32_t> actualPages_{0};
    std::atomic<uint64_t> balloonPages_{0};
    std::atomic<uint64_t> inflated_{0};
    std::atomic<uint64_t> deflated_{0};
    std::atomic<uint64_t> refused_{0};

    // Queue work and reset only (serialised by the transport).
    std::vector<uint64_t> inBalloon_;  // a bit per page of guest RAM (32 KiB per GiB), ram_ order
    DescriptorChain chain_;
    std::vector<uint32_t> pfns_;
    std::optional<uint16_t> statsHead_;  // the stats buffer the device holds

    std::atomic<bool> statsNegotiated_{false};
    std::atomic<bool> statsRequested_{false};
    mutable std::mutex mutex_;  // guards the two below
    WakeUp wakeUp_;
    GuestStats stats_;
};

}  // namespace ingot::vmm::virtio
