// The maintainer scripts, run where they belong: inside the image, booted in a build microVM
// (ingot-vmm with the image's own kernel and initrd), never on the host. The tree is written
// as an ext4 root partition of a scratch disk, a small PID 1 script does the work, remounts the
// root read-only and powers off, and the tree is read back from the disk. What only a run
// leaves behind (var/log, ldconfig's aux cache, times after SOURCE_DATE_EPOCH) is put back as
// it was, so that equal inputs give equal trees.
//
// Two boots around the host's unpack, in dpkg's order: before it, each old version's
// `prerm upgrade NEW` and each new `preinst upgrade OLD` (or `install`); after it, each old
// `postrm upgrade NEW`, then `dpkg --configure --pending` (postinsts, the conffile decisions
// with the local version kept) and the pending triggers.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ingot/imagebuild/Tree.h"
#include "ingot/patch/MaintainerScripts.h"

namespace ingot::patch {

struct GuestConfigureOptions {
    std::string vmmPath;     // ingot-vmm
    std::string kernelPath;  // the image's kernel and initrd (the initrd mounts "ingot-root")
    std::string initrdPath;
    std::string workDirectory;  // the scratch disk goes here and is deleted afterwards
    std::string imageName;      // for the scratch file system's identifiers
    int64_t sourceDateEpoch = 0;
    uint64_t memoryBytes = 1ull << 30;
    unsigned cpus = 1;
    int timeoutSeconds = 1800;
    // The packages that must be "installed" afterwards (name or name:arch).
    std::vector<std::string> packages;
    std::function<void(const std::string&)> progress;
};

struct GuestConfigureResult {
    std::string consoleLog;  // what the guest printed
    double seconds = 0;      // from starting the monitor to its exit
};

// Runs `calls` in order in the guest and replaces `tree` with the result; nothing boots when
// there are none. A failing script fails the run. Throws as configureInGuest does.
GuestConfigureResult runScriptsInGuest(imagebuild::Tree& tree,
                                       const std::vector<MaintainerScriptCall>& calls,
                                       const GuestConfigureOptions& options);

// Runs `before` (the old postrms), then configures, and replaces `tree` with the configured
// one; kGuestStagingDir is gone from it. Throws ingot::Error: kUsage when the monitor cannot
// run here (no usable KVM) or the guest failed (the script or dpkg's exit status, the packages
// left unconfigured, the end of the console log in the message); `tree` is then unchanged.
GuestConfigureResult configureInGuest(imagebuild::Tree& tree,
                                      const std::vector<MaintainerScriptCall>& before,
                                      const GuestConfigureOptions& options);

// The PID 1 script the guest runs: the calls, then (with `configure`) dpkg's configure and
// triggers (for tests and docs).
std::string guestScript(const std::vector<MaintainerScriptCall>& calls, bool configure);

}  // namespace ingot::patch
