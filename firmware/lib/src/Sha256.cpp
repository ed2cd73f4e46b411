#include "ingot/fw/Sha256.h"

namespace ingot::fw {
namespace {

// First 32 bits of the fractional parts of the cube roots of the first 64 primes.
constexpr uint32_t kRoundConstants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

// First 32 bits of the fractional parts of the square roots of the first 8 primes.
constexpr uint32_t kInitialState[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

}  // namespace

void Sha256::reset() {
    for (int i = 0; i < 8; ++i) state_[i] = kInitialState[i];
    buffered_ = 0;
    total_bytes_ = 0;
}

void Sha256::compress(const uint8_t block[kBlockSize]) {
    uint32_t schedule[64];
    for (int t = 0; t < 16; ++t) schedule[t] = load_be32(block + 4 * t);
    for (int t = 16; t < 64; ++t) {
        uint32_t s0 =
            rotr32(schedule[t - 15], 7) ^ rotr32(schedule[t - 15], 18) ^ (schedule[t - 15] >> 3);
        uint32_t s1 =
            rotr32(schedule[t - 2], 17) ^ rotr32(schedule[t - 2], 19) ^ (schedule[t - 2] >> 10);
        schedule[t] = schedule[t - 16] + s0 + schedule[t - 7] + s1;
    }

    uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
    uint32_t e = state_[4], f = state_[5], g = state_[6], h = state_[7];
    for (int t = 0; t < 64; ++t) {
        uint32_t sum1 = rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25);
        uint32_t choose = (e & f) ^ (~e & g);
        uint32_t temp1 = h + sum1 + choose + kRoundConstants[t] + schedule[t];
        uint32_t sum0 = rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22);
        uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
        uint32_t temp2 = sum0 + majority;
        h = g;
        g = f;
        f = e;
        e = d + temp1;
        d = c;
        c = b;
        b = a;
        a = temp1 + temp2;
    }
    state_[0] += a;
    state_[1] += b;
    state_[2] += c;
    state_[3] += d;
    state_[4] += e;
    state_[5] += f;
    state_[6] += g;
    state_[7] += h;
}

void Sha256::update(const void* data, size_t size) {
    const uint8_t* bytes = static_cast<const uint8_t*>(data);
    total_bytes_ += size;
    if (buffered_ > 0) {
        size_t take = kBlockSize - buffered_;
        if (take > size) take = size;
        copy_bytes(buffer_ + buffered_, bytes, take);
        buffered_ += take;
        bytes += take;
        size -= take;
        if (buffered_ < kBlockSize) return;
        compress(buffer_);
        buffered_ = 0;
    }
    while (size >= kBlockSize) {
        compress(bytes);
        bytes += kBlockSize;
        size -= kBlockSize;
    }
    copy_bytes(buffer_, bytes, size);
    buffered_ = size;
}

void Sha256::finish(uint8_t digest[kDigestSize]) {
    uint64_t total_bits = total_bytes_ << 3;
    buffer_[buffered_++] = 0x80;
    if (buffered_ > kBlockSize - 8) {
        fill_bytes(buffer_ + buffered_, 0, kBlockSize - buffered_);
        compress(buffer_);
        buffered_ = 0;
    }
    fill_bytes(buffer_ + buffered_, 0, kBlockSize - 8 - buffered_);
    store_be64(buffer_ + kBlockSize - 8, total_bits);
    compress(buffer_);
    for (int i = 0; i < 8; ++i) store_be32(digest + 4 * i, state_[i]);
    buffered_ = 0;
}

void Sha256::hash(const void* data, size_t size, uint8_t digest[kDigestSize]) {
    Sha256 sha;
    sha.update(data, size);
    sha.finish(digest);
}

}  // namespace ingot::fw
