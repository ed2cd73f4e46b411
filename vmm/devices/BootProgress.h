#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

#include "devices/IoDevice.h"

namespace ingot::vmm {

// Records timestamped boot-progress codes that the firmware and the guest write (a 32-bit OUT
// to the port). Codes below 0x100 are the documented milestones; the rest pass through.
class BootProgress : public IoDevice {
public:
    enum Code : uint32_t {
        kFirmwareEntry = 0x01,
        kFirmwareVerified = 0x02,
        kKernelJump = 0x03,
        kUserspaceUp = 0x10,
    };
    struct Event {
        uint32_t code;
        uint64_t nanoseconds;  // since the monitor started
    };

    explicit BootProgress(std::chrono::steady_clock::time_point start) : start_(start) {}
    std::string_view name() const override { return "boot-progress"; }
    void read(uint64_t, std::span<uint8_t> data) override { fillAccess(data, 0); }
    void write(uint64_t, std::span<const uint8_t> data) override {
        auto now = std::chrono::steady_clock::now();
        std::lock_guard lock(mutex_);
        if (events_.size() < kMaxEvents)
            events_.push_back({static_cast<uint32_t>(accessValue(data)),
                               static_cast<uint64_t>((now - start_).count())});
    }
    std::vector<Event> events() const {
        std::lock_guard lock(mutex_);
        return events_;
    }
    static const char* codeName(uint32_t code);

private:
    // A guest that writes in a loop must not grow the monitor without bound.
    static constexpr size_t kMaxEvents = 4096;
    std::chrono::steady_clock::time_point start_;
    mutable std::mutex mutex_;
    std::vector<Event> events_;
};

inline const char* BootProgress::codeName(uint32_t code) {
    switch (code) {
        case kFirmwareEntry: return "firmware-entry";
        case kFirmwareVerified: return "firmware-verified";
        case kKernelJump: return "kernel-jump";
        case kUserspaceUp: return "userspace-up";
        default: return nullptr;
    }
}

}  // namespace ingot::vmm
