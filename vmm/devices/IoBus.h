#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>

#include "IoDevice.h"

namespace ingot::vmm {

// Address ranges → devices, for one address space (port I/O or MMIO). Filled before the vCPUs
// start and read-only afterwards, so lookups need no lock.
class IoBus {
public:
    // Throws ingot::Error when the range is empty or overlaps a registered one.
    void add(uint64_t base, uint64_t length, std::shared_ptr<IoDevice> device);
    // False when no device claims the address; reads of unclaimed addresses should then return
    // all ones, as an open bus does.
    bool read(uint64_t address, std::span<uint8_t> data) const;
    bool write(uint64_t address, std::span<const uint8_t> data) const;
    IoDevice* find(uint64_t address, uint64_t* offset) const;

private:
    struct Range {
        uint64_t length;
        std::shared_ptr<IoDevice> device;
    };
    std::map<uint64_t, Range> ranges_;  // keyed by base
};

}  // namespace ingot::vmm
