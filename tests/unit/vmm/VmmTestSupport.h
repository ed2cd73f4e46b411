#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "ingot/core/Error.h"

namespace ingot::vmm::test {

// Runs `f` and returns the ingot::Error it throws, or nothing (with a test failure) when it
// throws none.
template <typename F>
std::optional<Error> errorFrom(F&& f) {
    try {
        std::forward<F>(f)();
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "no ingot::Error was thrown";
    return std::nullopt;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

template <typename T>
T load(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
template <typename T>
void store(uint8_t* p, T v) {
    std::memcpy(p, &v, sizeof v);
}

}  // namespace ingot::vmm::test
