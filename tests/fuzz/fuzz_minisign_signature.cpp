// parse_minisign_signature on arbitrary text, and verification of whatever parses against a
// fixed key and message (which drives Ed25519 point decoding and the S < L check with attacker
// bytes). Properties: comments point into the input; nothing verifies without the secret key.
#include <cstdint>

#include "FuzzCheck.h"
#include "ingot/fw/Minisign.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ingot::fw;
    MinisignSignature signature;
    if (parse_minisign_signature(ByteView(data, size), &signature) != MinisignStatus::kOk) {
        return 0;
    }
    FUZZ_CHECK(signature.trusted_comment.data >= data &&
               signature.trusted_comment.end() <= data + size);
    FUZZ_CHECK(signature.untrusted_comment.data >= data &&
               signature.untrusted_comment.end() <= data + size);

    // RFC 8032 test 1's public key; its secret key signs nothing in the seed corpus, so no
    // mutation of the input can produce a valid signature for it.
    static constexpr MinisignPublicKey kKey = {
        {0, 1, 2, 3, 4, 5, 6, 7},
        {0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe,
         0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6,
         0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a},
    };
    MinisignPublicKey key = kKey;
    // Use the signature's key id, so verification reaches the Ed25519 code.
    for (size_t i = 0; i < kMinisignKeyIdSize; ++i) key.key_id[i] = signature.key_id[i];
    static const char kMessage[] = "manifest";
    MinisignStatus status =
        verify_minisign(signature, key, ByteView(kMessage, sizeof kMessage - 1));
    FUZZ_CHECK(status == MinisignStatus::kBadSignature ||
               status == MinisignStatus::kBadGlobalSignature || status == MinisignStatus::kOk);
    FUZZ_CHECK(status != MinisignStatus::kOk);
    return 0;
}
