#include "ThreadProcStats.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <charconv>

namespace ingot::vmm {

namespace {

// The whole file in one read: /proc's stat and schedstat are produced in one go and are far
// shorter than the buffer; a file that fills it is not one of them.
std::optional<std::string> readSmallFile(const FileDescriptor& fd) {
    if (!fd.valid()) return std::nullopt;
    std::array<char, 1024> buf;
    ssize_t n = ::pread(fd.get(), buf.data(), buf.size(), 0);
    if (n <= 0 || static_cast<size_t>(n) == buf.size()) return std::nullopt;
    return std::string(buf.data(), static_cast<size_t>(n));
}

// A decimal number of at least one digit that fits 64 bits, and nothing else.
std::optional<uint64_t> parseDecimal(std::string_view s) {
    uint64_t v = 0;
    if (s.empty() || s.front() < '0' || s.front() > '9') return std::nullopt;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

// Field `n` (0-based) of `s` split at single spaces; a trailing newline ends the last field.
std::optional<std::string_view> field(std::string_view s, size_t n) {
    if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
    for (size_t i = 0; i < n; ++i) {
        auto space = s.find(' ');
        if (space == std::string_view::npos) return std::nullopt;
        s.remove_prefix(space + 1);
    }
    return s.substr(0, s.find(' '));
}

}  // namespace

ThreadProcStats::ThreadProcStats(const std::string& dir)
    : schedstat_(::open((dir + "/schedstat").c_str(), O_RDONLY | O_CLOEXEC)),
      stat_(::open((dir + "/stat").c_str(), O_RDONLY | O_CLOEXEC)) {}

ThreadProcReading ThreadProcStats::read() const {
    ThreadProcReading r;
    if (auto text = readSmallFile(schedstat_)) r.runDelayNs = parseRunDelay(*text);
    if (auto text = readSmallFile(stat_)) r.guestTicks = parseGuestTicks(*text);
    return r;
}

std::optional<uint64_t> ThreadProcStats::parseRunDelay(std::string_view text) {
    // Exactly three numbers: anything else is not a schedstat this code knows how to read.
    if (text.empty() || text.back() != '\n') return std::nullopt;
    if (!field(text, 2) || field(text, 3)) return std::nullopt;
    for (size_t i = 0; i < 3; ++i)
        if (!parseDecimal(*field(text, i))) return std::nullopt;
    return parseDecimal(*field(text, 1));
}

std::optional<uint64_t> ThreadProcStats::parseGuestTicks(std::string_view text) {
    auto close = text.rfind(')');
    if (close == std::string_view::npos || text.find('(') > close) return std::nullopt;
    auto rest = text.substr(close + 1);
    if (rest.size() < 2 || rest[0] != ' ') return std::nullopt;
    rest.remove_prefix(1);
    // rest starts at field 3 (state), so field 43 is its 41st.
    auto value = field(rest, 40);
    if (!value) return std::nullopt;
    return parseDecimal(*value);
}

}  // namespace ingot::vmm
