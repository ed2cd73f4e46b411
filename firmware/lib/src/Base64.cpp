#include "ingot/fw/Base64.h"

namespace ingot::fw {
namespace {

constexpr int kNotBase64 = -1;

constexpr int sextet_of(uint8_t c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return kNotBase64;
}

}  // namespace

const char* to_string(Base64Status status) {
    switch (status) {
        case Base64Status::kOk:
            return "ok";
        case Base64Status::kBadLength:
            return "base64 text length is not a multiple of 4";
        case Base64Status::kBadCharacter:
            return "invalid base64 character";
        case Base64Status::kBadPadding:
            return "invalid base64 padding";
        case Base64Status::kOutputTooSmall:
            return "decoded base64 is larger than expected";
    }
    return "unknown base64 status";
}

Base64Status base64_decode(ByteView encoded, uint8_t* out, size_t out_capacity,
                           size_t* decoded_size) {
    *decoded_size = 0;
    if (encoded.size % 4 != 0) return Base64Status::kBadLength;
    if (encoded.empty()) return Base64Status::kOk;

    // Padding may only close the final quantum: "xx==" or "xxx=".
    size_t padding = 0;
    if (encoded[encoded.size - 1] == '=') ++padding;
    if (encoded[encoded.size - 2] == '=') {
        if (padding == 0) return Base64Status::kBadCharacter;
        ++padding;
    }
    if (padding == 2 && encoded[encoded.size - 3] == '=') return Base64Status::kBadPadding;

    size_t output_size = encoded.size / 4 * 3 - padding;
    if (output_size > out_capacity) return Base64Status::kOutputTooSmall;

    size_t written = 0;
    for (size_t quantum = 0; quantum < encoded.size; quantum += 4) {
        bool last = quantum + 4 == encoded.size;
        size_t data_chars = last ? 4 - padding : 4;
        uint32_t bits = 0;
        for (size_t i = 0; i < 4; ++i) {
            int sextet = 0;
            if (i < data_chars) {
                sextet = sextet_of(encoded[quantum + i]);
                if (sextet == kNotBase64) return Base64Status::kBadCharacter;
            }
            bits = (bits << 6) | static_cast<uint32_t>(sextet);
        }
        // 2 data chars carry 12 bits for one byte, 3 carry 18 bits for two: the rest must be 0.
        if (data_chars == 2 && (bits & 0xFFFF) != 0) return Base64Status::kBadPadding;
        if (data_chars == 3 && (bits & 0xFF) != 0) return Base64Status::kBadPadding;
        size_t bytes = data_chars - 1;
        for (size_t i = 0; i < bytes; ++i)
            out[written++] = static_cast<uint8_t>(bits >> (16 - 8 * i));
    }
    *decoded_size = written;
    return Base64Status::kOk;
}

}  // namespace ingot::fw
