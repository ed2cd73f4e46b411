#include "ResetVector.h"

#include <array>
#include <cstdint>

namespace ingot::vmm {

void writeResetVectorStub(GuestMemory& memory) {
    static constexpr std::array<uint8_t, 7> kStub = {
        0xb0, 0xfe,  // mov al, 0xfe       (i8042: pulse reset line)
        0xe6, 0x64,  // out 0x64, al
        0xf4,        // hlt
        0xeb, 0xfd,  // jmp back to hlt
    };
    memory.write(kResetVector, kStub);
}

}  // namespace ingot::vmm
