#include "GuestProcStat.h"

#include <algorithm>
#include <vector>

#include "ingot/core/Error.h"

namespace ingot::cli {

namespace {

constexpr std::array<std::string_view, kCpuColumnCount> kColumnNames = {
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice"};

[[noreturn]] void refuse(std::size_t lineNumber, const std::string& why) {
    throw Error("guest /proc/stat line " + std::to_string(lineNumber) + ": " + why);
}

[[noreturn]] void refuseUptime(std::string_view text, const std::string& why) {
    throw Error("guest /proc/uptime \"" + escapedText(text, 64) + "\": " + why);
}

bool isBlank(char c) {
    return c == ' ' || c == '\t';
}

bool isDigit(char c) {
    return c >= '0' && c <= '9';
}

// Decimal digits only: no sign, no spaces, nothing strtoull would quietly accept or wrap.
std::optional<uint64_t> parseDecimal(std::string_view digits) {
    if (digits.empty()) return std::nullopt;
    uint64_t value = 0;
    for (char c : digits) {
        if (!isDigit(c)) return std::nullopt;
        auto digit = static_cast<uint64_t>(c - '0');
        if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
        value = value * 10 + digit;
    }
    return value;
}

std::vector<std::string_view> splitWords(std::string_view line) {
    std::vector<std::string_view> words;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && isBlank(line[i])) ++i;
        std::size_t start = i;
        while (i < line.size() && !isBlank(line[i])) ++i;
        if (i > start) words.push_back(line.substr(start, i - start));
        // A hostile line of a million one-digit words stays within the byte limit, but nothing
        // that long is a line we read.
        if (words.size() > kMaxCpuColumns + 1) break;
    }
    return words;
}

// The kernel writes only printable ASCII here; a NUL or an escape sequence means the text is
// not /proc/stat, and it must not reach a terminal either.
void refuseControlBytes(std::string_view line, std::size_t lineNumber) {
    for (std::size_t i = 0; i < line.size(); ++i) {
        auto byte = static_cast<unsigned char>(line[i]);
        if ((byte < 0x20 && line[i] != '\t') || byte >= 0x7f)
            refuse(lineNumber, "byte " + escapedText(line.substr(i, 1)) + " at column " +
                                   std::to_string(i + 1) + " (not text)");
    }
}

// What a line's first word names. (Not an optional of an optional: GCC 12 at -O3 warns that
// the inner one may be used uninitialised.)
struct CpuLineName {
    enum Kind { kOther, kAggregate, kCpu } kind = kOther;
    unsigned index = 0;
};

// Throws for a name that starts like a CPU line's but is not one.
CpuLineName cpuLineIndex(std::string_view name, std::size_t lineNumber) {
    if (name.substr(0, 3) != "cpu") return {};
    std::string_view digits = name.substr(3);
    if (digits.empty()) return {CpuLineName::kAggregate, 0};
    auto index = parseDecimal(digits);
    // The kernel prints "cpu%d": a leading zero would make two names for one CPU.
    if (!index || (digits.size() > 1 && digits[0] == '0'))
        refuse(lineNumber, "\"" + escapedText(name, 24) + "\" is not a CPU name");
    if (*index >= kMaxGuestCpus)
        refuse(lineNumber, escapedText(name, 24) + ": more than the " +
                               std::to_string(kMaxGuestCpus) + " CPUs a guest can have");
    return {CpuLineName::kCpu, static_cast<unsigned>(*index)};
}

CpuTicks parseCpuColumns(const std::vector<std::string_view>& words, std::size_t lineNumber) {
    const std::string name = escapedText(words[0], 24);
    const std::size_t count = words.size() - 1;
    if (count < kMinCpuColumns)
        refuse(lineNumber, name + ": " + std::to_string(count) + " columns, fewer than the " +
                               std::to_string(kMinCpuColumns) + " every kernel prints");
    if (count > kMaxCpuColumns)
        refuse(lineNumber, name + ": more than " + std::to_string(kMaxCpuColumns) + " columns");
    CpuTicks ticks;
    for (std::size_t i = 0; i < count; ++i) {
        auto value = parseDecimal(words[i + 1]);
        if (!value) {
            std::string column = i < kCpuColumnCount ? std::string(kColumnNames[i])
                                                     : "column " + std::to_string(i + 1);
            bool digitsOnly = !words[i + 1].empty();
            for (char c : words[i + 1]) digitsOnly = digitsOnly && isDigit(c);
            refuse(lineNumber,
                   name + " " + column + ": \"" + escapedText(words[i + 1], 32) + "\" " +
                       (digitsOnly ? "does not fit in 64 bits" : "is not a non-negative integer"));
        }
        // Columns a later kernel may add are checked but have no meaning here yet.
        if (i < kCpuColumnCount) ticks.columns[i] = *value;
    }
    return ticks;
}

}  // namespace

