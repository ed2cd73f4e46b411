#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace ingot {

using Sha256Digest = std::array<uint8_t, 32>;

// Incremental SHA-256 (OpenSSL), for inputs too large to hold in memory: kernels, initrds, disks.
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    void update(const void* data, size_t size);
    void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
    // Ends the computation; the object must not be used afterwards.
    Sha256Digest finish();

private:
    struct Context;
    std::unique_ptr<Context> context_;
};

Sha256Digest sha256(std::string_view bytes);

// Lower-case hexadecimal, as manifests and the measurement log print digests.
std::string toHex(const uint8_t* data, size_t size);
inline std::string toHex(const Sha256Digest& digest) {
    return toHex(digest.data(), digest.size());
}

// Hashes a whole file, reading it in chunks; `what` names its role in errors, as in readWholeFile.
struct FileDigest {
    Sha256Digest sha256;
    uint64_t size;
};
FileDigest sha256File(const std::string& path, std::string_view what);

}  // namespace ingot
