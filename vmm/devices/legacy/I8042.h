#pragma once

#include "VmLifecycle.h"
#include "devices/IoDevice.h"

namespace ingot::vmm {

// The part of the PS/2 controller a guest without keyboard uses: the "pulse reset line"
// command (0xFE on the command port) that Linux's reboot falls back to. The status register
// always reads "buffers empty", so waits for the controller finish at once. It is registered
// over ports 0x60–0x64; offset 4 is the command/status port.
class I8042 : public IoDevice {
public:
    explicit I8042(VmLifecycle& lifecycle) : lifecycle_(lifecycle) {}
    std::string_view name() const override { return "i8042"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    static constexpr uint8_t kCommandPulseReset = 0xfe;

private:
    VmLifecycle& lifecycle_;
};

}  // namespace ingot::vmm
