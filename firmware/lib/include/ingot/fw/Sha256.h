// SHA-256 (FIPS 180-4), incremental.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ingot/fw/Bytes.h"

namespace ingot::fw {

class Sha256 {
public:
    static constexpr size_t kDigestSize = 32;
    static constexpr size_t kBlockSize = 64;

    Sha256() { reset(); }

    // Starts a new message; finish() leaves the object in need of one before reuse.
    void reset();
    void update(const void* data, size_t size);
    void update(ByteView bytes) { update(bytes.data, bytes.size); }
    void finish(uint8_t digest[kDigestSize]);

    static void hash(const void* data, size_t size, uint8_t digest[kDigestSize]);

private:
    void compress(const uint8_t block[kBlockSize]);

    uint32_t state_[8];
    uint8_t buffer_[kBlockSize];
    size_t buffered_;
    // FIPS 180-4 appends the length in bits mod 2^64; counting bytes in 64 bits reaches that
    // limit only after 2^61 bytes, which no caller can feed.
    uint64_t total_bytes_;
};

}  // namespace ingot::fw
