#include "TestSupport.h"

#include <openssl/evp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace ingot::fw::test {

Bytes from_hex(std::string_view hex) {
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        throw std::invalid_argument("bad hex digit");
    };
    Bytes out;
    std::string digits;
    for (char c : hex) {
        if (c != ' ' && c != '\n') digits.push_back(c);
    }
    if (digits.size() % 2 != 0) throw std::invalid_argument("odd hex length");
    for (size_t i = 0; i < digits.size(); i += 2) {
        out.push_back(static_cast<uint8_t>(nibble(digits[i]) * 16 + nibble(digits[i + 1])));
    }
    return out;
}

std::string to_hex(const uint8_t* data, size_t size) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < size; ++i) {
        out.push_back(kDigits[data[i] >> 4]);
        out.push_back(kDigits[data[i] & 0xF]);
    }
    return out;
}

std::mt19937_64& test_random() {
    static std::mt19937_64 generator(0x1f0a7e57u);
    return generator;
}

Bytes random_bytes(size_t size) {
    Bytes out(size);
    for (auto& byte : out) byte = static_cast<uint8_t>(test_random()());
    return out;
}

size_t random_size(size_t max_inclusive) {
    return std::uniform_int_distribution<size_t>(0, max_inclusive)(test_random());
}

Bytes openssl_digest(const char* name, const Bytes& data) {
    const EVP_MD* md = EVP_get_digestbyname(name);
    if (md == nullptr) throw std::runtime_error(std::string("OpenSSL lacks digest ") + name);
    Bytes out(EVP_MAX_MD_SIZE);
    unsigned int size = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &size, md, nullptr) != 1) {
        throw std::runtime_error("EVP_Digest failed");
    }
    out.resize(size);
    return out;
}

Ed25519KeyPair openssl_ed25519_keypair() {
    Ed25519KeyPair pair;
    pair.private_key = random_bytes(32);
    EVP_PKEY* key =
        EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, pair.private_key.data(), 32);
    if (key == nullptr) throw std::runtime_error("EVP_PKEY_new_raw_private_key failed");
    pair.public_key.resize(32);
    size_t size = 32;
    int ok = EVP_PKEY_get_raw_public_key(key, pair.public_key.data(), &size);
    EVP_PKEY_free(key);
    if (ok != 1 || size != 32) throw std::runtime_error("EVP_PKEY_get_raw_public_key failed");
    return pair;
}

Bytes openssl_ed25519_sign(const Ed25519KeyPair& pair, const Bytes& message) {
    EVP_PKEY* key =
        EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, pair.private_key.data(), 32);
    EVP_MD_CTX* context = EVP_MD_CTX_new();
    Bytes signature(64);
    size_t size = signature.size();
    bool ok =
        key != nullptr && context != nullptr &&
        EVP_DigestSignInit(context, nullptr, nullptr, nullptr, key) == 1 &&
        EVP_DigestSign(context, signature.data(), &size, message.data(), message.size()) == 1 &&
        size == 64;
    EVP_MD_CTX_free(context);
    EVP_PKEY_free(key);
    if (!ok) throw std::runtime_error("Ed25519 signing failed");
    return signature;
}

std::string base64_encode(const Bytes& data) {
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    int size = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                               static_cast<int>(data.size()));
    out.resize(static_cast<size_t>(size));
    return out;
}

TempDir::TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ingot-fw-test-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

Bytes read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const std::filesystem::path& path, const Bytes& data) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

void write_file(const std::filesystem::path& path, std::string_view text) {
    write_file(path, Bytes(text.begin(), text.end()));
}

int run_shell(const std::string& command) {
    int status = std::system(command.c_str());
    if (status == -1 || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

std::string find_program(const std::string& name) {
    std::string search_path;
    if (const char* path = std::getenv("PATH")) search_path = path;
    search_path += ":/usr/local/sbin:/usr/sbin:/sbin";
    size_t start = 0;
    while (start <= search_path.size()) {
        size_t colon = search_path.find(':', start);
        if (colon == std::string::npos) colon = search_path.size();
        std::filesystem::path candidate =
            std::filesystem::path(search_path.substr(start, colon - start)) / name;
        if (colon > start && access(candidate.c_str(), X_OK) == 0) return candidate.string();
        start = colon + 1;
    }
    return {};
}

std::string shell_quote(const std::string& text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out.push_back(c);
        }
    }
    return out + "'";
}

}  // namespace ingot::fw::test

namespace ingot::fw::test {

MinisignTestKey make_minisign_key() {
    return MinisignTestKey{openssl_ed25519_keypair(), random_bytes(8)};
}

std::string minisign_public_key_line(const MinisignTestKey& key) {
    Bytes blob = {'E', 'd'};
    blob.insert(blob.end(), key.key_id.begin(), key.key_id.end());
    blob.insert(blob.end(), key.pair.public_key.begin(), key.pair.public_key.end());
    return base64_encode(blob);
}

std::string minisign_public_key_file(const MinisignTestKey& key) {
    // minisign prints the key id as a little-endian 64-bit number in upper-case hex.
    std::string id_hex;
    for (size_t i = key.key_id.size(); i-- > 0;) id_hex += to_hex(&key.key_id[i], 1);
    for (char& c : id_hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return "untrusted comment: minisign public key " + id_hex + "\n" +
           minisign_public_key_line(key) + "\n";
}

std::string minisign_signature_file(const MinisignTestKey& key, const Bytes& message,
                                    const std::string& trusted_comment, bool prehashed) {
    Bytes signed_data = prehashed ? openssl_digest("BLAKE2B-512", message) : message;
    Bytes signature = openssl_ed25519_sign(key.pair, signed_data);
    Bytes blob = {'E', static_cast<uint8_t>(prehashed ? 'D' : 'd')};
    blob.insert(blob.end(), key.key_id.begin(), key.key_id.end());
    blob.insert(blob.end(), signature.begin(), signature.end());
    Bytes global_message = signature;
    global_message.insert(global_message.end(), trusted_comment.begin(), trusted_comment.end());
    Bytes global_signature = openssl_ed25519_sign(key.pair, global_message);
    return "untrusted comment: signature from minisign secret key\n" + base64_encode(blob) +
           "\ntrusted comment: " + trusted_comment + "\n" + base64_encode(global_signature) + "\n";
}

}  // namespace ingot::fw::test
