#include "ingot/core/Size.h"

#include <cctype>
#include <charconv>
#include <cstdio>

#include "ingot/core/Error.h"

namespace ingot {

uint64_t parseSize(std::string_view text) {
    auto bad = [&](const char* why) -> Error {
        return Error("invalid size '" + std::string(text) + "': " + why +
                         " (write e.g. 512M, 2G or a byte count)",
                     ExitStatus::kUsage);
    };
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc::result_out_of_range) throw bad("number too large");
    if (ec != std::errc() || end == text.data()) throw bad("no number");
    std::string suffix;
    for (const char* p = end; p != text.data() + text.size(); ++p)
        suffix += static_cast<char>(std::toupper(static_cast<unsigned char>(*p)));
    unsigned shift = 0;
    if (suffix.empty() || suffix == "B") {
        shift = 0;
    } else if (suffix == "K" || suffix == "KB" || suffix == "KIB") {
        shift = 10;
    } else if (suffix == "M" || suffix == "MB" || suffix == "MIB") {
        shift = 20;
    } else if (suffix == "G" || suffix == "GB" || suffix == "GIB") {
        shift = 30;
    } else if (suffix == "T" || suffix == "TB" || suffix == "TIB") {
        shift = 40;
    } else {
        throw bad("unknown unit");
    }
    if (shift && value > (UINT64_MAX >> shift)) throw bad("number too large");
    return value << shift;
}

std::string formatSize(uint64_t bytes) {
    static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    unsigned unit = 0;
    double v = static_cast<double>(bytes);
    while (v >= 1024 && unit < 4) {
        v /= 1024;
        ++unit;
    }
    char buf[32];
    if (unit == 0 || v == static_cast<double>(static_cast<uint64_t>(v)))
        std::snprintf(buf, sizeof buf, "%llu %s", static_cast<unsigned long long>(v), units[unit]);
    else
        std::snprintf(buf, sizeof buf, "%.1f %s", v, units[unit]);
    return buf;
}

}  // namespace ingot

namespace ingot {

std::chrono::seconds parseDuration(std::string_view text, std::string_view what) {
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    const std::string_view unit(end, text.data() + text.size() - end);
    const uint64_t scale = unit.empty() || unit == "s" ? 1
                           : unit == "m"               ? 60
                           : unit == "h"               ? 3600
                           : unit == "d"               ? 86400
                                                       : 0;
    if (ec != std::errc() || end == text.data() || scale == 0 || n == 0 ||
        n > 3650ull * 86400 / scale)
        throw Error(std::string(what) + " '" + std::string(text) +
                        "': give a duration such as 7d, 12h, 30m or 3600s (up to ten years)",
                    ExitStatus::kUsage);
    return std::chrono::seconds(n * scale);
}

std::string formatDuration(std::chrono::seconds duration) {
    const int64_t s = duration.count();
    if (s != 0 && s % 86400 == 0) return std::to_string(s / 86400) + "d";
    if (s != 0 && s % 3600 == 0) return std::to_string(s / 3600) + "h";
    if (s != 0 && s % 60 == 0) return std::to_string(s / 60) + "m";
    return std::to_string(s) + "s";
}

}  // namespace ingot
