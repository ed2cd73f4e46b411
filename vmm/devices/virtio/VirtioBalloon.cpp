#include "devices/virtio/VirtioBalloon.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "devices/virtio/VirtioSpec.h"

namespace ingot::vmm::virtio {

namespace {

constexpr uint64_t kConfigBytes = 8;  // le32 num_pages, le32 actual
constexpr uint64_t kActualOffset = 4;
constexpr uint64_t kStatBytes = 10;  // le16 tag, le64 val, packed
// Linux sends 10 figures (16 from 6.12); more than this in one buffer is not a driver's doing.
constexpr uint64_t kMaxStatsPerBuffer = 64;

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

}  // namespace

VirtioBalloon::VirtioBalloon(std::string name, GuestMemory& memory)
    : VirtioDevice(std::move(name)), memory_(memory) {
    uint64_t index = 0;
    for (const auto& r : memory_.regions()) {
        ram_.push_back({r.gpa / kPageSize, r.size / kPageSize, index});
        index += r.size / kPageSize;
    }
    inBalloon_.resize((index + 63) / 64);
}

uint64_t VirtioBalloon::offeredFeatures() const {
    return kFeatureVersion1 | kFeatureStatsVq | kFeatureDeflateOnOom;
}

void VirtioBalloon::readConfig(uint64_t offset, std::span<uint8_t> data) {
    uint8_t config[kConfigBytes];
    // num_pages is a le32 (at most 2^32 - 1 pages, 16 TiB: beyond GuestMemory's maximum).
    const auto target = static_cast<uint32_t>(targetPages_.load());
    const uint32_t actual = actualPages_.load();
    std::memcpy(config, &target, 4);
    std::memcpy(config + kActualOffset, &actual, 4);
    for (size_t i = 0; i < data.size(); ++i)
        data[i] = offset < kConfigBytes && i < kConfigBytes - offset ? config[offset + i] : 0;
}

void VirtioBalloon::writeConfig(uint64_t offset, std::span<const uint8_t> data) {
    if (offset < kActualOffset || offset >= kConfigBytes || data.size() > kConfigBytes - offset) {
        log().report(std::to_string(data.size()) + "-byte config write at " + hex(offset) +
                     ": only `actual` (4 bytes at 0x4) is the driver's; ignored");
        return;
    }
    // Byte-wise into the field, for drivers that write it in pieces.
    uint32_t current = actualPages_.load();
    uint32_t updated;
    do {
        updated = current;
        for (size_t i = 0; i < data.size(); ++i) {
            const unsigned shift = 8 * static_cast<unsigned>(offset - kActualOffset + i);
            updated = (updated & ~(0xffu << shift)) | uint32_t{data[i]} << shift;
        }
    } while (!actualPages_.compare_exchange_weak(current, updated));
}

void VirtioBalloon::activate(uint64_t features) {
    statsNegotiated_ = (features & kFeatureStatsVq) != 0;
    // Linux primes the stats queue with its first buffer and notifies before DRIVER_OK, when
    // the transport does not process queues yet: take it now.
    if (statsNegotiated_) wake(kStatsQueue);
}

void VirtioBalloon::reset() {
    // The driver is gone and its successor (a rebooted guest) owns every page: they fault back
    // in as zeroes.
    std::fill(inBalloon_.begin(), inBalloon_.end(), 0);
    deflated_ += balloonPages_.exchange(0);
    actualPages_ = 0;
    statsHead_.reset();
    statsNegotiated_ = false;
    statsRequested_ = false;
}

void VirtioBalloon::setWakeUp(WakeUp wakeUp) {
    std::lock_guard lock(mutex_);
    wakeUp_ = std::move(wakeUp);
}

void VirtioBalloon::wake(unsigned queue) {
    std::lock_guard lock(mutex_);
    if (wakeUp_) wakeUp_(queue, std::chrono::nanoseconds(0));
}

uint64_t VirtioBalloon::maxTargetBytes() const {
    return memory_.size() > kFloorBytes ? memory_.size() - kFloorBytes : 0;
}

void VirtioBalloon::setTarget(uint64_t bytes) {
    targetPages_ = std::min(bytes, maxTargetBytes()) / kPageSize;
    configChanged();
}

bool VirtioBalloon::requestStats() {
    if (!statsNegotiated_) return false;
    statsRequested_ = true;
    wake(kStatsQueue);
    return true;
}

VirtioBalloon::GuestStats VirtioBalloon::guestStats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

std::optional<uint64_t> VirtioBalloon::pageIndex(uint64_t pfn) const {
    for (const auto& r : ram_)
        if (pfn >= r.firstPfn && pfn - r.firstPfn < r.pages) return r.firstIndex + (pfn - r.firstPfn);
    return std::nullopt;
}

void VirtioBalloon::processQueue(unsigned index, VirtQueue& queue) {
    if (index == kStatsQueue) {
        processStats(queue);
        return;
    }
    // The driver waits for each buffer before it sends the next; it carries nothing back.
    while (queue.pop(chain_)) {
        handlePfns(chain_, index == kInflateQueue);
        queue.pushUsed(chain_.head(), 0);
    }
}

void VirtioBalloon::handlePfns(const DescriptorChain& chain, bool inflate) {
    const std::string queueName = inflate ? "inflate" : "deflate";
    if (chain.writableBytes() != 0)
        log().report(queueName + " buffer carries " + std::to_string(chain.writableBytes()) +
                     " device-writable bytes; ignored");
    const uint64_t bytes = chain.readableBytes();
    if (bytes > kMaxPfnsPerBuffer * sizeof(uint32_t)) {
        log().report(queueName + " buffer of " + std::to_string(bytes) + " bytes holds more than " +
                     std::to_string(kMaxPfnsPerBuffer) + " PFNs; refused whole");
        refused_ += bytes / sizeof(uint32_t);
        return;
    }
    if (bytes % sizeof(uint32_t) != 0)
        log().report(queueName + " buffer of " + std::to_string(bytes) +
                     " bytes is not whole 32-bit PFNs; the last " +
                     std::to_string(bytes % sizeof(uint32_t)) + " ignored");
    pfns_.resize(bytes / sizeof(uint32_t));
    // Little-endian PFNs read as they are (VirtioSpec.h insists on a little-endian host).
    chain.read(0, {reinterpret_cast<uint8_t*>(pfns_.data()), pfns_.size() * sizeof(uint32_t)});
    // Sorted, runs of neighbouring pages are discarded with one madvise; Linux's allocator
    // often hands the driver such runs, in either order.
    std::sort(pfns_.begin(), pfns_.end());

    uint64_t outside = 0, firstOutside = 0, unchanged = 0, firstUnchanged = 0, changed = 0;
    uint64_t runStart = 0, runPages = 0;
    for (uint32_t pfn : pfns_) {
        const auto index = pageIndex(pfn);
        if (!index) {
            if (outside++ == 0) firstOutside = pfn;
            continue;
        }
        uint64_t& word = inBalloon_[*index / 64];
        const uint64_t bit = uint64_t{1} << (*index % 64);
        if (((word & bit) != 0) == inflate) {
            if (unchanged++ == 0) firstUnchanged = pfn;
            continue;
        }
        word ^= bit;
        ++changed;
        if (!inflate) continue;
        // Neighbouring PFNs inside RAM are inside one region: the MMIO hole separates regions.
        if (runPages != 0 && pfn == runStart + runPages) {
            ++runPages;
        } else {
            discardRun(runStart, runPages);
            runStart = pfn;
            runPages = 1;
        }
    }
    discardRun(runStart, runPages);

    if (inflate) {
        inflated_ += changed;
        balloonPages_ += changed;
    } else {
        deflated_ += changed;
        balloonPages_ -= changed;
    }
    refused_ += outside + unchanged;
    if (outside != 0)
        log().report(queueName + ": " + std::to_string(outside) +
                     " PFNs outside guest RAM (the first " + hex(firstOutside) + "); ignored");
    if (unchanged != 0)
        log().report(queueName + ": " + std::to_string(unchanged) + " PFNs " +
                     (inflate ? "already in" : "not in") + " the balloon (the first " +
                     hex(firstUnchanged) + "); ignored");
}

void VirtioBalloon::discardRun(uint64_t firstPfn, uint64_t pages) {
    if (pages == 0) return;
    // Cannot fail for a checked range but for the kernel refusing madvise; the pages stay the
    // guest's loss (it gave them up) and the host's cost.
    if (!memory_.discard(firstPfn * kPageSize, pages * kPageSize))
        log().report("could not discard " + std::to_string(pages) + " pages at PFN " +
                     hex(firstPfn) + "; they stay in the balloon, still backed");
}

void VirtioBalloon::processStats(VirtQueue& queue) {
    while (queue.pop(chain_)) {
        // The driver keeps one buffer with the device; an older one goes back unanswered.
        if (statsHead_) {
            log().report("stats queue: a second buffer while the device holds one; the older "
                         "goes back");
            queue.pushUsed(*statsHead_, 0);
        }
        readStats(chain_);
        statsHead_ = chain_.head();
    }
    // Giving the buffer back is the request: the driver refills it with fresh figures and
    // returns it. The request waits (stays set) while the driver has it.
    if (statsHead_ && statsRequested_.exchange(false)) {
        queue.pushUsed(*statsHead_, 0);
        statsHead_.reset();
    }
}

void VirtioBalloon::readStats(const DescriptorChain& chain) {
    if (chain.writableBytes() != 0)
        log().report("stats buffer carries " + std::to_string(chain.writableBytes()) +
                     " device-writable bytes; ignored");
    uint64_t count = chain.readableBytes() / kStatBytes;
    if (chain.readableBytes() % kStatBytes != 0)
        log().report("stats buffer of " + std::to_string(chain.readableBytes()) +
                     " bytes is not whole 10-byte figures; the rest ignored");
    if (count > kMaxStatsPerBuffer) {
        log().report("stats buffer holds " + std::to_string(count) + " figures; only the first " +
                     std::to_string(kMaxStatsPerBuffer) + " read");
        count = kMaxStatsPerBuffer;
    }
    GuestStats fresh;
    for (uint64_t i = 0; i < count; ++i) {
        uint8_t stat[kStatBytes];
        chain.read(i * kStatBytes, stat);
        uint16_t tag;
        uint64_t value;
        std::memcpy(&tag, stat, 2);
        std::memcpy(&value, stat + 2, 8);
        if (tag >= kStatTags) continue;  // a figure newer than this device: skipped silently
        fresh.values[tag] = value;
        fresh.present |= uint32_t{1} << tag;
    }
    std::lock_guard lock(mutex_);
    fresh.updates = stats_.updates + 1;
    stats_ = fresh;
}

}  // namespace ingot::vmm::virtio
