// A disk of 512-byte sectors. The firmware's is virtio-blk; host tests use a file in memory.
#pragma once

#include <stdint.h>

namespace ingot::fw {

class BlockDevice {
public:
    static constexpr uint32_t kSectorSize = 512;

    virtual uint64_t sector_count() const = 0;
    // Reads `count` sectors starting at `sector` into `buffer`. False on an I/O error; callers
    // never ask for sectors past sector_count().
    virtual bool read(uint64_t sector, uint32_t count, void* buffer) = 0;

protected:
    ~BlockDevice() = default;
};

// Guest-physical memory that the firmware loads into. In the firmware it is identity-mapped
// RAM; host tests back it with a buffer.
class GuestRam {
public:
    // A pointer to [paddr, paddr + size), or nullptr when the range is not RAM.
    virtual uint8_t* at(uint64_t paddr, uint64_t size) = 0;

protected:
    ~GuestRam() = default;
};

}  // namespace ingot::fw
