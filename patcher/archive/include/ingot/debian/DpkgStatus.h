// An image's var/lib/dpkg/status: what is installed, at which version, from which source, and
// which conffiles (with the md5 dpkg recorded) the admin may have changed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ingot/debian/Version.h"

namespace ingot::debian {

struct Conffile {
    std::string path;
    std::string md5;  // as recorded; "newconffile" while an install is unfinished
    bool obsolete = false;
    bool removeOnUpgrade = false;
};

struct InstalledPackage {
    std::string package;
    Version version;
    std::string architecture;
    std::string source;     // Source's name, else Package
    Version sourceVersion;  // "Source: name (version)"'s version, else Version
    std::string multiArch;
    std::string status;  // the whole Status field, e.g. "install ok installed"
    std::vector<Conffile> conffiles;
};

// The packages whose Status is "<want> ok installed" — "install ok installed", and also
// "hold ok installed" for a package the admin pinned, which is just as installed. Removed
// packages that left conffiles behind ("deinstall ok config-files") and half-installed ones
// are skipped. Throws ingot::Error (kUsage) naming `source` and the line for malformed
// paragraphs (see parseDeb822), an installed package without Version, an invalid version, a
// malformed Conffiles line.
std::vector<InstalledPackage> parseDpkgStatus(std::string_view text, std::string_view source);

// The entries of a Conffiles field's value (" /path md5 [obsolete] [remove-on-upgrade]" lines,
// read from the end, so paths may hold blanks). Throws ingot::Error (kUsage) starting with
// `where` for a malformed line.
std::vector<Conffile> parseConffiles(std::string_view value, std::string_view where);

}  // namespace ingot::debian
