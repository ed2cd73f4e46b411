#include "ingot/sign/Minisign.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "ingot/core/Error.h"
#include "ingot/core/File.h"
#include "ingot/core/TempFile.h"

namespace ingot::sign {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr std::string_view kUntrustedPrefix = "untrusted comment: ";
constexpr std::string_view kTrustedPrefix = "trusted comment: ";
constexpr size_t kSecretKeyBlobSize = 2 + 2 + 2 + 32 + 8 + 8 + 8 + 64 + 32;  // 158
constexpr size_t kMaxKeyFileSize = 64 * 1024;

struct PkeyDeleter {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct MdContextDeleter {
    void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using MdContext = std::unique_ptr<EVP_MD_CTX, MdContextDeleter>;

std::string base64Encode(const uint8_t* data, size_t size) {
    std::string text(4 * ((size + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()), data,
                            static_cast<int>(size));
    text.resize(static_cast<size_t>(n));
    return text;
}

// Strict: standard alphabet with padding, nothing else. OpenSSL's decoder is lenient about
// whitespace and padding, so the result is re-encoded and must reproduce the input exactly.
bool base64Decode(std::string_view text, Bytes* out) {
    if (text.empty() || text.size() % 4 != 0 || text.size() > 4096) return false;
    Bytes bytes(text.size() / 4 * 3);
    int n = EVP_DecodeBlock(bytes.data(), reinterpret_cast<const unsigned char*>(text.data()),
                            static_cast<int>(text.size()));
    if (n < 0) return false;
    size_t padding = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
    bytes.resize(static_cast<size_t>(n) - padding);
    if (base64Encode(bytes.data(), bytes.size()) != text) return false;
    *out = std::move(bytes);
    return true;
}

// Splits into lines ending in "\n" or "\r\n"; a missing final newline is tolerated, trailing
// empty lines are dropped.
std::vector<std::string_view> splitLines(std::string_view text) {
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        if (line.ends_with('\r')) line.remove_suffix(1);
        lines.push_back(line);
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
    while (!lines.empty() && lines.back().empty()) lines.pop_back();
    return lines;
}

void checkCommentLine(std::string_view comment, const char* which) {
    if (comment.find_first_of("\r\n") != std::string_view::npos ||
        comment.find('\0') != comment.npos)
        throw Error(std::string("minisign ") + which + " comment must be a single line",
                    ExitStatus::kUsage);
}

Bytes blake2b512(std::string_view message) {
    Bytes digest(64);
    unsigned int size = 0;
    if (EVP_Digest(message.data(), message.size(), digest.data(), &size, EVP_blake2b512(),
                   nullptr) != 1 ||
        size != 64)
        throw Error("OpenSSL BLAKE2b-512 failed");
    return digest;
}

std::array<uint8_t, 32> publicKeyOfSeed(const std::array<uint8_t, 32>& seed) {
    Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
    std::array<uint8_t, 32> publicKey{};
    size_t size = publicKey.size();
    if (!key || EVP_PKEY_get_raw_public_key(key.get(), publicKey.data(), &size) != 1 ||
        size != publicKey.size())
        throw Error("OpenSSL cannot derive an Ed25519 public key");
    return publicKey;
}

std::array<uint8_t, 64> ed25519Sign(const MinisignSecretKey& secret, const Bytes& message) {
    Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, secret.seed.data(),
                                          secret.seed.size()));
    MdContext context(EVP_MD_CTX_new());
    std::array<uint8_t, 64> signature{};
    size_t size = signature.size();
    if (!key || !context ||
        EVP_DigestSignInit(context.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
        EVP_DigestSign(context.get(), signature.data(), &size, message.data(), message.size()) !=
            1 ||
        size != signature.size())
        throw Error("OpenSSL Ed25519 signing failed");
    return signature;
}

bool ed25519Verify(const MinisignPublicKey& publicKey, const uint8_t* signature,
                   const Bytes& message) {
    Pkey key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, publicKey.key.data(),
                                         publicKey.key.size()));
    MdContext context(EVP_MD_CTX_new());
    if (!key || !context) return false;
    if (EVP_DigestVerifyInit(context.get(), nullptr, nullptr, nullptr, key.get()) != 1)
        return false;
    return EVP_DigestVerify(context.get(), signature, 64, message.data(), message.size()) == 1;
}

Bytes concat(std::initializer_list<std::pair<const void*, size_t>> parts) {
    Bytes out;
    for (auto [data, size] : parts) {
        auto* p = static_cast<const uint8_t*>(data);
        out.insert(out.end(), p, p + size);
    }
    return out;
}

std::string readKeyFile(const std::string& path, std::string_view what) {
    std::vector<uint8_t> bytes = readWholeFile(path, what, kMaxKeyFileSize);
    std::string text(bytes.begin(), bytes.end());
    OPENSSL_cleanse(bytes.data(), bytes.size());  // may be a secret key
    return text;
}

}  // namespace

MinisignSecretKey::~MinisignSecretKey() {
    OPENSSL_cleanse(seed.data(), seed.size());
}

