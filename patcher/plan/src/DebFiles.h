// A few files out of a .deb, streamed: the data tarball of a large package (a kernel's is
// hundreds of MiB) is read through once and only the wanted entries are kept in memory.
#pragma once

#include "ingot/debian/Decompress.h"
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

namespace ingot::patch {

struct DebEntry {
    enum class Kind { kFile, kSymlink, kHardlink, kOther };
    Kind kind = Kind::kOther;
    std::string bytes;   // kFile: the content
    std::string target;  // kSymlink: as written; kHardlink: the path it links to
};

// The entries of the package's data.tar.* at `paths` (canonical: "usr/share/doc/x/changelog",
// no "./" or leading '/'). Absent paths are absent from the result. Throws ingot::Error
// (kUsage) naming `debPath` when it is not a Debian package, has no data member, is corrupt, or
// a wanted file is over maxBytes.
std::map<std::string, DebEntry> readDebDataEntries(const std::string& debPath,
                                                   const std::set<std::string>& paths,
                                                   uint64_t maxBytes);

// Gzip (a changelog.Debian.gz) is decompressed by the archive library's debian::gunzip.
using debian::gunzip;

}  // namespace ingot::patch
