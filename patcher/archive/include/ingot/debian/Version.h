// Debian package versions ([epoch:]upstream[-revision]) and their order, exactly as dpkg
// defines them (deb-version(5), lib/dpkg/version.c): a security update is "newer" only if dpkg
// on the guest would agree, so no other order will do.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace ingot::debian {

class Version {
public:
    // Parses with dpkg's rules, strictly: what dpkg only warns about (an upstream part that does
    // not start with a digit, characters outside its sets) is refused as well. Blanks around
    // the text are ignored, as dpkg ignores them. Throws ingot::Error (kUsage) naming the
    // version and the rule it breaks.
    static Version parse(std::string_view text);

    uint32_t epoch() const { return epoch_; }
    const std::string& upstream() const { return upstream_; }
    const std::string& revision() const { return revision_; }  // "" when there is none
    // The text it was parsed from, without surrounding blanks ("1:2.0-1", "0:1.0" stays so).
    const std::string& text() const { return text_; }

private:
    Version() = default;
    uint32_t epoch_ = 0;
    std::string upstream_;
    std::string revision_;
    std::string text_;
};

// < 0, 0 or > 0 as dpkg --compare-versions orders a and b: epochs numerically, then upstream
// and revision with verrevcmp (letters before other characters, '~' before everything, even
// the end; digit runs compared as numbers). "1.0" and "1.00" compare equal.
int compareVersions(const Version& a, const Version& b);
// Parses both first (throwing as Version::parse does).
int compareVersions(std::string_view a, std::string_view b);

// dpkg's equivalence, not string equality: Version::parse("1.0") == Version::parse("1.00").
inline std::weak_ordering operator<=>(const Version& a, const Version& b) {
    const int c = compareVersions(a, b);
    return c < 0 ? std::weak_ordering::less
                 : (c > 0 ? std::weak_ordering::greater : std::weak_ordering::equivalent);
}
inline bool operator==(const Version& a, const Version& b) {
    return compareVersions(a, b) == 0;
}

}  // namespace ingot::debian
