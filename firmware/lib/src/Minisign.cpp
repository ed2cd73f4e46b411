#include "ingot/fw/Minisign.h"

#include "ingot/fw/Base64.h"
#include "ingot/fw/Blake2b.h"
#include "ingot/fw/Ed25519.h"

namespace ingot::fw {
namespace {

constexpr size_t kAlgorithmSize = 2;
constexpr size_t kPublicKeyBlobSize = kAlgorithmSize + kMinisignKeyIdSize + 32;  // 42
constexpr size_t kSignatureBlobSize = kAlgorithmSize + kMinisignKeyIdSize + 64;  // 74
constexpr size_t kGlobalSignatureSize = 64;

// Splits text into lines one at a time; a line ends at "\n" (a "\r" before it is dropped) or at
// the end of the text.
class LineReader {
public:
    explicit LineReader(ByteView text) : text_(text) {}

    bool at_end() const { return position_ >= text_.size; }

    bool next(ByteView* line) {
        if (at_end()) return false;
        size_t start = position_;
        size_t end = start;
        while (end < text_.size && text_[end] != '\n') ++end;
        position_ = end < text_.size ? end + 1 : end;
        if (end > start && text_[end - 1] == '\r') --end;
        *line = ByteView(text_.data + start, end - start);
        return true;
    }

