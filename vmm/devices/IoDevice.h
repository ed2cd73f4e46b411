#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace ingot::vmm {

// A device on the port-I/O or MMIO bus. `offset` is relative to the start of the range the
// device was registered at; `data` is what the guest reads or wrote (1, 2, 4 or 8 bytes). The
// bus serialises nothing: a device that several vCPUs or host threads reach keeps its own lock.
class IoDevice {
public:
    virtual ~IoDevice() = default;
    virtual std::string_view name() const = 0;
    virtual void read(uint64_t offset, std::span<uint8_t> data) = 0;
    virtual void write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

// An interrupt input of the in-kernel irqchip, as a device sees it.
class InterruptLine {
public:
    virtual ~InterruptLine() = default;
    virtual void set(bool level) = 0;
};

// An edge-triggered interrupt input (a KVM irqfd): each call is one edge. Unlike InterruptLine it
// can be raised from any thread without a VM exit or an ioctl.
class EdgeInterrupt {
public:
    virtual ~EdgeInterrupt() = default;
    virtual void trigger() = 0;
};

// Little-endian value of what the guest wrote, whatever the access width.
inline uint64_t accessValue(std::span<const uint8_t> data) {
    uint64_t v = 0;
    for (size_t i = 0; i < data.size() && i < 8; ++i) v |= uint64_t{data[i]} << (8 * i);
    return v;
}
inline void fillAccess(std::span<uint8_t> data, uint64_t v) {
    for (size_t i = 0; i < data.size(); ++i) data[i] = i < 8 ? static_cast<uint8_t>(v >> (8 * i)) : 0;
}

}  // namespace ingot::vmm
