#include "Grammar.h"

#include <cstddef>

namespace ingot::registry {
namespace {

bool isLowerAlnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*. A separator run is '.', '_', "__" or
// any number of '-', and must be followed by an alphanumeric.
bool isValidComponent(std::string_view c) {
    size_t i = 0;
    if (c.empty() || !isLowerAlnum(c[0])) return false;
    while (i < c.size()) {
        if (isLowerAlnum(c[i])) {
            ++i;
            continue;
        }
        size_t start = i;
        if (c[i] == '.') {
            ++i;
        } else if (c[i] == '_') {
            ++i;
            if (i < c.size() && c[i] == '_') ++i;
        } else if (c[i] == '-') {
            while (i < c.size() && c[i] == '-') ++i;
        } else {
            return false;
        }
        if (i == start || i >= c.size() || !isLowerAlnum(c[i])) return false;
    }
    return true;
}

}  // namespace

bool isValidRepositoryName(std::string_view name) {
    if (name.empty() || name.size() > 255) return false;
    size_t start = 0;
    while (true) {
        size_t slash = name.find('/', start);
        std::string_view component = name.substr(
            start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        if (!isValidComponent(component)) return false;
        if (slash == std::string_view::npos) return true;
        start = slash + 1;
    }
}

bool isValidTag(std::string_view tag) {
    auto word = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    };
    if (tag.empty() || tag.size() > 128 || !word(tag[0])) return false;
    for (char c : tag)
        if (!word(c) && c != '.' && c != '-') return false;
    return true;
}

bool isValidDigest(std::string_view digest) {
    if (digest.size() != 71 || digest.substr(0, 7) != "sha256:") return false;
    for (char c : digest.substr(7))
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

bool looksLikeDigest(std::string_view digest) {
    // algorithm ":" encoded, with algorithm [a-z0-9]+([+._-][a-z0-9]+)* and encoded
    // [a-zA-Z0-9=_-]+.
    size_t colon = digest.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 >= digest.size()) return false;
    if (digest.size() > 1024) return false;
    std::string_view algorithm = digest.substr(0, colon);
    bool afterSeparator = true;
    for (char c : algorithm) {
        if (isLowerAlnum(c)) {
            afterSeparator = false;
        } else if (c == '+' || c == '.' || c == '_' || c == '-') {
            if (afterSeparator) return false;
            afterSeparator = true;
        } else {
            return false;
        }
    }
    if (afterSeparator) return false;
    for (char c : digest.substr(colon + 1))
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '=' || c == '_' || c == '-'))
            return false;
    return true;
}

bool matchesPattern(std::string_view pattern, std::string_view text) {
    // Greedy with one backtrack point: linear enough for patterns with a few stars.
    size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = t;
        } else if (p < pattern.size() && pattern[p] == text[t]) {
            ++p;
            ++t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

}  // namespace ingot::registry
