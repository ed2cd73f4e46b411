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
