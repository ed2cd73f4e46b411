// A maintainer script call as dpkg makes one, for the build microVM to make (GuestConfigure.h)
// in the order dpkg would: the unpack around which they run happens on the host in between
// (UnpackPackages.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ingot::patch {

// DPKG_MAINTSCRIPT_PACKAGE, _ARCH and _NAME are set for it (dpkg-maintscript-helper needs them).
struct MaintainerScriptCall {
    std::string package;
    std::string architecture;
    std::string name;  // "prerm", "preinst", "postrm"
    std::string path;  // in the tree, canonical ("var/lib/dpkg/info/foo.prerm")
    std::vector<std::string> arguments;  // {"upgrade", "1.2-3"}

    std::string describe() const;  // "old prerm upgrade 1.2-4" style: NAME ARGUMENTS...
};

// Where scripts the tree does not hold at the moment of their call are staged (a new preinst
// before the unpack, an old postrm after it); removed once the packages are configured.
inline constexpr std::string_view kGuestStagingDir = "var/lib/ingot-patch";

}  // namespace ingot::patch
