#pragma once

#include "VmLifecycle.h"
#include "devices/IoDevice.h"

namespace ingot::vmm {

// The hardware-reduced ACPI power controls the FADT points at: the sleep control register
// (SLP_TYP in bits 2–4, SLP_EN in bit 5; S5 = poweroff), the sleep status register, and the
// reset register. Registered over 8 ports; offsets are relative to the sleep control port.
class AcpiPowerControl : public IoDevice {
public:
    static constexpr uint64_t kSleepControl = 0;
    static constexpr uint64_t kSleepStatus = 1;
    static constexpr uint64_t kReset = 4;
    static constexpr uint8_t kSlpEn = 1 << 5;

    AcpiPowerControl(VmLifecycle& lifecycle, uint8_t s5SleepType, uint8_t resetValue)
        : lifecycle_(lifecycle), s5SleepType_(s5SleepType), resetValue_(resetValue) {}
    std::string_view name() const override { return "acpi-power"; }
    void read(uint64_t, std::span<uint8_t> data) override { fillAccess(data, 0); }
    void write(uint64_t offset, std::span<const uint8_t> data) override {
        uint64_t v = accessValue(data);
        if (offset == kSleepControl && (v & kSlpEn) && ((v >> 2) & 7) == s5SleepType_)
            lifecycle_.requestStop(StopReason::kPoweroff, 0, "ACPI S5");
        else if (offset == kReset && v == resetValue_)
            lifecycle_.requestStop(StopReason::kReboot, 0, "ACPI reset register");
    }

private:
    VmLifecycle& lifecycle_;
    uint8_t s5SleepType_;
    uint8_t resetValue_;
};

}  // namespace ingot::vmm