MinisignSecretKey generateMinisignKey() {
    MinisignSecretKey key;
    if (RAND_bytes(key.seed.data(), static_cast<int>(key.seed.size())) != 1 ||
        RAND_bytes(key.keyId.data(), static_cast<int>(key.keyId.size())) != 1)
        throw Error("OpenSSL's random generator failed");
    key.publicKey = publicKeyOfSeed(key.seed);
    return key;
}

std::string formatKeyId(const MinisignKeyId& keyId) {
    static constexpr char kDigits[] = "0123456789ABCDEF";
    std::string text;
    for (size_t i = keyId.size(); i-- > 0;) {
        text += kDigits[keyId[i] >> 4];
        text += kDigits[keyId[i] & 0xF];
    }
    return text;
}

std::string formatPublicKey(const MinisignPublicKey& key) {
    Bytes blob = concat({{"Ed", 2}, {key.keyId.data(), 8}, {key.key.data(), 32}});
    return std::string(kUntrustedPrefix) + "minisign public key " + formatKeyId(key.keyId) + "\n" +
           base64Encode(blob.data(), blob.size()) + "\n";
}

MinisignPublicKey parsePublicKey(std::string_view text, std::string_view where) {
    auto bad = [&](const std::string& why) {
        return Error(std::string(where) + ": not a minisign public key: " + why,
                     ExitStatus::kUsage);
    };
    std::vector<std::string_view> lines = splitLines(text);
    std::string_view keyLine;
    if (lines.size() == 2 && lines[0].starts_with(kUntrustedPrefix)) {
        keyLine = lines[1];
    } else if (lines.size() == 1) {
        keyLine = lines[0];
    } else {
        throw bad("expected an \"untrusted comment:\" line and a base64 line");
    }
    Bytes blob;
    if (!base64Decode(keyLine, &blob)) throw bad("the key line is not valid base64");
    if (blob.size() != 42)
        throw bad("the key has " + std::to_string(blob.size()) + " bytes, not 42");
    if (blob[0] != 'E' || blob[1] != 'd') throw bad("unknown algorithm (expected \"Ed\")");
    MinisignPublicKey key;
    std::copy_n(blob.begin() + 2, 8, key.keyId.begin());
    std::copy_n(blob.begin() + 10, 32, key.key.begin());
    return key;
}

MinisignPublicKey readPublicKeyFile(const std::string& path) {
    return parsePublicKey(readKeyFile(path, "public key"), "public key " + path);
}

void writePublicKeyFile(const std::string& path, const MinisignPublicKey& key,
                        KeyFileReplace replace) {
    std::string text = formatPublicKey(key);
    TempFile file(path);
    file.write(text.data(), text.size());
    if (replace == KeyFileReplace::kAllow)
        file.commit(0644);
    else
        file.commitWithoutReplacing(0644);
}

std::string formatSecretKey(const MinisignSecretKey& key) {
    Bytes blob(kSecretKeyBlobSize, 0);
    std::memcpy(blob.data(), "Ed", 2);
    // blob[2..3]: KDF "\0\0" (none); the salt and scrypt limits that follow stay zero.
    std::memcpy(blob.data() + 4, "B2", 2);
    std::memcpy(blob.data() + 54, key.keyId.data(), 8);
    std::memcpy(blob.data() + 62, key.seed.data(), 32);
    std::memcpy(blob.data() + 94, key.publicKey.data(), 32);
    // The last 32 bytes are a BLAKE2b-256 checksum that minisign only computes (and checks) for
    // encrypted keys; `minisign -G -W` leaves it zero, and so do we.
    std::string text = std::string(kUntrustedPrefix) + "minisign unencrypted secret key\n" +
                       base64Encode(blob.data(), blob.size()) + "\n";
    OPENSSL_cleanse(blob.data(), blob.size());
    return text;
}

MinisignSecretKey parseSecretKey(std::string_view text, std::string_view where) {
    auto bad = [&](const std::string& why) {
        return Error(std::string(where) + ": not a usable minisign secret key: " + why,
                     ExitStatus::kUsage);
    };
    std::vector<std::string_view> lines = splitLines(text);
    if (lines.size() != 2 || !lines[0].starts_with(kUntrustedPrefix))
        throw bad("expected an \"untrusted comment:\" line and a base64 line");
    Bytes blob;
    if (!base64Decode(lines[1], &blob)) throw bad("the key line is not valid base64");
    struct Cleanse {
        Bytes& bytes;
        ~Cleanse() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
    } cleanse{blob};
    if (blob.size() != kSecretKeyBlobSize)
        throw bad("the key has " + std::to_string(blob.size()) + " bytes, not " +
                  std::to_string(kSecretKeyBlobSize));
    if (std::memcmp(blob.data(), "Ed", 2) != 0) throw bad("unknown signature algorithm");
    if (std::memcmp(blob.data() + 4, "B2", 2) != 0) throw bad("unknown checksum algorithm");
    if (std::memcmp(blob.data() + 2, "Sc", 2) == 0)
        throw bad(
            "the key is encrypted with a password; ingot signs unattended and needs an "
            "unencrypted key (create one with `minisign -G -W` or `make-test-image "
            "keygen`, or remove the password with `minisign -C -W`)");
    if (blob[2] != 0 || blob[3] != 0) throw bad("unknown key derivation function");
    MinisignSecretKey key;
    std::copy_n(blob.begin() + 54, 8, key.keyId.begin());
    std::copy_n(blob.begin() + 62, 32, key.seed.begin());
    std::copy_n(blob.begin() + 94, 32, key.publicKey.begin());
    if (publicKeyOfSeed(key.seed) != key.publicKey)
        throw bad("the stored public key does not belong to the secret key (corrupted file?)");
    return key;
}

