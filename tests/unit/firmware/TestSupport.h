// Helpers shared by the firmware library's host tests: hex, randomness, files, OpenSSL.
#pragma once

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "ingot/fw/Bytes.h"

namespace ingot::fw::test {

using Bytes = std::vector<uint8_t>;

Bytes from_hex(std::string_view hex);
std::string to_hex(const uint8_t* data, size_t size);
inline std::string to_hex(const Bytes& bytes) {
    return to_hex(bytes.data(), bytes.size());
}

inline ByteView view(const Bytes& bytes) {
    return ByteView(bytes.data(), bytes.size());
}
inline ByteView view(std::string_view text) {
    return ByteView(text.data(), text.size());
}
inline std::string_view as_string(ByteView bytes) {
    return std::string_view(reinterpret_cast<const char*>(bytes.data), bytes.size);
}

// A generator with a fixed seed, so a failing differential test fails the same way again.
std::mt19937_64& test_random();
Bytes random_bytes(size_t size);
size_t random_size(size_t max_inclusive);

// OpenSSL reference implementations.
Bytes openssl_digest(const char* name, const Bytes& data);  // "SHA256", "SHA512", "BLAKE2B-512"
struct Ed25519KeyPair {
    Bytes private_key;  // 32-byte seed
    Bytes public_key;   // 32 bytes
};
Ed25519KeyPair openssl_ed25519_keypair();
Bytes openssl_ed25519_sign(const Ed25519KeyPair& key, const Bytes& message);
std::string base64_encode(const Bytes& data);

// A directory under the system temp directory, removed with its contents on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

Bytes read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const Bytes& data);
void write_file(const std::filesystem::path& path, std::string_view text);
// Runs a shell command; returns its exit status (-1 if it did not exit normally).
int run_shell(const std::string& command);
// Full path of an executable found on PATH or in /usr/sbin and /sbin (where sfdisk lives and
// which a non-root PATH often lacks); empty if there is none.
std::string find_program(const std::string& name);
std::string shell_quote(const std::string& text);

}  // namespace ingot::fw::test

namespace ingot::fw::test {

// Writes minisign files with OpenSSL doing the Ed25519 and BLAKE2b work, following the format
// description rather than the minisign source, so that tests compare two independent readings.
struct MinisignTestKey {
    Ed25519KeyPair pair;
    Bytes key_id;  // 8 bytes
};
MinisignTestKey make_minisign_key();
std::string minisign_public_key_file(const MinisignTestKey& key);
std::string minisign_public_key_line(const MinisignTestKey& key);
std::string minisign_signature_file(const MinisignTestKey& key, const Bytes& message,
                                    const std::string& trusted_comment, bool prehashed = true);

}  // namespace ingot::fw::test
