// Helpers for the OCI tests: deterministic disks and a valid ingot manifest to pack.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "../../support/TempDir.h"
#include "ingot/core/Error.h"
#include "ingot/image/Manifest.h"

namespace ingot::test {

inline std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void writeFile(const std::string& path, std::string_view bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path);
}

// Deterministic pseudo-random bytes, so a failure repeats.
inline std::string randomBytes(size_t size, uint64_t seed) {
    std::mt19937_64 generator(seed);
    std::string bytes(size, '\0');
    size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        uint64_t word = generator();
        std::memcpy(bytes.data() + i, &word, 8);
    }
    for (; i < size; ++i) bytes[i] = static_cast<char>(generator());
    return bytes;
}

// A disk-like buffer of `size` bytes: random stretches separated by zero stretches of assorted
// lengths, some long enough to become holes and some not.
inline std::string diskLikeBytes(size_t size, uint64_t seed) {
    std::mt19937_64 generator(seed);
    std::string bytes;
    bytes.reserve(size);
    while (bytes.size() < size) {
        size_t data = 64 * 1024 + generator() % (3 << 20);
        bytes += randomBytes(std::min(data, size - bytes.size()), generator());
        size_t zeros = (generator() % 4 == 0 ? 4096 * (1 + generator() % 8)
                                             : (1 << 20) + generator() % (2 << 20));
        bytes.append(std::min(zeros, size - bytes.size()), '\0');
    }
    return bytes;
}

inline std::string testManifestJson(const std::string& version = "1") {
    image::Manifest m;
    m.name = "gold/test";
    m.version = version;
    m.created = 1700000000;
    m.cmdline = "console=ttyS0";
    m.kernel.sha256 = std::string(64, 'a');
    m.kernel.size = 1234;
    image::ManifestPartition boot;
    boot.firstLba = 2048;
    boot.lastLba = 4095;
    boot.name = "ingot-boot";
    boot.role = "boot";
    boot.type = "9cb833bb-c637-4cc9-8edc-f81d674c8551";
    boot.uuid = "01234567-89ab-cdef-0123-456789abcdef";
    m.partitions.push_back(boot);
    return image::serializeManifest(m);
}

inline const std::string kTestMinisig =
    "untrusted comment: signature from ingot test key\nRWQAAAAA\ntrusted comment: ingot image "
    "gold/test 1\nAAAA\n";

// Runs `body`, expects an ingot::Error whose message contains every one of `parts`.
template <typename Body>
void expectError(Body body, std::initializer_list<std::string_view> parts) {
    try {
        body();
        ADD_FAILURE() << "no error; expected one mentioning '" << *parts.begin() << "'";
    } catch (const ingot::Error& e) {
        std::string message = e.what();
        for (std::string_view part : parts)
            EXPECT_NE(message.find(part), std::string::npos)
                << "message \"" << message << "\" lacks \"" << part << "\"";
    }
}

}  // namespace ingot::test
