// Ed25519 signature verification (RFC 8032 section 5.1.7), nothing else: the firmware only ever
// checks signatures. Verification handles public data only, so it is not constant-time.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ingot/fw/Bytes.h"

namespace ingot::fw {

inline constexpr size_t kEd25519PublicKeySize = 32;
inline constexpr size_t kEd25519SignatureSize = 64;

enum class Ed25519Status : uint8_t {
    kValid,
    kNonCanonicalS,    // S >= L: RFC 8032 requires rejecting it (prevents malleability)
    kBadPublicKey,     // A is not the canonical encoding of a curve point
    kMismatch,         // well-formed, but [S]B != R + [k]A: wrong key, message or signature
    kInvalidArgument,  // part_count > 0 with parts == nullptr
};

const char* to_string(Ed25519Status status);

// Checks signature (R || S) over message by public_key. R is compared in its encoded form, so a
// non-canonical R never verifies; the check is the cofactorless one OpenSSL and libsodium use.
Ed25519Status ed25519_verify(const uint8_t signature[kEd25519SignatureSize],
                             const uint8_t public_key[kEd25519PublicKeySize], ByteView message);

// The same, for a message given as consecutive pieces (e.g. signature || trusted comment in
// minisign), so callers need no buffer to concatenate them.
Ed25519Status ed25519_verify_parts(const uint8_t signature[kEd25519SignatureSize],
                                   const uint8_t public_key[kEd25519PublicKeySize],
                                   const ByteView* parts, size_t part_count);

}  // namespace ingot::fw
