// A suite's binary package index (COMPONENT/binary-ARCH/Packages.xz): checked against the
// verified Release before anything in it is read, decompressed with libarchive, parsed into
// records, and indexed by the newest version of each (package, architecture).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ingot/debian/Decompress.h"
#include "ingot/debian/Release.h"
#include "ingot/debian/Version.h"

namespace ingot::debian {

struct PackageRecord {
    std::string package;
    Version version;
    std::string architecture;
    std::string filename;  // relative to the archive's base URL, e.g. "pool/main/h/hello/..."
    uint64_t size = 0;
    std::string sha256;               // 64 lower-case hex digits
    std::string depends, preDepends;  // as written; relations are parsed by their users
    std::string source;               // the source package: Source's name, else Package
    Version sourceVersion;            // "Source: name (version)"'s version, else Version
    std::string multiArch;            // "" when absent
    std::string component;            // which index it came from ("main"), "" when unknown
};

// Debian's largest Packages file (unstable, main, amd64) is under 100 MiB uncompressed; an
// index that inflates far beyond that is an attack on memory, not an index.
inline constexpr uint64_t kMaxPackagesBytes = 512ull << 20;

// Checks `bytes` against the Release entry: size first, then sha256. Throws ingot::Error
// (kVerification) naming the entry's path and both values.
void checkAgainstRelease(std::string_view bytes, const ReleaseFile& entry);

// An .xz index decompressed under Decompress.h's rules.
inline std::string decompressXz(std::string_view bytes, std::string_view source,
                                uint64_t maxBytes = kMaxPackagesBytes) {
    return decompress(bytes, Compression::kXz, source, maxBytes);
}

class PackagesIndex {
public:
    // Checks the compressed bytes against `entry`, decompresses and adds the records.
    void addCompressed(std::string_view xzBytes, const ReleaseFile& entry,
                       std::string_view component, uint64_t maxBytes = kMaxPackagesBytes);
    // Parses uncompressed Packages text. Throws ingot::Error (kUsage) naming `source` and the
    // paragraph's line for a missing or malformed required field (Package, Version,
    // Architecture, Filename, Size, SHA256), an unsafe Filename, or a bad Source version.
    void addText(std::string_view text, std::string_view source, std::string_view component,
                 uint64_t maxBytes = kMaxPackagesBytes);

    const std::vector<PackageRecord>& records() const { return records_; }
    // The newest version of `package` built for exactly `architecture` ("all" is its own
    // architecture); nullptr when there is none.
    const PackageRecord* newest(std::string_view package, std::string_view architecture) const;
    // newest() for `architecture`, else for "all": what apt would pick for a native install.
    const PackageRecord* newestFor(std::string_view package, std::string_view architecture) const;

private:
    std::vector<PackageRecord> records_;
    std::map<std::pair<std::string, std::string>, size_t> newest_;
};

}  // namespace ingot::debian
