#pragma once

#include <chrono>
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

// Parses a duration as users write it: "7d", "12h", "30m", "3600s" or plain seconds, more than
// zero and up to ten years. Throws ingot::Error (kUsage) naming `what` and the text otherwise.
std::chrono::seconds parseDuration(std::string_view text, std::string_view what);

// "45s", "12m", "7d": the largest unit that divides it.
std::string formatDuration(std::chrono::seconds duration);

}  // namespace ingot
