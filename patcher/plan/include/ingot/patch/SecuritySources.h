// The archives one patch run reads, from an apt configuration: for each `-security` suite an
// ArchiveClient per architecture the image needs (its native one, and foreign ones the suite
// carries), plus the base suites as a lazy fallback for dependencies. `ingot patch` and a
// recipe's `security:` section (the builder's last step) both start here.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ingot/debian/ArchiveClient.h"
#include "ingot/patch/AptSources.h"
#include "ingot/patch/PatchPlan.h"

namespace ingot::patch {

struct SecurityConfig {
    std::string aptDirectory = "/etc/apt";  // whose sources.list(.d) name the suites
    std::vector<std::string> suites;        // only these security suites; empty: all of them
    std::string keyring;                    // instead of each entry's own Signed-By
    std::string cacheDirectory;             // ArchiveClient's cache
    bool offline = false;
};

struct SecuritySources {
    std::vector<PlanSource> security;  // updated (InRelease and Packages verified)
    std::vector<PlanSource> base;      // fetched on first use
    std::vector<std::string> labels;   // of the security sources, for reports
    // A digest of what the security suites said (their Release files): equal digests, equal
    // plans for equal images. For step-cache keys.
    std::string releaseDigest;
    int64_t newestReleaseDate = 0;  // seconds since the epoch
};

// Throws ingot::Error (kUsage) when the configuration names no security suite for
// `nativeArchitecture`, and what ArchiveClient::update throws.
SecuritySources openSecuritySources(const SecurityConfig& config,
                                    const std::string& nativeArchitecture,
                                    const std::set<std::string>& foreignArchitectures,
                                    const std::function<void(const std::string&)>& progress);

// The plan input for an image whose dpkg status is `statusText`, with sources opened for it.
struct ImagePlanInput {
    PlanInput input;
    SecuritySources sources;
};
ImagePlanInput planInputForStatus(const std::string& statusText, const std::string& where,
                                  const SecurityConfig& config,
                                  const std::function<void(const std::string&)>& progress);

// The .deb of a planned new package, fetched from the source the plan took it from.
std::string fetchPlannedInstall(const SecuritySources& sources, const PlannedInstall& install);

}  // namespace ingot::patch
