#pragma once

#include "VmLifecycle.h"
#include "devices/IoDevice.h"

namespace ingot::vmm {

// QEMU's pvpanic I/O port (ACPI id QEMU0001, Linux driver pvpanic-mmio): the guest kernel
// writes "panicked" here from its panic notifier, so a guest panic ends the VM with the crash
// status instead of looking like the reboot that panic=N would otherwise turn it into.
class PvPanic : public IoDevice {
public:
    static constexpr uint8_t kPanicked = 1;
    static constexpr uint8_t kCrashLoaded = 2;
    static constexpr int kGuestCrashStatus = 6;

    explicit PvPanic(VmLifecycle& lifecycle) : lifecycle_(lifecycle) {}
    std::string_view name() const override { return "pvpanic"; }
    void read(uint64_t, std::span<uint8_t> data) override { fillAccess(data, kPanicked); }
    void write(uint64_t, std::span<const uint8_t> data) override {
        if (accessValue(data) & kPanicked)
            lifecycle_.requestStop(StopReason::kGuestPanic, kGuestCrashStatus, "guest kernel panic");
    }

private:
    VmLifecycle& lifecycle_;
};

}  // namespace ingot::vmm
