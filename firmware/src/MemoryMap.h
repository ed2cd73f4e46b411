// Guest RAM as the firmware sees it: the e820-style map from hvm_start_info, plus the ranges the
// firmware has handed out (itself, the kernel, the initrd, the boot parameters). Placement asks
// this map, so nothing the firmware loads can land on something else it loaded.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace ingot::fw {

inline constexpr uint32_t kE820Ram = 1;

struct MemoryMapEntry {
    uint64_t base;
    uint64_t size;
    uint32_t type;
};

class MemoryMap {
public:
    static constexpr size_t kMaxEntries = 128;
    static constexpr size_t kMaxReserved = 16;

    // Entries are kept as given (the kernel gets the same map); false when the table is full or
    // the entry wraps around the address space.
    bool add(uint64_t base, uint64_t size, uint32_t type);
    // Marks [base, base + size) as in use. False when the reservation table is full.
    bool reserve(uint64_t base, uint64_t size);

    // True when the range lies inside one RAM entry and overlaps no reservation.
    bool is_free(uint64_t base, uint64_t size) const;
    // True when the range lies inside one RAM entry (reserved or not).
    bool is_ram(uint64_t base, uint64_t size) const;
    // Reserves the highest free, `align`-aligned range of `size` bytes that ends at or below
    // `limit`. False when none fits.
    bool allocate_top(uint64_t size, uint64_t align, uint64_t limit, uint64_t* base);
    bool allocate_at(uint64_t base, uint64_t size);

    size_t size() const { return count_; }
    const MemoryMapEntry& operator[](size_t i) const { return entries_[i]; }

private:
    struct Range {
        uint64_t base;
        uint64_t end;  // exclusive
    };
    bool overlaps_reserved(uint64_t base, uint64_t end) const;

    MemoryMapEntry entries_[kMaxEntries];
    size_t count_ = 0;
    Range reserved_[kMaxReserved];
    size_t reserved_count_ = 0;
};

}  // namespace ingot::fw
