// SHA-512 (FIPS 180-4), incremental. Ed25519 hashes with it.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ingot/fw/Bytes.h"

namespace ingot::fw {

class Sha512 {
public:
    static constexpr size_t kDigestSize = 64;
    static constexpr size_t kBlockSize = 128;

    Sha512() { reset(); }

    // Starts a new message; finish() leaves the object in need of one before reuse.
    void reset();
    void update(const void* data, size_t size);
    void update(ByteView bytes) { update(bytes.data, bytes.size); }
    void finish(uint8_t digest[kDigestSize]);

    static void hash(const void* data, size_t size, uint8_t digest[kDigestSize]);

private:
    void compress(const uint8_t block[kBlockSize]);

    uint64_t state_[8];
    uint8_t buffer_[kBlockSize];
    size_t buffered_;
    uint64_t total_bytes_;
};

}  // namespace ingot::fw