std::string_view cpuColumnName(CpuColumn column) {
    return kColumnNames[static_cast<std::size_t>(column)];
}

std::string escapedText(std::string_view text, std::size_t maxBytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    const std::size_t shown = std::min(text.size(), maxBytes);
    for (std::size_t i = 0; i < shown; ++i) {
        auto byte = static_cast<unsigned char>(text[i]);
        if (byte >= 0x20 && byte < 0x7f) {
            out += text[i];
        } else {
            out += "\\x";
            out += kHex[byte >> 4];
            out += kHex[byte & 0xf];
        }
    }
    if (shown < text.size()) out += "...";
    return out;
}

GuestProcStat parseGuestProcStat(std::string_view text) {
    if (text.size() > kMaxProcStatBytes)
        throw Error("guest /proc/stat: " + std::to_string(text.size()) + " bytes, more than the " +
                    std::to_string(kMaxProcStatBytes) + " it can be");
    GuestProcStat stat;
    bool sawTotal = false;
    std::size_t lineNumber = 0;
    std::size_t position = 0;
    while (position < text.size()) {
        std::size_t end = text.find('\n', position);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(position, end - position);
        position = end + 1;
        ++lineNumber;
        if (lineNumber > kMaxProcStatLines)
            refuse(lineNumber, "more than the " + std::to_string(kMaxProcStatLines) +
                                   " lines a guest's /proc/stat can have");
        refuseControlBytes(line, lineNumber);
        auto words = splitWords(line);
        if (words.empty()) continue;
        auto index = cpuLineIndex(words[0], lineNumber);
        // intr, ctxt, btime, processes, procs_*, softirq: nothing here needs them.
        if (index.kind == CpuLineName::kOther) continue;
        CpuTicks ticks = parseCpuColumns(words, lineNumber);
        if (index.kind == CpuLineName::kAggregate) {
            if (sawTotal) refuse(lineNumber, "a second aggregate \"cpu\" line");
            sawTotal = true;
            stat.total = ticks;
        } else if (!stat.cpus.emplace(index.index, ticks).second) {
            refuse(lineNumber, "a second line for cpu" + std::to_string(index.index));
        }
    }
    if (!sawTotal) throw Error("guest /proc/stat: no aggregate \"cpu\" line");
    return stat;
}

GuestUptime parseGuestUptime(std::string_view text) {
    const std::string_view whole = text;
    if (text.size() > kMaxUptimeBytes) refuseUptime(whole, "longer than /proc/uptime can be");
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    // "SECONDS.FF": two decimals, as the kernel prints both figures.
    auto nanoseconds = [&](std::string_view word) -> uint64_t {
        std::size_t dot = word.find('.');
        if (dot == std::string_view::npos || word.size() - dot != 3)
            refuseUptime(whole, "\"" + escapedText(word, 32) + "\" is not seconds with two decimals");
        auto seconds = parseDecimal(word.substr(0, dot));
        auto centiseconds = parseDecimal(word.substr(dot + 1));
        if (!seconds || !centiseconds)
            refuseUptime(whole, "\"" + escapedText(word, 32) + "\" is not a number");
        if (*seconds > UINT64_MAX / 1'000'000'000ull - 1) refuseUptime(whole, "too large");
        return *seconds * 1'000'000'000ull + *centiseconds * 10'000'000ull;
    };
    std::size_t space = text.find(' ');
    if (space == std::string_view::npos || text.find(' ', space + 1) != std::string_view::npos)
        refuseUptime(whole, "not two numbers separated by a space");
    return {nanoseconds(text.substr(0, space)), nanoseconds(text.substr(space + 1))};
}

}  // namespace ingot::cli
