// Debian changelogs (debian/changelog, /usr/share/doc/PKG/changelog.Debian.gz once
// decompressed): which entries are newer than what is installed, and which CVEs they say they
// fix. The nightly rollout reports these for every package it upgrades.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ingot/debian/Version.h"

namespace ingot::debian {

struct ChangelogEntry {
    std::string package;
    Version version;
    std::string distributions;         // "bookworm-security"
    std::string options;               // after ';': "urgency=high"
    std::vector<std::string> changes;  // the change lines, as written
    std::string maintainer;            // "Name <email>" from the trailer
    std::string date;                  // the trailer's date, as written
    size_t line = 0;                   // the header's line, 1-based
};

// Parses entries from the top, as dpkg-parsechangelog does: "package (version) dists;
// options" headers, change lines indented by blanks, " -- Name <email>  date" trailers.
// Parsing ends at the first entry whose version is <= `stopAt` when given (that entry and the
// rest are not returned: the newer part of a long changelog is all an upgrade needs, and old
// entries in ancient formats are never read), at an Emacs/Vim variables block, or at a line
// in an ancient format after a complete entry. Throws ingot::Error (kUsage) naming `source` and
// the line for a malformed header or trailer, change lines outside an entry, a missing trailer,
// a NUL byte, or input over 64 MiB.
std::vector<ChangelogEntry> parseChangelog(std::string_view text, std::string_view source,
                                           const std::optional<Version>& stopAt = std::nullopt);

struct SecurityFixes {
    Version version;
    std::vector<std::string> cves;  // "CVE-2024-1234", upper case, each once, in order of mention
};

// For each entry newer than `installed` (top of the changelog down to the first entry whose
// version is <= installed), its version and the CVE ids (CVE-YYYY-NNNN...) its text mentions.
// Entries that mention none are listed with an empty list.
std::vector<SecurityFixes> fixesSince(std::string_view changelogText, std::string_view source,
                                      const Version& installed);

// The CVE ids in `text`, upper case, each once, in order; "cve-2024-1234" counts too.
std::vector<std::string> findCves(std::string_view text);

}  // namespace ingot::debian
