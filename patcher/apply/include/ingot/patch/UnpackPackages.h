// dpkg's unpack phase, done by the host on an image's tree: each new .deb's data.tar is placed
// in the tree (through the tree's symlinked directories, past other packages' diversions,
// conffiles as PATH.dpkg-new), files the old version had and the new one lacks are removed,
// info/PACKAGE.* is replaced by the new control files, the status file records the package as
// "unpacked" (Config-Version: the old version) with its conffiles' old hashes, and file and
// explicit triggers the new files activate are marked pending on the packages interested in
// them. Then the guest's own dpkg can configure: it makes the conffile decisions, runs each
// postinst and the triggers (GuestConfigure.h). No maintainer script runs on the host.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ingot/imagebuild/Tree.h"
#include "ingot/patch/MaintainerScripts.h"

namespace ingot::patch {

struct PackageToUnpack {
    std::string debPath;  // already checked against the archive's Packages record
    // What the plan expects the .deb to be; a package whose control file says otherwise is
    // refused.
    std::string package;
    std::string architecture;
    std::string version;
};

struct UnpackOptions {
    int64_t sourceDateEpoch = 0;  // mtime of the database files written, cap of unpacked mtimes
};

struct ConffileOutcome {
    enum class Kind {
        kNew,             // not there before: the package's version is installed
        kReplaced,        // unchanged since the old version: the new version replaces it
        kUnchanged,       // the new version ships the same content as the old: nothing to do
        kKeptLocal,       // changed by the recipe and by the package: the recipe's version stays,
                          // the package's goes to PATH.dpkg-dist
        kKeptDeleted,     // removed by the recipe: stays removed
    };
    std::string path;  // "/etc/foo.conf"
    Kind kind = Kind::kNew;
};
std::string_view conffileOutcomeName(ConffileOutcome::Kind kind);

struct UnpackedPackage {
    std::string package;
    std::string architecture;
    std::string oldVersion;  // "" for a package new to the image
    std::string newVersion;
    std::vector<ConffileOutcome> conffiles;
    uint64_t filesUnpacked = 0;
    uint64_t filesRemoved = 0;  // the old version's files the new one no longer ships
    // The unpack-phase scripts run in the guest around the host's unpack, in dpkg's order:
    // "old prerm upgrade NEW", "new preinst upgrade OLD" (or "install"), "old postrm upgrade NEW".
    std::vector<std::string> unpackScripts;
};

struct UnpackReport {
    std::vector<UnpackedPackage> packages;
    std::vector<std::string> triggersActivated;  // "PACKAGE: TRIGGER", sorted
    // The old postrms to run with "upgrade NEW" before configuring, staged under
    // kGuestStagingDir/postrm/ since the new version's info/ replaced them.
    std::vector<MaintainerScriptCall> postrmCalls;
};

// The calls to make in the guest before the host unpacks `debs`: each old version's prerm with
// "upgrade NEW", each new preinst with "upgrade OLD" ("install [CONFIG-VERSION]" for a package
// not installed), the new preinsts staged under kGuestStagingDir/preinst/. Checks each .deb is
// what the plan says, as unpackPackages does.
std::vector<MaintainerScriptCall> stageUnpackScripts(imagebuild::Tree& tree,
                                                     const std::vector<PackageToUnpack>& debs,
                                                     const UnpackOptions& options);

// Unpacks the packages in order. Throws ingot::Error naming the .deb or the database file at
// fault: a package that is not what the plan said, a file that would replace a directory, a
// malformed database; `tree` may then be half-changed, and the caller discards it.
UnpackReport unpackPackages(imagebuild::Tree& tree, const std::vector<PackageToUnpack>& debs,
                            const UnpackOptions& options);

nlohmann::json unpackReportToJson(const UnpackReport& report);

}  // namespace ingot::patch
