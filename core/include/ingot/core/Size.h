#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ingot {

// Parses a byte size as users write it: "512M", "2G", "1536MiB", "4096" (bytes), "64K".
// Suffixes are binary (K = 1024). Throws ingot::Error naming the text on anything else,
// including overflow.
uint64_t parseSize(std::string_view text);

// "512 MiB", "2 GiB", "1.5 GiB", "4096 B".
std::string formatSize(uint64_t bytes);

}  // namespace ingot
