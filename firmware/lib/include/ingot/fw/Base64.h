// Strict base64 decoding (RFC 4648 section 4, standard alphabet, '=' padding), the encoding of
// minisign keys and signatures.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ingot/fw/Bytes.h"

namespace ingot::fw {

enum class Base64Status : uint8_t {
    kOk,
    kBadLength,       // not a multiple of 4 characters
    kBadCharacter,    // outside A-Z a-z 0-9 + /, or '=' before the end
    kBadPadding,      // more than two '=', or non-zero bits in the last character
    kOutputTooSmall,  // the decoded bytes would not fit in the caller's buffer
};

const char* to_string(Base64Status status);

// Upper bound of the decoded size of `encoded_size` characters.
constexpr size_t base64_max_decoded_size(size_t encoded_size) {
    return encoded_size / 4 * 3;
}

// Decodes all of `encoded` (no whitespace or line breaks allowed) into out[0, out_capacity).
// Rejects every input that a canonical encoder would not produce, so each byte string has exactly
// one accepted encoding. On success *decoded_size is the number of bytes written.
Base64Status base64_decode(ByteView encoded, uint8_t* out, size_t out_capacity,
                           size_t* decoded_size);

}  // namespace ingot::fw
