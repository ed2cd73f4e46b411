// Text helpers the plan's parsers share. What they read comes from the host's apt files, from
// signed indexes and from an image's files; what ends up in a message is shortened and made
// printable.
#pragma once

#include "ingot/debian/Text.h"
#include <string>
#include <string_view>
#include <vector>

namespace ingot::patch::text {

using debian::text::isAlpha;
using debian::text::isDigit;
using debian::text::printable;
using debian::text::words;

// Unlike the archive's, a blank here includes line ends: what the plan trims are whole values
// from apt files and relations, where a stray CR or LF is never meaningful.
inline bool isBlank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

inline std::string_view trim(std::string_view s) {
    while (!s.empty() && isBlank(s.front())) s.remove_prefix(1);
    while (!s.empty() && isBlank(s.back())) s.remove_suffix(1);
    return s;
}

// Lines without the empty one after a final newline.
inline std::vector<std::string_view> lines(std::string_view s) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (start < s.size()) {
        size_t end = s.find('\n', start);
        if (end == std::string_view::npos) end = s.size();
        out.push_back(s.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

}  // namespace ingot::patch::text
