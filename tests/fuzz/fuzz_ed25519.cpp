// ed25519_verify on arbitrary signature (64 bytes), public key (32 bytes) and message (the
// rest). Nothing should crash; point decoding and scalar checks see every kind of encoding.
// Property: a message split into two parts verifies exactly as the whole.
#include <cstdint>

#include "FuzzCheck.h"
#include "ingot/fw/Ed25519.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ingot::fw;
    if (size < 96) return 0;
    ByteView message(data + 96, size - 96);
    Ed25519Status whole = ed25519_verify(data, data + 64, message);
    size_t split = message.size / 2;
    ByteView parts[2] = {ByteView(message.data, split),
                         ByteView(message.data + split, message.size - split)};
    FUZZ_CHECK(ed25519_verify_parts(data, data + 64, parts, 2) == whole);
    return 0;
}
