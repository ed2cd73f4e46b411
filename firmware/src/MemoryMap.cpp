#include "MemoryMap.h"

namespace ingot::fw {

bool MemoryMap::add(uint64_t base, uint64_t size, uint32_t type) {
    if (count_ == kMaxEntries || base + size < base) return false;
    entries_[count_++] = {base, size, type};
    return true;
}

bool MemoryMap::reserve(uint64_t base, uint64_t size) {
    if (reserved_count_ == kMaxReserved || base + size < base) return false;
    reserved_[reserved_count_++] = {base, base + size};
    return true;
}

bool MemoryMap::overlaps_reserved(uint64_t base, uint64_t end) const {
    for (size_t i = 0; i < reserved_count_; ++i)
        if (base < reserved_[i].end && reserved_[i].base < end) return true;
    return false;
}

bool MemoryMap::is_ram(uint64_t base, uint64_t size) const {
    uint64_t end = base + size;
    if (end < base || size == 0) return false;
    for (size_t i = 0; i < count_; ++i) {
        const auto& e = entries_[i];
        if (e.type == kE820Ram && base >= e.base && end <= e.base + e.size) return true;
    }
    return false;
}

bool MemoryMap::is_free(uint64_t base, uint64_t size) const {
    return is_ram(base, size) && !overlaps_reserved(base, base + size);
}

bool MemoryMap::allocate_at(uint64_t base, uint64_t size) {
    return is_free(base, size) && reserve(base, size);
}

bool MemoryMap::allocate_top(uint64_t size, uint64_t align, uint64_t limit, uint64_t* base) {
    if (size == 0 || align == 0 || (align & (align - 1))) return false;
    bool found = false;
    uint64_t best = 0;
    // The highest fit ends either at the top of a RAM entry (or the limit) or just below a
    // reservation: try each such ceiling.
    auto consider = [&](uint64_t ceiling) {
        if (ceiling > limit) ceiling = limit;
        if (ceiling < size) return;
        uint64_t candidate = (ceiling - size) & ~(align - 1);
        if ((!found || candidate > best) && is_free(candidate, size)) {
            best = candidate;
            found = true;
        }
    };
    for (size_t i = 0; i < count_; ++i) {
        if (entries_[i].type != kE820Ram) continue;
        consider(entries_[i].base + entries_[i].size);
        for (size_t r = 0; r < reserved_count_; ++r) consider(reserved_[r].base);
    }
    if (!found || !reserve(best, size)) return false;
    *base = best;
    return true;
}

}  // namespace ingot::fw
