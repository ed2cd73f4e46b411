#include "ingot/fw/Blake2b.h"

namespace ingot::fw {
namespace {

// BLAKE2b shares SHA-512's initial values (RFC 7693 section 2.6).
constexpr uint64_t kInitVector[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

// Message word permutations (RFC 7693 section 2.7); rounds 10 and 11 reuse rows 0 and 1.
constexpr uint8_t kSigma[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

constexpr int kRounds = 12;

inline void mix(uint64_t v[16], int a, int b, int c, int d, uint64_t x, uint64_t y) {
    v[a] = v[a] + v[b] + x;
    v[d] = rotr64(v[d] ^ v[a], 32);
    v[c] = v[c] + v[d];
    v[b] = rotr64(v[b] ^ v[c], 24);
    v[a] = v[a] + v[b] + y;
    v[d] = rotr64(v[d] ^ v[a], 16);
    v[c] = v[c] + v[d];
    v[b] = rotr64(v[b] ^ v[c], 63);
}

}  // namespace

bool Blake2b::reset(size_t digest_size) {
    if (digest_size == 0 || digest_size > kMaxDigestSize) return false;
    for (int i = 0; i < 8; ++i) state_[i] = kInitVector[i];
    // Parameter block word 0: digest length, key length 0, fanout 1, depth 1 (sequential mode).
    state_[0] ^= 0x01010000ULL ^ static_cast<uint64_t>(digest_size);
    counter_[0] = 0;
    counter_[1] = 0;
    buffered_ = 0;
    digest_size_ = digest_size;
    return true;
}

void Blake2b::add_to_counter(uint64_t count) {
    counter_[0] += count;
    if (counter_[0] < count) ++counter_[1];
}

void Blake2b::compress(const uint8_t block[kBlockSize], bool last) {
    uint64_t message[16];
    for (int i = 0; i < 16; ++i) message[i] = load_le64(block + 8 * i);

    uint64_t v[16];
    for (int i = 0; i < 8; ++i) {
        v[i] = state_[i];
        v[i + 8] = kInitVector[i];
    }
    v[12] ^= counter_[0];
    v[13] ^= counter_[1];
    if (last) v[14] = ~v[14];

    for (int round = 0; round < kRounds; ++round) {
        const uint8_t* s = kSigma[round % 10];
        mix(v, 0, 4, 8, 12, message[s[0]], message[s[1]]);
        mix(v, 1, 5, 9, 13, message[s[2]], message[s[3]]);
        mix(v, 2, 6, 10, 14, message[s[4]], message[s[5]]);
        mix(v, 3, 7, 11, 15, message[s[6]], message[s[7]]);
        mix(v, 0, 5, 10, 15, message[s[8]], message[s[9]]);
        mix(v, 1, 6, 11, 12, message[s[10]], message[s[11]]);
        mix(v, 2, 7, 8, 13, message[s[12]], message[s[13]]);
        mix(v, 3, 4, 9, 14, message[s[14]], message[s[15]]);
    }
    for (int i = 0; i < 8; ++i) state_[i] ^= v[i] ^ v[i + 8];
}

void Blake2b::update(const void* data, size_t size) {
    const uint8_t* bytes = static_cast<const uint8_t*>(data);
    // The final block is compressed with a flag, so a full block stays buffered until more data
    // proves it is not the last one.
    size_t room = kBlockSize - buffered_;
    if (size > room) {
        copy_bytes(buffer_ + buffered_, bytes, room);
        add_to_counter(kBlockSize);
        compress(buffer_, false);
        buffered_ = 0;
        bytes += room;
        size -= room;
        while (size > kBlockSize) {
            add_to_counter(kBlockSize);
            compress(bytes, false);
            bytes += kBlockSize;
            size -= kBlockSize;
        }
    }
    copy_bytes(buffer_ + buffered_, bytes, size);
    buffered_ += size;
}

void Blake2b::finish(uint8_t* digest) {
    add_to_counter(buffered_);
    fill_bytes(buffer_ + buffered_, 0, kBlockSize - buffered_);
    compress(buffer_, true);
    uint8_t full[kMaxDigestSize];
    for (int i = 0; i < 8; ++i) store_le64(full + 8 * i, state_[i]);
    copy_bytes(digest, full, digest_size_);
    buffered_ = 0;
}

bool Blake2b::hash(const void* data, size_t size, uint8_t* digest, size_t digest_size) {
    Blake2b blake;
    if (!blake.reset(digest_size)) return false;
    blake.update(data, size);
    blake.finish(digest);
    return true;
}

}  // namespace ingot::fw
