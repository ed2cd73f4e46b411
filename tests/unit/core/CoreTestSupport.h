// Helpers for core's tests: temporary directories, files, and views for the firmware library's
// readers, which serve as an independent check of what the writers produce.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "../../support/TempDir.h"
#include "ingot/core/Error.h"
#include "ingot/fw/Bytes.h"

namespace ingot::test {

using Bytes = std::vector<uint8_t>;


inline Bytes readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void writeFile(const std::string& path, std::string_view bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path);
}

inline void writeFile(const std::string& path, const Bytes& bytes) {
    writeFile(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

// Deterministic pseudo-random bytes, so a failure repeats.
inline std::string randomBytes(size_t size, uint64_t seed) {
    std::mt19937_64 generator(seed);
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(generator());
    return bytes;
}

inline fw::ByteView view(const Bytes& bytes) {
    return fw::ByteView(bytes.data(), bytes.size());
}
inline fw::ByteView view(std::string_view text) {
    return fw::ByteView(text.data(), text.size());
}
inline std::string_view asString(fw::ByteView bytes) {
    return {reinterpret_cast<const char*>(bytes.data), bytes.size};
}

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
