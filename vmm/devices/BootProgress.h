#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "devices/IoDevice.h"

namespace ingot::vmm {

// Records timestamped boot-progress codes that the firmware and the guest write (a 32-bit OUT
// to the port). Codes below 0x100 are the documented milestones; the rest pass through, except
// words with the top bit set: those carry the firmware's measurement, 16 bits at a time
// (0x8000_0000 | index << 16 | two bytes), so the monitor can report what booted.
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
        auto value = static_cast<uint32_t>(accessValue(data));
        std::lock_guard lock(mutex_);
        if (data.size() == 4 && (value & kMeasurementWord)) {
            uint32_t index = (value >> 16) & 0x7fff;
            if (index < kMeasurementWords) {
                measurement_[2 * index] = static_cast<uint8_t>(value >> 8);
                measurement_[2 * index + 1] = static_cast<uint8_t>(value);
                measurementWordsSeen_ |= 1u << index;
            }
            return;
        }
        if (events_.size() < kMaxEvents)
            events_.push_back({value, static_cast<uint64_t>((now - start_).count())});
    }
    std::vector<Event> events() const {
        std::lock_guard lock(mutex_);
        return events_;
    }
    static const char* codeName(uint32_t code);
    // The firmware's measurement in hex, once all of its words have arrived.
    std::optional<std::string> measurement() const {
        std::lock_guard lock(mutex_);
        if (measurementWordsSeen_ != (1u << kMeasurementWords) - 1) return std::nullopt;
        std::string hex;
        for (uint8_t b : measurement_) {
            hex += "0123456789abcdef"[b >> 4];
            hex += "0123456789abcdef"[b & 0xf];
        }
        return hex;
    }

private:
    static constexpr uint32_t kMeasurementWord = 0x8000'0000u;
    static constexpr uint32_t kMeasurementWords = 16;
    uint8_t measurement_[2 * kMeasurementWords] = {};
    uint32_t measurementWordsSeen_ = 0;
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
