// What `ingot patch` would do to an image: for each installed package the newest version the
// security suites hold when it is newer (dpkg's order), the packages those versions newly
// depend on, the dependencies nothing satisfies, and for each update the CVEs its changelog
// says were fixed since the installed version. Computing a plan changes nothing; applying one
// is a later part of issue 8.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ingot/debian/ArchiveClient.h"
#include "ingot/debian/DpkgStatus.h"
#include "ingot/debian/PackagesIndex.h"
#include "ingot/debian/Version.h"

namespace ingot::patch {

// A virtual package an installed package provides ("Provides: mail-transport-agent"). The
// dpkg status reader (DpkgStatus.h) does not keep the field; the plan needs it so that a
// dependency on a virtual package the image already has is not reported as unresolved.
struct InstalledProvide {
    std::string name;
    std::optional<debian::Version> version;  // "Provides: foo (= 1.2)"
    std::string providedBy;
    std::string architecture;
};

// The Provides of the installed packages (the same "<want> ok installed" ones parseDpkgStatus
// returns). Throws ingot::Error (kUsage) naming `source` and the line for a malformed field.
std::vector<InstalledProvide> parseInstalledProvides(std::string_view statusText,
                                                     std::string_view source);

// The image's native architecture: what `dpkg --print-architecture` prints on it, which is
// the architecture dpkg itself was built for, so the Architecture of the installed `dpkg`
// package (of `base-files` on an image without dpkg's record). Throws ingot::Error (kUsage)
// when neither is installed with a real architecture.
std::string nativeArchitecture(const std::vector<debian::InstalledPackage>& installed);

// One package index the plan may take packages from, and how to get its .debs verified.
struct PlanSource {
    std::string label;  // "URI SUITE" (and the architecture), for the plan's output
    // Called at most once, and only when the plan needs the index: a base suite's index (tens
    // of MiB) is fetched only when an update needs a package the security suites lack.
    std::function<const debian::PackagesIndex&()> packages;
    // The path of the record's .deb, downloaded and checked against the record.
    std::function<std::string(const debian::PackageRecord&)> fetchDeb;
};

// A PlanSource backed by an ArchiveClient, which is update()d on first use.
PlanSource archiveSource(std::shared_ptr<debian::ArchiveClient> client, std::string label);

struct PlanInput {
    std::vector<debian::InstalledPackage> installed;
    std::vector<InstalledProvide> provides;
    std::string architecture;  // native; packages of architecture "all" are judged as native
    std::vector<PlanSource> security;
    std::vector<PlanSource> base;  // may be empty
};

struct PlanOptions {
    // Download each update's .deb and read the CVEs from its changelog; without, the plan has
    // versions and dependencies only.
    bool readChangelogs = true;
    uint64_t maxChangelogBytes = 32ull << 20;  // decompressed; Debian's longest are ~5 MiB
};

struct PlannedUpdate {
    std::string package;
    std::string architecture;  // the new version's
    std::string installedVersion;
    std::string newVersion;
    std::string sourcePackage;  // the new version's source
    std::string sourceVersion;
    std::string origin;  // the PlanSource label it comes from
    // Empty for a security update; for a package upgraded only because a planned update
    // needs a newer version of it, the packages that need it.
    std::vector<std::string> neededBy;
    std::vector<std::string> cves;  // from changelog entries newer than the installed version
    std::string changelogNote;      // why no CVEs could be read, "" when the changelog was read
    std::string filename;           // in the archive
    uint64_t debSize = 0;
    std::string sha256;
    std::string debPath;  // in the cache, once downloaded ("" without readChangelogs)
};

struct PlannedInstall {
    std::string package;
    std::string architecture;
    std::string version;
    std::string sourcePackage;
    std::string origin;
    std::vector<std::string> neededBy;
    std::string filename;
    uint64_t debSize = 0;
    std::string sha256;
};

struct UnresolvedDependency {
    std::string package;  // the planned package whose dependency fails
    std::string version;
    std::string relation;  // "libfoo (>= 2.0) | libbar", normalised
    std::string reason;
};

struct PatchPlan {
    std::string architecture;
    std::vector<PlannedUpdate> updates;       // by package name, then architecture
    std::vector<PlannedInstall> newPackages;  // in the order they were found needed
    std::vector<UnresolvedDependency> unresolved;

    bool empty() const { return updates.empty() && newPackages.empty(); }
};

// Computes the plan. Dependencies (Depends and Pre-Depends of each new version, then of each
// newly needed package) are judged against what the image will hold afterwards: the installed
// packages at their new versions where they are updated, their Provides, and the new
// packages. An unmet one is resolved from the security suites first, then from the base
// suites, taking the first alternative that some version satisfies; what stays unmet (virtual
// packages the suites would have to provide, versions no suite has, malformed relations) is
// listed in `unresolved`. Conflicts and Breaks are not judged. Throws ingot::Error for what the
// sources throw (fetching and verifying indexes and .debs); an unreadable changelog is a
// changelogNote, not an error.
PatchPlan computePatchPlan(const PlanInput& input, const PlanOptions& options = {});

// {"architecture", "updates": [...], "newPackages": [...], "unresolved": [...]}.
nlohmann::json planToJson(const PatchPlan& plan);

// One line per package: "libssl3 3.0.20-1~deb12u2 → 3.0.22-1~deb12u2 (CVE-2025-1, ...)";
// new packages as "hello-doc (new) → 1.1-1 (needed by hello)"; then one line per unresolved
// dependency. A package of another architecture than the plan's (and not "all") is shown as
// NAME:ARCH.
std::string formatPlanText(const PatchPlan& plan);

}  // namespace ingot::patch
