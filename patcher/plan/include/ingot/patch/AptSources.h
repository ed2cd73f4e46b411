// Where `ingot patch` finds security updates: the host's apt configuration, read the way apt
// reads it (sources.list in the one-line format, sources.list.d/*.list and *.sources in the
// deb822 format), so an administrator's mirror and keyring choices carry over without a
// separate ingot setting. Only `deb` entries are kept; the security ones are those whose suite
// ends in "-security".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ingot::patch {

// What apt trusts for an entry that names no keyring of its own, on a Debian host.
inline constexpr const char* kDefaultKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg";

struct AptSource {
    std::string uri;    // one URI; a deb822 paragraph with several gives one entry per URI
    std::string suite;  // "bookworm-security"; a flat repository's ends in '/'
    std::vector<std::string> components;     // empty only for a flat repository
    std::string signedBy;                    // as written ("" when absent); see securitySources
    std::vector<std::string> architectures;  // arch= / Architectures:, empty when unrestricted
    std::string origin;                      // "DIR/sources.list line 3", for messages
};

// The one-line format: "deb [opt=value ...] URI SUITE [COMPONENT ...]", '#' to the end of the
// line a comment. Throws ingot::Error (kUsage) naming `origin` and the line for an unknown
// entry type, an unclosed or malformed option list, a missing URI or suite, components after a
// flat suite, control characters or a NUL byte.
std::vector<AptSource> parseOneLineSources(std::string_view text, std::string_view origin);

// The deb822 format: paragraphs with Types, URIs, Suites, Components, Signed-By, Architectures,
// Enabled. Throws ingot::Error (kUsage) naming `origin` and the paragraph's line for a missing
// Types, URIs or Suites, missing Components for a non-flat suite, a bad Enabled value, an
// unknown type, control characters, or what parseDeb822 refuses.
std::vector<AptSource> parseDeb822Sources(std::string_view text, std::string_view origin);

// The `deb` entries of DIR/sources.list and of DIR/sources.list.d's *.list and *.sources files
// (names of letters, digits, '_', '-' and '.' only, as apt requires), in apt's order: the main
// file, then the directory's files sorted by name. Missing files and directories are no error.
// Files over 1 MiB are refused (kUsage).
std::vector<AptSource> readAptSources(const std::string& aptDirectory);

bool isSecuritySuite(std::string_view suite);

// The entries for a "-security" suite, made ready for ArchiveClient: the URI must be http://,
// https:// or file://, and signedBy becomes a keyring path (kDefaultKeyring when the entry named
// none). Throws ingot::Error (kUsage) naming the entry's origin for another URI scheme, and for
// a Signed-By that is not one absolute keyring path (fingerprints and inline key blocks are
// apt features ingot does not implement). Entries naming the same URI, suite and keyring are
// merged, their components joined.
std::vector<AptSource> securitySources(const std::vector<AptSource>& entries);

// For each security entry, the entries of its base suite ("bookworm" for "bookworm-security")
// at any URI, prepared as securitySources prepares them; entries that could not be used (an
// unsupported scheme or Signed-By) are skipped, since they are only a fallback for
// dependencies the security suites lack.
std::vector<AptSource> baseSources(const std::vector<AptSource>& entries,
                                   const std::vector<AptSource>& security);

}  // namespace ingot::patch
