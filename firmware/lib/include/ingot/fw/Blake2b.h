// BLAKE2b (RFC 7693), unkeyed, incremental, digest length 1..64 bytes. minisign prehashes the
// signed file with BLAKE2b-512.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ingot/fw/Bytes.h"

namespace ingot::fw {

class Blake2b {
public:
    static constexpr size_t kMaxDigestSize = 64;
    static constexpr size_t kBlockSize = 128;

    // Starts a BLAKE2b-512 computation.
    Blake2b() { (void)reset(kMaxDigestSize); }

    // Starts a new message with a digest of digest_size bytes. Returns false, and leaves the
    // object as it was, if digest_size is not in 1..64.
    [[nodiscard]] bool reset(size_t digest_size);
    size_t digest_size() const { return digest_size_; }

    void update(const void* data, size_t size);
    void update(ByteView bytes) { update(bytes.data, bytes.size); }
    // Writes digest_size() bytes; a reset() must follow before reuse.
    void finish(uint8_t* digest);

    // One-shot; returns false if digest_size is not in 1..64.
    [[nodiscard]] static bool hash(const void* data, size_t size, uint8_t* digest,
                                   size_t digest_size);

private:
    void add_to_counter(uint64_t count);
    void compress(const uint8_t block[kBlockSize], bool last);

    uint64_t state_[8];
    uint64_t counter_[2];  // bytes hashed so far, as a 128-bit number (low word first)
    uint8_t buffer_[kBlockSize];
    size_t buffered_;
    size_t digest_size_;
};

}  // namespace ingot::fw
