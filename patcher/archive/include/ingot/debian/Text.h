// Small text helpers the archive parsers share. Everything they read comes from the network or
// from a guest's files, so what ends up in an error message is shortened and made printable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ingot::debian::text {

inline bool isBlank(char c) {
    return c == ' ' || c == '\t';
}
inline bool isDigit(char c) {
    return c >= '0' && c <= '9';
}
inline bool isAlpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
inline char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string_view trim(std::string_view s) {
    while (!s.empty() && (isBlank(s.front()) || s.front() == '\n')) s.remove_prefix(1);
    while (!s.empty() && (isBlank(s.back()) || s.back() == '\n')) s.remove_suffix(1);
    return s;
}

inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

// Splits on runs of blanks and newlines; no empty words.
inline std::vector<std::string_view> words(std::string_view s) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (isBlank(s[i]) || s[i] == '\n')) ++i;
        size_t start = i;
        while (i < s.size() && !isBlank(s[i]) && s[i] != '\n') ++i;
        if (i > start) out.push_back(s.substr(start, i - start));
    }
    return out;
}

inline std::vector<std::string_view> lines(std::string_view s) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (start <= s.size()) {
        size_t end = s.find('\n', start);
        if (end == std::string_view::npos) end = s.size();
        out.push_back(s.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

// A decimal number with no sign, no blanks and no overflow.
inline std::optional<uint64_t> parseUnsigned(std::string_view s) {
    if (s.empty() || s.size() > 20) return std::nullopt;
    uint64_t value = 0;
    for (char c : s) {
        if (!isDigit(c)) return std::nullopt;
        const uint64_t digit = static_cast<uint64_t>(c - '0');
        if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
        value = value * 10 + digit;
    }
    return value;
}

// 64 lower-case hex digits, as Release and Packages print sha256 sums.
inline bool isSha256Hex(std::string_view s) {
    if (s.size() != 64) return false;
    for (char c : s)
        if (!isDigit(c) && !(c >= 'a' && c <= 'f')) return false;
    return true;
}

// A relative path inside an archive: no leading '/', no empty, "." or ".." component, no
// control characters. Release and Packages name files this way, and a URL or a cache name is
// built from them.
inline bool isSafeRelativePath(std::string_view p) {
    if (p.empty() || p.front() == '/' || p.back() == '/') return false;
    for (char c : p)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\') return false;
    size_t start = 0;
    while (start <= p.size()) {
        size_t end = p.find('/', start);
        if (end == std::string_view::npos) end = p.size();
        std::string_view part = p.substr(start, end - start);
        if (part.empty() || part == "." || part == "..") return false;
        start = end + 1;
    }
    return true;
}

// For error messages: at most `max` characters, control bytes and non-ASCII as \xNN.
inline std::string printable(std::string_view s, size_t max = 120) {
    std::string out;
    static const char* hex = "0123456789abcdef";
    for (size_t i = 0; i < s.size(); ++i) {
        if (out.size() >= max) {
            out += "...";
            break;
        }
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c >= 0x7f) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

}  // namespace ingot::debian::text
