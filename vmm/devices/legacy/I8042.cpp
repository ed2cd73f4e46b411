#include "I8042.h"

namespace ingot::vmm {

void I8042::read(uint64_t, std::span<uint8_t> data) { fillAccess(data, 0); }

void I8042::write(uint64_t offset, std::span<const uint8_t> data) {
    if (offset == 4 && !data.empty() && data[0] == kCommandPulseReset)
        lifecycle_.requestStop(StopReason::kReboot, 0, "i8042 reset");
}

}  // namespace ingot::vmm
