// minisign keys and signatures (https://jedisct1.github.io/minisign/) through OpenSSL: Ed25519
// over a BLAKE2b-512 prehash ("ED"), with a signed trusted comment. Files written here are read
// by the minisign tool and vice versa; the firmware verifies the same signatures on its own.
//
//   public key file:  "untrusted comment: minisign public key <KEY ID>\n"
//                     base64("Ed" || key id (8) || Ed25519 public key (32)) "\n"
//   secret key file:  "untrusted comment: <text>\n"
//                     base64("Ed" || kdf "\0\0" || "B2" || salt (32) || opslimit (8) ||
//                            memlimit (8) || key id (8) || seed (32) || public key (32) ||
//                            checksum (32)) "\n"
//   (the unencrypted form of `minisign -G -W`: KDF "\0\0", salt, limits and checksum zero)
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ingot::sign {

using MinisignKeyId = std::array<uint8_t, 8>;

struct MinisignPublicKey {
    MinisignKeyId keyId{};
    std::array<uint8_t, 32> key{};
    bool operator==(const MinisignPublicKey&) const = default;
};

// Clears its seed on destruction.
struct MinisignSecretKey {
    MinisignKeyId keyId{};
    std::array<uint8_t, 32> seed{};
    std::array<uint8_t, 32> publicKey{};

    MinisignSecretKey() = default;
    MinisignSecretKey(const MinisignSecretKey&) = default;
    MinisignSecretKey& operator=(const MinisignSecretKey&) = default;
    ~MinisignSecretKey();
    MinisignPublicKey publicPart() const { return {keyId, publicKey}; }
};

// A new key pair from OpenSSL's random generator, with a random key id.
MinisignSecretKey generateMinisignKey();

// Key id as minisign prints it: the 8 bytes as a little-endian number, 16 upper-case hex digits.
std::string formatKeyId(const MinisignKeyId& keyId);

std::string formatPublicKey(const MinisignPublicKey& key);
// Accepts the .pub file or its bare base64 line (as `minisign -P` takes it). `where` names the
// source in errors.
MinisignPublicKey parsePublicKey(std::string_view text, std::string_view where);
MinisignPublicKey readPublicKeyFile(const std::string& path);
// Whether writing a key file may replace one that exists. kRefuse fails with status kUsage and
// leaves the existing file alone; keys are easy to destroy and impossible to get back.
enum class KeyFileReplace { kAllow, kRefuse };

// Written atomically (temporary name + rename), mode 0644.
void writePublicKeyFile(const std::string& path, const MinisignPublicKey& key,
                        KeyFileReplace replace = KeyFileReplace::kAllow);

std::string formatSecretKey(const MinisignSecretKey& key);
// Accepts only unencrypted keys (`minisign -G -W`); an encrypted one is refused with advice.
// Checks that the stored public key belongs to the seed.
MinisignSecretKey parseSecretKey(std::string_view text, std::string_view where);
MinisignSecretKey readSecretKeyFile(const std::string& path);
// Written with mode 0600 from the start, under a temporary name renamed into place.
void writeSecretKeyFile(const std::string& path, const MinisignSecretKey& key,
                        KeyFileReplace replace = KeyFileReplace::kAllow);

// The .minisig text for `message`: prehashed ("ED") signature, the trusted comment signed along
// with it. Comments must be single lines. Each line ends in "\n".
std::string signMinisign(const MinisignSecretKey& key, std::string_view message,
                         std::string_view trustedComment, std::string_view untrustedComment);

// Checks a .minisig text against `message` as `minisign -V` does (prehashed signatures only)
// and returns the trusted comment. Throws ingot::Error with status kVerification on any failure.
std::string verifyMinisign(const MinisignPublicKey& key, std::string_view message,
                           std::string_view signatureText, std::string_view where = "signature");

// What a .minisig says about itself before anything is verified, for tools that describe an
// image without a trusted key: each field is empty when the text does not have it in the
// expected place and form. Nothing here is authenticated.
struct MinisignSignatureInfo {
    std::optional<MinisignKeyId> keyId;
    std::optional<std::string> algorithm;  // "ED" (prehashed) or "Ed" (legacy)
    std::optional<std::string> trustedComment;
};
MinisignSignatureInfo describeMinisign(std::string_view signatureText);

}  // namespace ingot::sign
