#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "IoDevice.h"

namespace ingot::vmm {

// Address ranges → devices, for one address space (port I/O or MMIO). Filled before the vCPUs
// start and read-only afterwards, so lookups need no lock.
class IoBus {
public:
    // The range an address falls in: its device, the offset into the range, and the range's
    // number (0, 1, … in the order of `add`), which lets a vCPU keep per-device counters in a
    // plain array instead of looking anything up by name on its exit path.
    struct Claim {
        IoDevice* device;
        uint64_t offset;
        size_t range;
    };

    // Throws ingot::Error when the range is empty or overlaps a registered one.
    void add(uint64_t base, uint64_t length, std::shared_ptr<IoDevice> device);
    // False when no device claims the address; reads of unclaimed addresses should then return
    // all ones, as an open bus does.
    bool read(uint64_t address, std::span<uint8_t> data) const;
    bool write(uint64_t address, std::span<const uint8_t> data) const;
    IoDevice* find(uint64_t address, uint64_t* offset) const;
    std::optional<Claim> claim(uint64_t address) const;

    // The device name of each range, by range number.
    std::vector<std::string> rangeNames() const;

private:
    struct Range {
        uint64_t length;
        std::shared_ptr<IoDevice> device;
        size_t number;
    };
    std::map<uint64_t, Range> ranges_;  // keyed by base
    std::vector<IoDevice*> byNumber_;
};

}  // namespace ingot::vmm
