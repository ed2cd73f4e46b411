#pragma once

#include <sys/uio.h>

#include <cerrno>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace ingot::vmm::virtio {

// Where a block device's bytes live: a raw file today, a qcow2 overlay over a verified base disk
// later. The device checks every request against sizeBytes() before it gets here, so a backend
// only sees in-range, sector-aligned requests. Called from the device's worker thread only.
class BlockBackend {
public:
    virtual ~BlockBackend() = default;

    virtual uint64_t sizeBytes() const = 0;
    virtual bool readOnly() const = 0;
    // For messages: "raw file /x/disk.img".
    virtual std::string describe() const = 0;

    // Fill `buffers` with the bytes at `offset`, or write them there, completely. Return 0 or
    // an errno value.
    virtual int read(uint64_t offset, std::span<const iovec> buffers) = 0;
    virtual int write(uint64_t offset, std::span<const iovec> buffers) = 0;
    // Make every completed write durable.
    virtual int flush() = 0;

    // DISCARD and WRITE_ZEROES. After either, the range reads as zeros (for an overlay: zeros,
    // not the base's bytes). `mayUnmap` lets writeZeroes free the space, as discard always may.
    // Backends that cannot do this keep the defaults, and the device does not offer the features.
    virtual uint32_t discardGranularity() const { return 0; }  // bytes; 0: not supported
    virtual int discard(uint64_t /*offset*/, uint64_t /*length*/) { return EOPNOTSUPP; }
    virtual int writeZeroes(uint64_t /*offset*/, uint64_t /*length*/, bool /*mayUnmap*/) {
        return EOPNOTSUPP;
    }

    // Backend-specific counters for the monitor's stats document, as (name, value) pairs.
    virtual std::vector<std::pair<std::string, uint64_t>> counters() const { return {}; }
};

}  // namespace ingot::vmm::virtio