MinisignSecretKey readSecretKeyFile(const std::string& path) {
    std::string text = readKeyFile(path, "secret key");
    struct Cleanse {
        std::string& text;
        ~Cleanse() { OPENSSL_cleanse(text.data(), text.size()); }
    } cleanse{text};
    return parseSecretKey(text, "secret key " + path);
}

void writeSecretKeyFile(const std::string& path, const MinisignSecretKey& key,
                        KeyFileReplace replace) {
    std::string text = formatSecretKey(key);
    TempFile file(path);
    file.write(text.data(), text.size());
    OPENSSL_cleanse(text.data(), text.size());
    if (replace == KeyFileReplace::kAllow)
        file.commit(0600);
    else
        file.commitWithoutReplacing(0600);
}

std::string signMinisign(const MinisignSecretKey& key, std::string_view message,
                         std::string_view trustedComment, std::string_view untrustedComment) {
    checkCommentLine(trustedComment, "trusted");
    checkCommentLine(untrustedComment, "untrusted");
    std::array<uint8_t, 64> signature = ed25519Sign(key, blake2b512(message));
    Bytes signatureBlob = concat({{"ED", 2}, {key.keyId.data(), 8}, {signature.data(), 64}});
    std::array<uint8_t, 64> globalSignature = ed25519Sign(
        key, concat({{signature.data(), 64}, {trustedComment.data(), trustedComment.size()}}));
    return std::string(kUntrustedPrefix) + std::string(untrustedComment) + "\n" +
           base64Encode(signatureBlob.data(), signatureBlob.size()) + "\n" +
           std::string(kTrustedPrefix) + std::string(trustedComment) + "\n" +
           base64Encode(globalSignature.data(), globalSignature.size()) + "\n";
}

std::string verifyMinisign(const MinisignPublicKey& key, std::string_view message,
                           std::string_view signatureText, std::string_view where) {
    auto fail = [&](const std::string& why) {
        return Error(std::string(where) + ": " + why, ExitStatus::kVerification);
    };
    std::vector<std::string_view> lines = splitLines(signatureText);
    if (lines.size() != 4) throw fail("not a minisign signature (expected 4 lines)");
    if (!lines[0].starts_with(kUntrustedPrefix))
        throw fail("not a minisign signature (no \"untrusted comment:\" line)");
    if (!lines[2].starts_with(kTrustedPrefix))
        throw fail("not a minisign signature (no \"trusted comment:\" line)");
    Bytes blob, globalSignature;
    if (!base64Decode(lines[1], &blob) || blob.size() != 74)
        throw fail("the signature line is not 74 bytes of base64");
    if (!base64Decode(lines[3], &globalSignature) || globalSignature.size() != 64)
        throw fail("the global signature line is not 64 bytes of base64");
    if (blob[0] == 'E' && blob[1] == 'd')
        throw fail("legacy (non-prehashed) minisign signatures are not accepted");
    if (blob[0] != 'E' || blob[1] != 'D') throw fail("unknown signature algorithm");
    if (!std::equal(key.keyId.begin(), key.keyId.end(), blob.begin() + 2))
        throw fail("signed by key " + formatKeyId([&] {
                       MinisignKeyId id{};
                       std::copy_n(blob.begin() + 2, 8, id.begin());
                       return id;
                   }()) +
                   ", not by the trusted key " + formatKeyId(key.keyId));
    const uint8_t* signature = blob.data() + 10;
    if (!ed25519Verify(key, signature, blake2b512(message)))
        throw fail("the signature does not match the signed file");
    std::string_view trustedComment = lines[2].substr(kTrustedPrefix.size());
    if (!ed25519Verify(key, globalSignature.data(),
                       concat({{signature, 64}, {trustedComment.data(), trustedComment.size()}})))
        throw fail("the trusted comment's signature does not verify");
    return std::string(trustedComment);
}

MinisignSignatureInfo describeMinisign(std::string_view signatureText) {
    MinisignSignatureInfo info;
    std::vector<std::string_view> lines = splitLines(signatureText);
    Bytes blob;
    if (lines.size() >= 2 && base64Decode(lines[1], &blob) && blob.size() == 74) {
        info.algorithm = std::string(blob.begin(), blob.begin() + 2);
        MinisignKeyId id{};
        std::copy_n(blob.begin() + 2, 8, id.begin());
        info.keyId = id;
    }
    if (lines.size() >= 3 && lines[2].starts_with(kTrustedPrefix))
        info.trustedComment = std::string(lines[2].substr(kTrustedPrefix.size()));
    return info;
}

}  // namespace ingot::sign