    // True if everything left is line breaks (editors and `echo` add a final newline).
    bool only_blank_lines_left() {
        ByteView line;
        while (next(&line)) {
            if (!line.empty()) return false;
        }
        return true;
    }

private:
    ByteView text_;
    size_t position_ = 0;
};

MinisignStatus decode_exact(ByteView encoded, uint8_t* out, size_t expected_size) {
    size_t decoded_size = 0;
    Base64Status status = base64_decode(encoded, out, expected_size, &decoded_size);
    if (status == Base64Status::kOutputTooSmall) return MinisignStatus::kBadLength;
    if (status != Base64Status::kOk) return MinisignStatus::kBadBase64;
    if (decoded_size != expected_size) return MinisignStatus::kBadLength;
    return MinisignStatus::kOk;
}

}  // namespace

const char* to_string(MinisignStatus status) {
    switch (status) {
        case MinisignStatus::kOk:
            return "ok";
        case MinisignStatus::kMissingUntrustedComment:
            return "minisign: first line is not an untrusted comment";
        case MinisignStatus::kMissingTrustedComment:
            return "minisign: third line is not a trusted comment";
        case MinisignStatus::kMissingLine:
            return "minisign: file is truncated";
        case MinisignStatus::kTrailingData:
            return "minisign: unexpected data after the last line";
        case MinisignStatus::kBadBase64:
            return "minisign: invalid base64";
        case MinisignStatus::kBadLength:
            return "minisign: key or signature has the wrong length";
        case MinisignStatus::kUnknownAlgorithm:
            return "minisign: unknown signature algorithm";
        case MinisignStatus::kKeyIdMismatch:
            return "minisign: signed by an untrusted key";
        case MinisignStatus::kBadPublicKey:
            return "minisign: public key is not a valid Ed25519 key";
        case MinisignStatus::kBadSignature:
            return "minisign: signature verification failed";
        case MinisignStatus::kBadGlobalSignature:
            return "minisign: trusted comment signature verification failed";
        case MinisignStatus::kNoKeys:
            return "minisign: no trusted key";
        case MinisignStatus::kLegacyNotAllowed:
            return "minisign: legacy (non-prehashed) signature not allowed";
    }
    return "minisign: unknown status";
}

MinisignStatus parse_minisign_public_key(ByteView text, MinisignPublicKey* key) {
    LineReader lines(text);
    ByteView line;
    if (!lines.next(&line)) return MinisignStatus::kMissingLine;
    if (line.starts_with(literal_bytes("untrusted comment: "))) {
        if (!lines.next(&line)) return MinisignStatus::kMissingLine;
    }
    uint8_t blob[kPublicKeyBlobSize];
    MinisignStatus status = decode_exact(line, blob, sizeof blob);
    if (status != MinisignStatus::kOk) return status;
    if (!lines.only_blank_lines_left()) return MinisignStatus::kTrailingData;
    if (blob[0] != 'E' || blob[1] != 'd') return MinisignStatus::kUnknownAlgorithm;
    copy_bytes(key->key_id, blob + kAlgorithmSize, kMinisignKeyIdSize);
    copy_bytes(key->key, blob + kAlgorithmSize + kMinisignKeyIdSize, 32);
    return MinisignStatus::kOk;
}

MinisignStatus parse_minisign_signature(ByteView text, MinisignSignature* signature) {
    const ByteView untrusted_prefix = literal_bytes("untrusted comment: ");
    const ByteView trusted_prefix = literal_bytes("trusted comment: ");

    LineReader lines(text);
    ByteView untrusted_line, signature_line, trusted_line, global_line;
    if (!lines.next(&untrusted_line)) return MinisignStatus::kMissingLine;
    if (!untrusted_line.starts_with(untrusted_prefix)) {
        return MinisignStatus::kMissingUntrustedComment;
    }
    if (!lines.next(&signature_line)) return MinisignStatus::kMissingLine;
    uint8_t blob[kSignatureBlobSize];
    MinisignStatus status = decode_exact(signature_line, blob, sizeof blob);
    if (status != MinisignStatus::kOk) return status;
    if (blob[0] == 'E' && blob[1] == 'd') {
        signature->algorithm = MinisignAlgorithm::kLegacy;
    } else if (blob[0] == 'E' && blob[1] == 'D') {
        signature->algorithm = MinisignAlgorithm::kPrehashed;
    } else {
        return MinisignStatus::kUnknownAlgorithm;
    }

    if (!lines.next(&trusted_line)) return MinisignStatus::kMissingLine;
    if (!trusted_line.starts_with(trusted_prefix)) return MinisignStatus::kMissingTrustedComment;
    if (!lines.next(&global_line)) return MinisignStatus::kMissingLine;
    status = decode_exact(global_line, signature->global_signature, kGlobalSignatureSize);
    if (status != MinisignStatus::kOk) return status;
    if (!lines.only_blank_lines_left()) return MinisignStatus::kTrailingData;

    copy_bytes(signature->key_id, blob + kAlgorithmSize, kMinisignKeyIdSize);
    copy_bytes(signature->signature, blob + kAlgorithmSize + kMinisignKeyIdSize, 64);
    signature->untrusted_comment = untrusted_line.suffix(untrusted_prefix.size);
    signature->trusted_comment = trusted_line.suffix(trusted_prefix.size);
    return MinisignStatus::kOk;
}

MinisignStatus verify_minisign(const MinisignSignature& signature, const MinisignPublicKey& key,
                               ByteView message, MinisignLegacyPolicy legacy) {
    if (!bytes_equal(signature.key_id, key.key_id, kMinisignKeyIdSize)) {
        return MinisignStatus::kKeyIdMismatch;
    }
    Ed25519Status status;
    if (signature.algorithm == MinisignAlgorithm::kPrehashed) {
        uint8_t prehash[Blake2b::kMaxDigestSize];
        Blake2b blake;
        blake.update(message);
        blake.finish(prehash);
        status = ed25519_verify(signature.signature, key.key, ByteView(prehash, sizeof prehash));
    } else {
        if (legacy == MinisignLegacyPolicy::kReject) return MinisignStatus::kLegacyNotAllowed;
        status = ed25519_verify(signature.signature, key.key, message);
    }
    if (status == Ed25519Status::kBadPublicKey) return MinisignStatus::kBadPublicKey;
    if (status != Ed25519Status::kValid) return MinisignStatus::kBadSignature;

    // The global signature binds the trusted comment (name, version) to this very signature.
    const ByteView global_parts[2] = {ByteView(signature.signature, sizeof signature.signature),
                                      signature.trusted_comment};
    status = ed25519_verify_parts(signature.global_signature, key.key, global_parts, 2);
    if (status != Ed25519Status::kValid) return MinisignStatus::kBadGlobalSignature;
    return MinisignStatus::kOk;
}

MinisignStatus verify_minisign_with_any(const MinisignSignature& signature,
                                        const MinisignPublicKey* keys, size_t key_count,
                                        ByteView message, size_t* key_index,
                                        MinisignLegacyPolicy legacy) {
    if (keys == nullptr || key_count == 0) return MinisignStatus::kNoKeys;
    for (size_t i = 0; i < key_count; ++i) {
        if (!bytes_equal(signature.key_id, keys[i].key_id, kMinisignKeyIdSize)) continue;
        if (key_index != nullptr) *key_index = i;
        return verify_minisign(signature, keys[i], message, legacy);
    }
    return MinisignStatus::kKeyIdMismatch;
}

}  // namespace ingot::fw
