#include "ingot/fw/Ed25519.h"

#include "ingot/fw/Sha512.h"

namespace ingot::fw {
namespace {

// ---- Arithmetic modulo p = 2^255 - 19 ----------------------------------------------------------
// Five 51-bit limbs, value = sum(limb[i] * 2^(51 i)). Products go through 128-bit integers (one
// mul instruction on x86-64, no runtime helper). Every operation ends with a carry pass, so
// limbs stay below 2^52 and no product or sum can overflow; the representation is canonicalised
// only when encoding.

using Uint128 = unsigned __int128;
constexpr uint64_t kLimbMask = (uint64_t{1} << 51) - 1;

struct FieldElement {
    uint64_t limb[5];
};

constexpr FieldElement kZero = {{0, 0, 0, 0, 0}};
constexpr FieldElement kOne = {{1, 0, 0, 0, 0}};

void carry(FieldElement& f) {
    uint64_t c;
    c = f.limb[0] >> 51;
    f.limb[0] &= kLimbMask;
    f.limb[1] += c;
    c = f.limb[1] >> 51;
    f.limb[1] &= kLimbMask;
    f.limb[2] += c;
    c = f.limb[2] >> 51;
    f.limb[2] &= kLimbMask;
    f.limb[3] += c;
    c = f.limb[3] >> 51;
    f.limb[3] &= kLimbMask;
    f.limb[4] += c;
    c = f.limb[4] >> 51;
    f.limb[4] &= kLimbMask;
    f.limb[0] += 19 * c;  // 2^255 = 19 (mod p)
    c = f.limb[0] >> 51;
    f.limb[0] &= kLimbMask;
    f.limb[1] += c;
}

FieldElement add(const FieldElement& a, const FieldElement& b) {
    FieldElement r;
    for (int i = 0; i < 5; ++i) r.limb[i] = a.limb[i] + b.limb[i];
    carry(r);
    return r;
}

// a - b computed as a + 4p - b, which stays non-negative for any b with limbs below 2^53.
FieldElement sub(const FieldElement& a, const FieldElement& b) {
    constexpr uint64_t kFourPLow = (uint64_t{1} << 53) - 76;
    constexpr uint64_t kFourPHigh = (uint64_t{1} << 53) - 4;
    FieldElement r;
    r.limb[0] = a.limb[0] + kFourPLow - b.limb[0];
    for (int i = 1; i < 5; ++i) r.limb[i] = a.limb[i] + kFourPHigh - b.limb[i];
    carry(r);
    return r;
}

FieldElement negate(const FieldElement& a) {
    return sub(kZero, a);
}

FieldElement mul(const FieldElement& a, const FieldElement& b) {
    const uint64_t* x = a.limb;
    const uint64_t* y = b.limb;
    // Terms whose limb indices add up to 5 or more wrap around multiplied by 19.
    uint64_t y1_19 = 19 * y[1], y2_19 = 19 * y[2], y3_19 = 19 * y[3], y4_19 = 19 * y[4];
    Uint128 r0 = Uint128{x[0]} * y[0] + Uint128{x[1]} * y4_19 + Uint128{x[2]} * y3_19 +
                 Uint128{x[3]} * y2_19 + Uint128{x[4]} * y1_19;
    Uint128 r1 = Uint128{x[0]} * y[1] + Uint128{x[1]} * y[0] + Uint128{x[2]} * y4_19 +
                 Uint128{x[3]} * y3_19 + Uint128{x[4]} * y2_19;
    Uint128 r2 = Uint128{x[0]} * y[2] + Uint128{x[1]} * y[1] + Uint128{x[2]} * y[0] +
                 Uint128{x[3]} * y4_19 + Uint128{x[4]} * y3_19;
    Uint128 r3 = Uint128{x[0]} * y[3] + Uint128{x[1]} * y[2] + Uint128{x[2]} * y[1] +
                 Uint128{x[3]} * y[0] + Uint128{x[4]} * y4_19;
    Uint128 r4 = Uint128{x[0]} * y[4] + Uint128{x[1]} * y[3] + Uint128{x[2]} * y[2] +
                 Uint128{x[3]} * y[1] + Uint128{x[4]} * y[0];
    r1 += r0 >> 51;
    r2 += r1 >> 51;
    r3 += r2 >> 51;
    r4 += r3 >> 51;
    Uint128 low0 = (r0 & kLimbMask) + (r4 >> 51) * 19;
    FieldElement r;
    r.limb[0] = static_cast<uint64_t>(low0 & kLimbMask);
    r.limb[1] = static_cast<uint64_t>(r1 & kLimbMask) + static_cast<uint64_t>(low0 >> 51);
    r.limb[2] = static_cast<uint64_t>(r2 & kLimbMask);
    r.limb[3] = static_cast<uint64_t>(r3 & kLimbMask);
    r.limb[4] = static_cast<uint64_t>(r4 & kLimbMask);
    carry(r);
    return r;
}

FieldElement square(const FieldElement& a) {
    return mul(a, a);
}

// Reads 255 bits; bit 255 (the sign of x in point encodings) is ignored.
FieldElement from_bytes(const uint8_t bytes[32]) {
    uint64_t w0 = load_le64(bytes), w1 = load_le64(bytes + 8);
    uint64_t w2 = load_le64(bytes + 16), w3 = load_le64(bytes + 24);
    FieldElement f;
    f.limb[0] = w0 & kLimbMask;
    f.limb[1] = ((w0 >> 51) | (w1 << 13)) & kLimbMask;
    f.limb[2] = ((w1 >> 38) | (w2 << 26)) & kLimbMask;
    f.limb[3] = ((w2 >> 25) | (w3 << 39)) & kLimbMask;
    f.limb[4] = (w3 >> 12) & kLimbMask;
    return f;
}

// Writes the unique representative in [0, p).
void to_bytes(uint8_t out[32], const FieldElement& a) {
    FieldElement f = a;
    carry(f);
    // Now f < 2p. q = floor((f + 19) / 2^255) is 1 exactly when f >= p; adding 19q and dropping
    // bit 255 then subtracts qp.
    uint64_t q = (f.limb[0] + 19) >> 51;
    q = (f.limb[1] + q) >> 51;
    q = (f.limb[2] + q) >> 51;
    q = (f.limb[3] + q) >> 51;
    q = (f.limb[4] + q) >> 51;
    f.limb[0] += 19 * q;
    for (int i = 0; i < 4; ++i) {
        f.limb[i + 1] += f.limb[i] >> 51;
        f.limb[i] &= kLimbMask;
    }
    f.limb[4] &= kLimbMask;
    store_le64(out, f.limb[0] | (f.limb[1] << 51));
    store_le64(out + 8, (f.limb[1] >> 13) | (f.limb[2] << 38));
    store_le64(out + 16, (f.limb[2] >> 26) | (f.limb[3] << 25));
    store_le64(out + 24, (f.limb[3] >> 39) | (f.limb[4] << 12));
}

bool equal(const FieldElement& a, const FieldElement& b) {
    uint8_t left[32], right[32];
    to_bytes(left, a);
    to_bytes(right, b);
    return bytes_equal(left, right, 32);
}

bool is_zero(const FieldElement& a) {
    return equal(a, kZero);
}

// "Negative" in RFC 8032's sense: the canonical value is odd.
bool is_negative(const FieldElement& a) {
    uint8_t bytes[32];
    to_bytes(bytes, a);
    return (bytes[0] & 1) != 0;
}

// base^exponent for a 256-bit little-endian exponent; plain square-and-multiply (public data).
FieldElement power(const FieldElement& base, const uint8_t exponent[32]) {
    FieldElement result = kOne;
    for (int bit = 255; bit >= 0; --bit) {
        result = square(result);
        if ((exponent[bit / 8] >> (bit % 8)) & 1) result = mul(result, base);
    }
    return result;
}

// p - 2, for inversion by Fermat's little theorem.
constexpr uint8_t kExponentPMinus2[32] = {
    0xeb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
};
// (p - 5) / 8 = 2^252 - 3, for the square root in point decoding (RFC 8032 section 5.1.3).
constexpr uint8_t kExponentPMinus5Over8[32] = {
    0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f,
};
// d = -121665 / 121666 (mod p), little-endian.
constexpr uint8_t kCurveD[32] = {
    0xa3, 0x78, 0x59, 0x13, 0xca, 0x4d, 0xeb, 0x75, 0xab, 0xd8, 0x41, 0x41, 0x4d, 0x0a, 0x70, 0x00,
    0x98, 0xe8, 0x79, 0x77, 0x79, 0x40, 0xc7, 0x8c, 0x73, 0xfe, 0x6f, 0x2b, 0xee, 0x6c, 0x03, 0x52,
};
// 2^((p - 1) / 4), a square root of -1 (mod p), little-endian.
constexpr uint8_t kSqrtMinusOne[32] = {
    0xb0, 0xa0, 0x0e, 0x4a, 0x27, 0x1b, 0xee, 0xc4, 0x78, 0xe4, 0x2f, 0xad, 0x06, 0x18, 0x43, 0x2f,
    0xa7, 0xd7, 0xfb, 0x3d, 0x99, 0x00, 0x4d, 0x2b, 0x0b, 0xdf, 0xc1, 0x4f, 0x80, 0x24, 0x83, 0x2b,
};
// The base point B in its standard encoding: y = 4/5, x even.
constexpr uint8_t kBasePoint[32] = {
    0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
};

// ---- Points on -x^2 + y^2 = 1 + d x^2 y^2 ----------------------------------------------------
// Extended coordinates (X : Y : Z : T) with x = X/Z, y = Y/Z, xy = T/Z.

struct Point {
    FieldElement x, y, z, t;
};

struct CurveConstants {
    FieldElement d;
    FieldElement two_d;
    FieldElement sqrt_minus_one;
};

CurveConstants load_curve_constants() {
    CurveConstants constants;
    constants.d = from_bytes(kCurveD);
    constants.two_d = add(constants.d, constants.d);
    constants.sqrt_minus_one = from_bytes(kSqrtMinusOne);
    return constants;
}

Point identity() {
    return Point{kZero, kOne, kOne, kZero};
}

// The "add-2008-hwcd-3" formulas for a = -1. They are complete on this curve (a is a square, d is
// not), so the same code doubles and handles the identity.
Point point_add(const Point& p, const Point& q, const CurveConstants& constants) {
    FieldElement a = mul(sub(p.y, p.x), sub(q.y, q.x));
    FieldElement b = mul(add(p.y, p.x), add(q.y, q.x));
    FieldElement c = mul(mul(p.t, constants.two_d), q.t);
    FieldElement zz = mul(p.z, q.z);
    FieldElement d = add(zz, zz);
    FieldElement e = sub(b, a);
    FieldElement f = sub(d, c);
    FieldElement g = add(d, c);
    FieldElement h = add(b, a);
    return Point{mul(e, f), mul(g, h), mul(f, g), mul(e, h)};
}

// RFC 8032 section 5.1.3, including its rejections: y >= p, no square root, and x = 0 with the
// sign bit set.
bool point_decode(const uint8_t encoded[32], const CurveConstants& constants, Point* out) {
    uint8_t y_bytes[32];
    copy_bytes(y_bytes, encoded, 32);
    bool x_sign = (y_bytes[31] >> 7) != 0;
    y_bytes[31] &= 0x7f;
    FieldElement y = from_bytes(y_bytes);
    uint8_t canonical[32];
    to_bytes(canonical, y);
    if (!bytes_equal(canonical, y_bytes, 32)) return false;

    FieldElement y2 = square(y);
    FieldElement u = sub(y2, kOne);
    FieldElement v = add(mul(constants.d, y2), kOne);
    FieldElement v3 = mul(square(v), v);
    FieldElement v7 = mul(square(v3), v);
    FieldElement x = mul(mul(u, v3), power(mul(u, v7), kExponentPMinus5Over8));
    FieldElement vx2 = mul(v, square(x));
    if (equal(vx2, u)) {
        // x is a square root of u/v.
    } else if (equal(vx2, negate(u))) {
        x = mul(x, constants.sqrt_minus_one);
    } else {
        return false;
    }
    if (x_sign && is_zero(x)) return false;
    if (is_negative(x) != x_sign) x = negate(x);
    *out = Point{x, y, kOne, mul(x, y)};
    return true;
}

void point_encode(uint8_t out[32], const Point& p) {
    FieldElement z_inverse = power(p.z, kExponentPMinus2);
    FieldElement x = mul(p.x, z_inverse);
    FieldElement y = mul(p.y, z_inverse);
    to_bytes(out, y);
    if (is_negative(x)) out[31] |= 0x80;
}

// ---- Scalars modulo L = 2^252 + 27742317777372353535851937790883648493 -------------------------

struct Scalar {
    uint64_t word[4];  // little-endian words
};

constexpr Scalar kGroupOrder = {
    {0x5812631a5cf5d3edULL, 0x14def9dea2f79cd6ULL, 0x0000000000000000ULL, 0x1000000000000000ULL}};

Scalar scalar_from_bytes(const uint8_t bytes[32]) {
    Scalar s;
    for (int i = 0; i < 4; ++i) s.word[i] = load_le64(bytes + 8 * i);
    return s;
}

bool scalar_less(const Scalar& a, const Scalar& b) {
    for (int i = 3; i >= 0; --i) {
        if (a.word[i] != b.word[i]) return a.word[i] < b.word[i];
    }
    return false;
}

void scalar_subtract(Scalar& a, const Scalar& b) {
    uint64_t borrow = 0;
    for (int i = 0; i < 4; ++i) {
        uint64_t difference = a.word[i] - b.word[i];
        uint64_t next_borrow = (a.word[i] < b.word[i]) || (difference < borrow) ? 1 : 0;
        a.word[i] = difference - borrow;
        borrow = next_borrow;
    }
}

// A 512-bit little-endian number mod L, one bit at a time: r stays below L < 2^253, so 2r + 1
// always fits in 256 bits. Slow next to Barrett reduction but obviously right, and it runs once
// per verification.
Scalar scalar_reduce_512(const uint8_t bytes[64]) {
    Scalar r = {{0, 0, 0, 0}};
    for (int bit = 511; bit >= 0; --bit) {
        r.word[3] = (r.word[3] << 1) | (r.word[2] >> 63);
        r.word[2] = (r.word[2] << 1) | (r.word[1] >> 63);
        r.word[1] = (r.word[1] << 1) | (r.word[0] >> 63);
        r.word[0] = (r.word[0] << 1) | ((bytes[bit / 8] >> (bit % 8)) & 1);
        if (!scalar_less(r, kGroupOrder)) scalar_subtract(r, kGroupOrder);
    }
    return r;
}

bool scalar_bit(const Scalar& s, int bit) {
    return ((s.word[bit / 64] >> (bit % 64)) & 1) != 0;
}

}  // namespace

const char* to_string(Ed25519Status status) {
    switch (status) {
        case Ed25519Status::kValid:
            return "valid signature";
        case Ed25519Status::kNonCanonicalS:
            return "signature scalar S is not below the group order";
        case Ed25519Status::kBadPublicKey:
            return "public key is not a valid curve point";
        case Ed25519Status::kMismatch:
            return "signature does not match message and key";
        case Ed25519Status::kInvalidArgument:
            return "invalid argument";
    }
    return "unknown Ed25519 status";
}

Ed25519Status ed25519_verify(const uint8_t signature[kEd25519SignatureSize],
                             const uint8_t public_key[kEd25519PublicKeySize], ByteView message) {
    return ed25519_verify_parts(signature, public_key, &message, 1);
}

Ed25519Status ed25519_verify_parts(const uint8_t signature[kEd25519SignatureSize],
                                   const uint8_t public_key[kEd25519PublicKeySize],
                                   const ByteView* parts, size_t part_count) {
    if (part_count > 0 && parts == nullptr) return Ed25519Status::kInvalidArgument;
    const uint8_t* encoded_r = signature;
    Scalar s = scalar_from_bytes(signature + 32);
    if (!scalar_less(s, kGroupOrder)) return Ed25519Status::kNonCanonicalS;

    CurveConstants constants = load_curve_constants();
    Point a;
    if (!point_decode(public_key, constants, &a)) return Ed25519Status::kBadPublicKey;
    Point minus_a = Point{negate(a.x), a.y, a.z, negate(a.t)};
    Point base;
    (void)point_decode(kBasePoint, constants, &base);

    Sha512 sha;
    sha.update(encoded_r, 32);
    sha.update(public_key, 32);
    for (size_t i = 0; i < part_count; ++i) sha.update(parts[i]);
    uint8_t digest[Sha512::kDigestSize];
    sha.finish(digest);
    Scalar k = scalar_reduce_512(digest);

    // R' = [S]B - [k]A by interleaved double-and-add; both scalars are below 2^253.
    Point accumulator = identity();
    for (int bit = 252; bit >= 0; --bit) {
        accumulator = point_add(accumulator, accumulator, constants);
        if (scalar_bit(s, bit)) accumulator = point_add(accumulator, base, constants);
        if (scalar_bit(k, bit)) accumulator = point_add(accumulator, minus_a, constants);
    }
    uint8_t computed_r[32];
    point_encode(computed_r, accumulator);
    return bytes_equal(computed_r, encoded_r, 32) ? Ed25519Status::kValid
                                                  : Ed25519Status::kMismatch;
}

}  // namespace ingot::fw
