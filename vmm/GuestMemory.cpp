#include "GuestMemory.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "ingot/core/Error.h"
#include "ingot/core/Size.h"

namespace ingot::vmm {

namespace {
constexpr uint64_t kMinimum = 16ull << 20;
// Far above what any host here has; keeps arithmetic on gpa + size well away from overflow.
constexpr uint64_t kMaximum = 1ull << 40;
}  // namespace

GuestMemory::GuestMemory(uint64_t bytes) : size_(bytes) {
    if (bytes < kMinimum || bytes > kMaximum || bytes % 4096)
        throw Error("guest memory " + formatSize(bytes) +
                        " is out of range: use a multiple of 4 KiB between 16 MiB and 1 TiB",
                    ExitStatus::kUsage);
    // Guest RAM starts on a 2 MiB boundary so the host can back it with transparent huge
    // pages and KVM can map 2 MiB at a time: unaligned, every first touch of a 4 KiB guest page
    // is a nested page fault (measured: about 29,000 exits of a 100,000-exit Linux boot).
    constexpr uint64_t kHugePage = 2ull << 20;
    void* p = mmap(nullptr, bytes + kHugePage, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        throwSystemError("cannot reserve " + formatSize(bytes) + " of guest memory", errno,
                         ExitStatus::kUsage);
    auto raw = reinterpret_cast<uintptr_t>(p);
    uintptr_t aligned = (raw + kHugePage - 1) & ~(kHugePage - 1);
    if (aligned > raw) munmap(p, aligned - raw);
    uintptr_t tail = aligned + bytes;
    if (raw + bytes + kHugePage > tail) munmap(reinterpret_cast<void*>(tail), raw + bytes + kHugePage - tail);
    base_ = reinterpret_cast<uint8_t*>(aligned);
    // Guest RAM is the bulk of the process: keep it out of core dumps, and let the host back
    // it with huge pages where it can (fewer EPT/NPT misses).
    madvise(base_, bytes, MADV_DONTDUMP);
    madvise(base_, bytes, MADV_HUGEPAGE);
    uint64_t low = bytes < kMmioHoleStart ? bytes : kMmioHoleStart;
    regions_.push_back({0, low, base_});
    if (bytes > low) regions_.push_back({kHighRamStart, bytes - low, base_ + low});
}

GuestMemory::~GuestMemory() {
    if (base_) munmap(base_, size_);
}

std::span<uint8_t> GuestMemory::trySlice(uint64_t gpa, uint64_t len) noexcept {
    for (const auto& r : regions_) {
        if (gpa >= r.gpa && gpa - r.gpa <= r.size && len <= r.size - (gpa - r.gpa))
            return {r.host + (gpa - r.gpa), static_cast<size_t>(len)};
    }
    return {};
}

bool GuestMemory::discard(uint64_t gpa, uint64_t len) noexcept {
    constexpr uint64_t kPage = 4096;
    constexpr uint64_t kHugePage = 2ull << 20;
    if (len == 0 || gpa % kPage || len % kPage) return false;
    auto range = trySlice(gpa, len);
    if (range.data() == nullptr) return false;
    if (madvise(range.data(), len, MADV_DONTNEED) != 0) return false;
    // A 4 KiB MADV_DONTNEED inside a transparent huge page unmaps it and lowers RSS, but the
    // huge page is only queued for a deferred split: all 2 MiB stay allocated until the rest is
    // discarded too or the host runs short of memory. MADV_COLD splits a huge page it finds
    // mapped by 4 KiB entries, which frees the discarded part at once. Measured on Linux 6.18
    // (pagemap and kpageflags) after discarding every other 4 KiB of 64 MiB of huge pages: RSS
    // halved, yet every remaining page still in a huge page, i.e. all 64 MiB held; after
    // MADV_COLD none was. Only a huge page the range covers in part needs it, and MADV_COLD
    // need only see one of its pages: the page next to the range inside the same 2 MiB, which
    // is still mapped whenever the huge page is intact (the first discard inside it splits
    // it). One page keeps the cost low (256 MiB in 8192 scattered runs: 104 ms, 11 without)
    // and moves just that page to the inactive list. Kernels before 5.4 have no MADV_COLD and
    // keep the deferred split.
    auto splitAt = [this](uint64_t neighbour) {
        auto page = trySlice(neighbour, kPage);
        if (page.data() != nullptr) madvise(page.data(), kPage, MADV_COLD);
    };
    const uint64_t end = gpa + len;
    if (gpa % kHugePage != 0) splitAt(gpa - kPage);
    if (end % kHugePage != 0) splitAt(end);
    return true;
}

std::span<uint8_t> GuestMemory::slice(uint64_t gpa, uint64_t len) {
    auto s = trySlice(gpa, len);
    if (s.data() == nullptr && len != 0) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "guest range 0x%llx+0x%llx is outside guest RAM",
                      static_cast<unsigned long long>(gpa), static_cast<unsigned long long>(len));
        throw Error(buf);
    }
    return s;
}

}  // namespace ingot::vmm
