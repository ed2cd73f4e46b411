// base64_decode on arbitrary text. Property: the decoder is strict, so whatever it accepts must
// re-encode to exactly the input.
#include <cstdint>
#include <string>
#include <vector>

#include "FuzzCheck.h"
#include "ingot/fw/Base64.h"

namespace {

std::string encode(const uint8_t* data, size_t size) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (size_t i = 0; i < size; i += 3) {
        uint32_t bits = uint32_t{data[i]} << 16;
        if (i + 1 < size) bits |= uint32_t{data[i + 1]} << 8;
        if (i + 2 < size) bits |= data[i + 2];
        out += kAlphabet[(bits >> 18) & 63];
        out += kAlphabet[(bits >> 12) & 63];
        out += i + 1 < size ? kAlphabet[(bits >> 6) & 63] : '=';
        out += i + 2 < size ? kAlphabet[bits & 63] : '=';
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ingot::fw;
    std::vector<uint8_t> out(base64_max_decoded_size(size));
    size_t decoded = 0;
    Base64Status status = base64_decode(ByteView(data, size), out.data(), out.size(), &decoded);
    if (status == Base64Status::kOk) {
        FUZZ_CHECK(decoded <= out.size());
        FUZZ_CHECK(encode(out.data(), decoded) ==
                   std::string(reinterpret_cast<const char*>(data), size));
        // One byte too little room must be reported, not overrun.
        if (decoded > 0) {
            std::vector<uint8_t> tight(decoded - 1);
            size_t ignored = 0;
            FUZZ_CHECK(base64_decode(ByteView(data, size), tight.data(), tight.size(), &ignored) ==
                       Base64Status::kOutputTooSmall);
        }
    } else {
        FUZZ_CHECK(decoded == 0);
    }
    return 0;
}
