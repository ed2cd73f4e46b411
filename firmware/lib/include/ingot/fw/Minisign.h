// minisign public keys and signatures (https://jedisct1.github.io/minisign/), verify only.
//
//   public key:  "untrusted comment: ..." line (optional here), then base64 of
//                "Ed" || key id (8) || Ed25519 public key (32)
//   .minisig:    "untrusted comment: ..."
//                base64 of "ED" (BLAKE2b-512 prehash) or "Ed" (legacy) || key id (8) || sig (64)
//                "trusted comment: <text>"
//                base64 of the global signature (64) over sig || <text>
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ingot/fw/Bytes.h"

namespace ingot::fw {

inline constexpr size_t kMinisignKeyIdSize = 8;

enum class MinisignStatus : uint8_t {
    kOk,
    kMissingUntrustedComment,  // first line does not start with "untrusted comment: "
    kMissingTrustedComment,    // third line does not start with "trusted comment: "
    kMissingLine,              // fewer lines than the format has
    kTrailingData,             // more non-empty lines than the format has
    kBadBase64,
    kBadLength,           // base64 decodes to the wrong number of bytes
    kUnknownAlgorithm,    // not "Ed" (keys, legacy signatures) or "ED" (prehashed)
    kKeyIdMismatch,       // signed by another key
    kBadPublicKey,        // the key's 32 bytes are not an Ed25519 point
    kBadSignature,        // the file's signature does not verify
    kBadGlobalSignature,  // the trusted comment's signature does not verify
    kNoKeys,              // no trusted key given
    kLegacyNotAllowed,    // "Ed" signature where the caller requires a prehashed one
};

const char* to_string(MinisignStatus status);

struct MinisignPublicKey {
    uint8_t key_id[kMinisignKeyIdSize];
    uint8_t key[32];
};

enum class MinisignAlgorithm : uint8_t {
    kLegacy,     // "Ed": Ed25519 over the message itself
    kPrehashed,  // "ED": Ed25519 over BLAKE2b-512(message); minisign's default since 0.8
};

struct MinisignSignature {
    MinisignAlgorithm algorithm;
    uint8_t key_id[kMinisignKeyIdSize];
    uint8_t signature[64];
    ByteView untrusted_comment;  // text after "untrusted comment: ", into the parsed input
    ByteView trusted_comment;    // text after "trusted comment: ", into the parsed input
    uint8_t global_signature[64];
};

// Accepts a .pub file (comment line + key line) or the bare base64 key line as `minisign -P`
// takes it; lines may end in "\n" or "\r\n". Does not check that the key is a curve point (that
// happens when it verifies something).
MinisignStatus parse_minisign_public_key(ByteView text, MinisignPublicKey* key);

// Parses a .minisig file. The comment views point into `text`, which must outlive `signature`.
MinisignStatus parse_minisign_signature(ByteView text, MinisignSignature* signature);

enum class MinisignLegacyPolicy : uint8_t { kAllow, kReject };

// Checks that `key` made `signature` over `message` and signed its trusted comment, as
// `minisign -V` does. Only kOk means both hold.
MinisignStatus verify_minisign(const MinisignSignature& signature, const MinisignPublicKey& key,
                               ByteView message,
                               MinisignLegacyPolicy legacy = MinisignLegacyPolicy::kAllow);

// The same against a set of trusted keys: picks the key whose id the signature names and stores
// its index in *key_index (when not null). kKeyIdMismatch when no trusted key has that id.
MinisignStatus verify_minisign_with_any(const MinisignSignature& signature,
                                        const MinisignPublicKey* keys, size_t key_count,
                                        ByteView message, size_t* key_index = nullptr,
                                        MinisignLegacyPolicy legacy = MinisignLegacyPolicy::kAllow);

}  // namespace ingot::fw
