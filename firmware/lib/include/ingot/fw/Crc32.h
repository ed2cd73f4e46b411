// CRC-32 as used by GPT (and zlib, PNG, Ethernet): reflected polynomial 0xEDB88320, initial value
// and final XOR 0xFFFFFFFF.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace ingot::fw {

// Continues a CRC over more data; start with crc = 0. crc32_update(crc32_update(0, a), b) equals
// the CRC of a followed by b, as with zlib's crc32().
uint32_t crc32_update(uint32_t crc, const void* data, size_t size);

inline uint32_t crc32(const void* data, size_t size) {
    return crc32_update(0, data, size);
}

}  // namespace ingot::fw
