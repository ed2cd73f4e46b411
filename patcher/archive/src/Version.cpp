#include "ingot/debian/Version.h"

#include <climits>

#include "ingot/debian/Text.h"
#include "ingot/core/Error.h"

namespace ingot::debian {

namespace {

[[noreturn]] void invalid(std::string_view text, const std::string& why) {
    throw Error("invalid Debian version '" + text::printable(text) + "': " + why,
                ExitStatus::kUsage);
}

// dpkg's weight of a character in verrevcmp: '~' sorts before the end of the string (0),
// letters before everything else, other characters after all letters.
int order(char c) {
    if (text::isDigit(c)) return 0;
    if (text::isAlpha(c)) return static_cast<unsigned char>(c);
    if (c == '~') return -1;
    if (c) return static_cast<unsigned char>(c) + 256;
    return 0;
}

// dpkg's verrevcmp, over string_views: the end of a part reads as '\0'.
int verrevcmp(std::string_view a, std::string_view b) {
    size_t i = 0, j = 0;
    auto at = [](std::string_view s, size_t k) { return k < s.size() ? s[k] : '\0'; };
    while (i < a.size() || j < b.size()) {
        int firstDiff = 0;
        while ((i < a.size() && !text::isDigit(a[i])) || (j < b.size() && !text::isDigit(b[j]))) {
            const int ac = order(at(a, i));
            const int bc = order(at(b, j));
            if (ac != bc) return ac - bc;
            ++i;
            ++j;
        }
        while (at(a, i) == '0') ++i;
        while (at(b, j) == '0') ++j;
        while (text::isDigit(at(a, i)) && text::isDigit(at(b, j))) {
            if (!firstDiff) firstDiff = at(a, i) - at(b, j);
            ++i;
            ++j;
        }
        if (text::isDigit(at(a, i))) return 1;
        if (text::isDigit(at(b, j))) return -1;
        if (firstDiff) return firstDiff;
    }
    return 0;
}

}  // namespace

Version Version::parse(std::string_view input) {
    std::string_view s = input;
    while (!s.empty() && text::isBlank(s.front())) s.remove_prefix(1);
    while (!s.empty() && text::isBlank(s.back())) s.remove_suffix(1);
    if (s.empty()) invalid(input, "the version is empty");
    for (char c : s)
        if (text::isBlank(c)) invalid(input, "the version has embedded blanks");

    Version v;
    v.text_ = std::string(s);
    std::string_view rest = s;
    if (const size_t colon = s.find(':'); colon != std::string_view::npos) {
        const std::string_view epoch = s.substr(0, colon);
        if (epoch.empty()) invalid(input, "the epoch before ':' is empty");
        if (epoch.front() == '-') invalid(input, "the epoch is negative");
        for (char c : epoch)
            if (!text::isDigit(c)) invalid(input, "the epoch is not a number");
        const auto value = text::parseUnsigned(epoch);
        if (!value || *value > static_cast<uint64_t>(INT_MAX))
            invalid(input, "the epoch is larger than " + std::to_string(INT_MAX));
        v.epoch_ = static_cast<uint32_t>(*value);
        rest = s.substr(colon + 1);
        if (rest.empty()) invalid(input, "nothing follows the epoch's ':'");
    }
    if (const size_t hyphen = rest.rfind('-'); hyphen != std::string_view::npos) {
        v.revision_ = std::string(rest.substr(hyphen + 1));
        if (v.revision_.empty()) invalid(input, "the revision after the last '-' is empty");
        rest = rest.substr(0, hyphen);
    }
    if (rest.empty()) invalid(input, "the upstream version is empty");
    v.upstream_ = std::string(rest);
    if (!text::isDigit(rest.front()))
        invalid(input, "the upstream version does not start with a digit");
    for (char c : rest)
        if (!text::isDigit(c) && !text::isAlpha(c) &&
            std::string_view(".-+~:").find(c) == std::string_view::npos)
            invalid(input, "the upstream version may only hold letters, digits and . + ~ - :");
    for (char c : v.revision_)
        if (!text::isDigit(c) && !text::isAlpha(c) &&
            std::string_view(".+~").find(c) == std::string_view::npos)
            invalid(input, "the revision may only hold letters, digits and . + ~");
    return v;
}

int compareVersions(const Version& a, const Version& b) {
    if (a.epoch() != b.epoch()) return a.epoch() < b.epoch() ? -1 : 1;
    if (int c = verrevcmp(a.upstream(), b.upstream())) return c;
    return verrevcmp(a.revision(), b.revision());
}

int compareVersions(std::string_view a, std::string_view b) {
    return compareVersions(Version::parse(a), Version::parse(b));
}

}  // namespace ingot::debian
