// SHA-256, SHA-512 and BLAKE2b: published known answers, then agreement with OpenSSL on random
// inputs fed in random pieces (which exercises every buffering path of update()).
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

#include "TestSupport.h"
#include "ingot/fw/Blake2b.h"
#include "ingot/fw/Crc32.h"
#include "ingot/fw/Sha256.h"
#include "ingot/fw/Sha512.h"

namespace ingot::fw {
namespace {

using test::Bytes;
using test::to_hex;

constexpr const char kAbc[] = "abc";
constexpr const char k448Bits[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
constexpr const char k896Bits[] =
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnop"
    "qrsmnopqrstnopqrstu";

template <typename Hash>
std::string hash_hex(std::string_view text) {
    uint8_t digest[Hash::kDigestSize];
    Hash::hash(text.data(), text.size(), digest);
    return to_hex(digest, sizeof digest);
}

template <typename Hash>
std::string million_a_hex() {
    Hash hash;
    std::string chunk(1000, 'a');
    for (int i = 0; i < 1000; ++i) hash.update(chunk.data(), chunk.size());
    uint8_t digest[Hash::kDigestSize];
    hash.finish(digest);
    return to_hex(digest, sizeof digest);
}

std::string blake2b_hex(std::string_view text, size_t digest_size) {
    uint8_t digest[Blake2b::kMaxDigestSize];
    EXPECT_TRUE(Blake2b::hash(text.data(), text.size(), digest, digest_size));
    return to_hex(digest, digest_size);
}

// Feeds `data` to `hash` in random-sized pieces, including empty ones.
template <typename Hash>
void update_in_pieces(Hash& hash, const Bytes& data) {
    size_t offset = 0;
    while (offset < data.size()) {
        size_t piece = test::random_size(std::min<size_t>(data.size() - offset, 300));
        hash.update(data.data() + offset, piece);
        offset += piece;
    }
}

TEST(Sha256Test, Fips180KnownAnswers) {
    EXPECT_EQ(hash_hex<Sha256>(kAbc),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(hash_hex<Sha256>(""),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(hash_hex<Sha256>(k448Bits),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(hash_hex<Sha256>(k896Bits),
              "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    EXPECT_EQ(million_a_hex<Sha256>(),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha512Test, Fips180KnownAnswers) {
    EXPECT_EQ(hash_hex<Sha512>(kAbc),
              "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
              "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    EXPECT_EQ(hash_hex<Sha512>(""),
              "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
              "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
    EXPECT_EQ(hash_hex<Sha512>(k448Bits),
              "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335"
              "96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445");
    EXPECT_EQ(hash_hex<Sha512>(k896Bits),
              "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
              "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909");
    EXPECT_EQ(million_a_hex<Sha512>(),
              "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
              "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b");
}

TEST(Blake2bTest, Rfc7693KnownAnswers) {
    // RFC 7693 appendix A.
    EXPECT_EQ(blake2b_hex(kAbc, 64),
              "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
              "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
    EXPECT_EQ(blake2b_hex("", 64),
              "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419"
              "d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce");
    // Shorter digests are not truncations: the length is part of the parameter block.
    EXPECT_EQ(blake2b_hex(kAbc, 32),
              "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
    EXPECT_EQ(blake2b_hex(kAbc, 48),
              "6f56a82c8e7ef526dfe182eb5212f7db9df1317e57815dbda46083fc30f54ee6"
              "c66ba83be64b302d7cba6ce15bb556f4");
    EXPECT_EQ(blake2b_hex(kAbc, 20), "384264f676f39536840523f284921cdc68b6846b");
    EXPECT_EQ(blake2b_hex(kAbc, 1), "6b");
}

TEST(Blake2bTest, RejectsInvalidDigestSizes) {
    uint8_t digest[Blake2b::kMaxDigestSize + 1];
    EXPECT_FALSE(Blake2b::hash("x", 1, digest, 0));
    EXPECT_FALSE(Blake2b::hash("x", 1, digest, 65));
    Blake2b blake;
    EXPECT_FALSE(blake.reset(0));
    EXPECT_EQ(blake.digest_size(), 64u);  // unchanged
}

TEST(Blake2bTest, ExactBlockMultiplesMatchOpenSsl) {
    // The last full block must be compressed with the final flag, never earlier.
    for (size_t size : {0, 1, 127, 128, 129, 255, 256, 257, 1024}) {
        Bytes data = test::random_bytes(size);
        uint8_t digest[64];
        ASSERT_TRUE(Blake2b::hash(data.data(), data.size(), digest, 64));
        EXPECT_EQ(to_hex(digest, 64), to_hex(test::openssl_digest("BLAKE2B-512", data)))
            << "size " << size;
    }
}

TEST(HashDifferentialTest, RandomInputsMatchOpenSsl) {
    for (int iteration = 0; iteration < 300; ++iteration) {
        Bytes data = test::random_bytes(test::random_size(iteration < 200 ? 600 : 20000));
        SCOPED_TRACE("size " + std::to_string(data.size()));

        Sha256 sha256;
        update_in_pieces(sha256, data);
        uint8_t digest256[Sha256::kDigestSize];
        sha256.finish(digest256);
        ASSERT_EQ(to_hex(digest256, 32), to_hex(test::openssl_digest("SHA256", data)));

        Sha512 sha512;
        update_in_pieces(sha512, data);
        uint8_t digest512[Sha512::kDigestSize];
        sha512.finish(digest512);
        ASSERT_EQ(to_hex(digest512, 64), to_hex(test::openssl_digest("SHA512", data)));

        Blake2b blake;
        update_in_pieces(blake, data);
        uint8_t digest_blake[Blake2b::kMaxDigestSize];
        blake.finish(digest_blake);
        ASSERT_EQ(to_hex(digest_blake, 64), to_hex(test::openssl_digest("BLAKE2B-512", data)));
    }
}

TEST(HashTest, ResetStartsOver) {
    Sha256 sha;
    sha.update("garbage", 7);
    uint8_t digest[Sha256::kDigestSize];
    sha.finish(digest);
    sha.reset();
    sha.update(kAbc, 3);
    sha.finish(digest);
    EXPECT_EQ(to_hex(digest, 32), hash_hex<Sha256>(kAbc));
}

TEST(Crc32Test, KnownAnswersAndChaining) {
    EXPECT_EQ(crc32("123456789", 9), 0xCBF43926u);  // the standard check value
    EXPECT_EQ(crc32("", 0), 0u);
    EXPECT_EQ(crc32_update(crc32("1234", 4), "56789", 5), 0xCBF43926u);
}

TEST(Crc32Test, RandomInputsMatchZlib) {
    for (int iteration = 0; iteration < 100; ++iteration) {
        Bytes data = test::random_bytes(test::random_size(5000));
        uLong expected = ::crc32(0L, data.data(), static_cast<uInt>(data.size()));
        EXPECT_EQ(crc32(data.data(), data.size()), expected);
    }
}

}  // namespace
}  // namespace ingot::fw
