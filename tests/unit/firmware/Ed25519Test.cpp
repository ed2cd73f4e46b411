// Ed25519 verification: RFC 8032 section 7.1 vectors, the rejections RFC 8032 demands, and
// agreement with OpenSSL on random keys and messages, before and after flipping one bit.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "TestSupport.h"
#include "ingot/fw/Ed25519.h"

namespace ingot::fw {
namespace {

using test::Bytes;
using test::from_hex;

struct Rfc8032Vector {
    const char* name;
    const char* public_key;
    const char* message;
    const char* signature;
};

// RFC 8032 section 7.1: TEST 1, TEST 2, TEST 3 and TEST SHA(abc).
constexpr Rfc8032Vector kRfc8032Vectors[] = {
    {"TEST 1", "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
    {"TEST SHA(abc)", "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
     "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
     "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"},
};

// L, the order of the base point, little-endian.
const Bytes kGroupOrder =
    from_hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");

Ed25519Status verify(const Bytes& signature, const Bytes& public_key, const Bytes& message) {
    return ed25519_verify(signature.data(), public_key.data(), test::view(message));
}

bool openssl_verify(const Bytes& signature, const Bytes& public_key, const Bytes& message) {
    EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), 32);
    if (key == nullptr) return false;  // OpenSSL refuses some encodings up front
    EVP_MD_CTX* context = EVP_MD_CTX_new();
    bool valid = EVP_DigestVerifyInit(context, nullptr, nullptr, nullptr, key) == 1 &&
                 EVP_DigestVerify(context, signature.data(), signature.size(), message.data(),
                                  message.size()) == 1;
    EVP_MD_CTX_free(context);
    EVP_PKEY_free(key);
    return valid;
}

// S + L, which is still below 2^256 because S < L < 2^253.
Bytes add_group_order_to_s(Bytes signature) {
    unsigned carry = 0;
    for (size_t i = 0; i < 32; ++i) {
        unsigned sum = signature[32 + i] + kGroupOrder[i] + carry;
        signature[32 + i] = static_cast<uint8_t>(sum);
        carry = sum >> 8;
    }
    return signature;
}

TEST(Ed25519Test, Rfc8032VectorsVerify) {
    for (const auto& vector : kRfc8032Vectors) {
        SCOPED_TRACE(vector.name);
        Bytes public_key = from_hex(vector.public_key);
        Bytes message = from_hex(vector.message);
        Bytes signature = from_hex(vector.signature);
        EXPECT_EQ(verify(signature, public_key, message), Ed25519Status::kValid);

        Bytes other_message = message;
        other_message.push_back(0);
        EXPECT_EQ(verify(signature, public_key, other_message), Ed25519Status::kMismatch);
    }
}

TEST(Ed25519Test, VerifyPartsEqualsConcatenation) {
    const auto& vector = kRfc8032Vectors[3];
    Bytes public_key = from_hex(vector.public_key);
    Bytes message = from_hex(vector.message);
    Bytes signature = from_hex(vector.signature);
    for (size_t split = 0; split <= message.size(); split += 7) {
        ByteView parts[3] = {ByteView(message.data(), split), ByteView(),
                             ByteView(message.data() + split, message.size() - split)};
        EXPECT_EQ(ed25519_verify_parts(signature.data(), public_key.data(), parts, 3),
                  Ed25519Status::kValid);
    }
    EXPECT_EQ(ed25519_verify_parts(signature.data(), public_key.data(), nullptr, 1),
              Ed25519Status::kInvalidArgument);
}

TEST(Ed25519Test, RejectsNonCanonicalS) {
    const auto& vector = kRfc8032Vectors[1];
    Bytes public_key = from_hex(vector.public_key);
    Bytes message = from_hex(vector.message);
    // S + L is the same scalar mod L, so a verifier without the S < L check would accept it.
    Bytes malleated = add_group_order_to_s(from_hex(vector.signature));
    EXPECT_EQ(verify(malleated, public_key, message), Ed25519Status::kNonCanonicalS);
    EXPECT_FALSE(openssl_verify(malleated, public_key, message));

    Bytes s_equals_l = from_hex(vector.signature);
    std::copy(kGroupOrder.begin(), kGroupOrder.end(), s_equals_l.begin() + 32);
    EXPECT_EQ(verify(s_equals_l, public_key, message), Ed25519Status::kNonCanonicalS);
}

TEST(Ed25519Test, RejectsInvalidPublicKeys) {
    Bytes signature = from_hex(kRfc8032Vectors[0].signature);
    Bytes message;
    // y = p + 1, a non-canonical encoding of y = 1.
    Bytes y_above_p = from_hex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    EXPECT_EQ(verify(signature, y_above_p, message), Ed25519Status::kBadPublicKey);
    // y = 1 gives x = 0, whose sign bit must be clear.
    Bytes negative_zero =
        from_hex("0100000000000000000000000000000000000000000000000000000000000080");
    EXPECT_EQ(verify(signature, negative_zero, message), Ed25519Status::kBadPublicKey);
    // y = 2 is not the y-coordinate of any curve point ((y^2 - 1)/(d y^2 + 1) is not a square).
    Bytes not_on_curve =
        from_hex("0200000000000000000000000000000000000000000000000000000000000000");
    EXPECT_EQ(verify(signature, not_on_curve, message), Ed25519Status::kBadPublicKey);
}

TEST(Ed25519Test, RandomSignaturesAgreeWithOpenSsl) {
    int rejected_after_flip = 0;
    for (int iteration = 0; iteration < 200; ++iteration) {
        test::Ed25519KeyPair key = test::openssl_ed25519_keypair();
        Bytes message = test::random_bytes(test::random_size(iteration % 2 ? 64 : 2000));
        Bytes signature = test::openssl_ed25519_sign(key, message);
        ASSERT_EQ(verify(signature, key.public_key, message), Ed25519Status::kValid)
            << "public key " << test::to_hex(key.public_key) << " message "
            << test::to_hex(message);

        // Flip one bit in the message, the signature or the public key.
        Bytes flipped_message = message, flipped_signature = signature,
              flipped_key = key.public_key;
        switch (iteration % 3) {
            case 0:
                if (message.empty()) {
                    flipped_message.push_back(0);
                } else {
                    flipped_message[test::random_size(message.size() - 1)] ^=
                        static_cast<uint8_t>(1u << test::random_size(7));
                }
                break;
            case 1:
                flipped_signature[test::random_size(63)] ^=
                    static_cast<uint8_t>(1u << test::random_size(7));
                break;
            case 2:
                flipped_key[test::random_size(31)] ^=
                    static_cast<uint8_t>(1u << test::random_size(7));
                break;
        }
        Ed25519Status ours = verify(flipped_signature, flipped_key, flipped_message);
        bool theirs = openssl_verify(flipped_signature, flipped_key, flipped_message);
        EXPECT_NE(ours, Ed25519Status::kValid);
        EXPECT_EQ(ours == Ed25519Status::kValid, theirs);
        if (ours != Ed25519Status::kValid) ++rejected_after_flip;
    }
    EXPECT_EQ(rejected_after_flip, 200);
}

}  // namespace
}  // namespace ingot::fw
