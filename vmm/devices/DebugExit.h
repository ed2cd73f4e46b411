#pragma once

#include "VmLifecycle.h"
#include "devices/IoDevice.h"

namespace ingot::vmm {

// QEMU's isa-debug-exit contract: writing v ends the VM and the monitor exits with (v << 1) | 1,
// so a test payload's result never collides with the monitor's own even exit codes.
class DebugExit : public IoDevice {
public:
    explicit DebugExit(VmLifecycle& lifecycle) : lifecycle_(lifecycle) {}
    std::string_view name() const override { return "debug-exit"; }
    void read(uint64_t, std::span<uint8_t> data) override { fillAccess(data, 0); }
    void write(uint64_t, std::span<const uint8_t> data) override {
        uint64_t v = accessValue(data);
        lifecycle_.requestStop(StopReason::kDebugExit, static_cast<int>(((v << 1) | 1) & 0xff),
                               "debug-exit value " + std::to_string(v));
    }

private:
    VmLifecycle& lifecycle_;
};

}  // namespace ingot::vmm
