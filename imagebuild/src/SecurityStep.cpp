#include "SecurityStep.h"

#include <cstdio>

#include "ingot/core/Error.h"
#include "ingot/patch/DpkgDatabase.h"
#include "ingot/patch/GuestConfigure.h"
#include "ingot/patch/PatchPlan.h"
#include "ingot/patch/SecuritySources.h"
#include "ingot/patch/UnpackPackages.h"

namespace ingot::imagebuild {

namespace {

patch::SecurityConfig configOf(const SecurityStepInput& input) {
    patch::SecurityConfig config;
    config.aptDirectory = input.section.sources;
    config.suites = input.section.suites;
    config.keyring = input.section.keyring;
    config.cacheDirectory = input.archiveCache;
    config.offline = input.offline;
    return config;
}

}  // namespace

std::string securityStepKey(const SecurityStepInput& input) {
    // Gold images are x86-64 (ingot-vmm runs nothing else); a foreign architecture's index
    // only matters once a tree asks for it, and then its Release is the same file.
    return patch::openSecuritySources(configOf(input), "amd64", {}, input.progress).releaseDigest;
}

nlohmann::json applySecurityUpdates(Tree& tree, const SecurityStepInput& input) {
    const auto say = [&](const std::string& line) {
        if (input.progress) input.progress("security: " + line);
    };
    const std::string where = "the tree's " + std::string(patch::kDpkgStatusPath);
    auto statusText = patch::readTreeFile(tree, std::string(patch::kDpkgStatusPath), where);
    if (!statusText)
        throw Error("security: the image has no " + std::string(patch::kDpkgStatusPath) +
                        ", so there is no record of what to update (is it a Debian system "
                        "installed with dpkg?)",
                    ExitStatus::kUsage);
    patch::ImagePlanInput planInput =
        patch::planInputForStatus(*statusText, where, configOf(input), say);
    say("planning " + std::to_string(planInput.input.installed.size()) + " installed packages");
    const patch::PatchPlan plan = patch::computePatchPlan(planInput.input);

    nlohmann::json provenance = patch::planToJson(plan);
    // Where this host's cache keeps the .debs is no property of the image (sha256 is).
    for (auto& update : provenance["updates"]) update.erase("debPath");
    provenance["suites"] = planInput.sources.labels;
    if (plan.empty()) {
        say("no updates");
        return provenance;
    }
    if (!plan.unresolved.empty()) {
        std::string list;
        for (const auto& u : plan.unresolved)
            list += "\n  " + u.package + " " + u.version + ": " + u.relation + " (" + u.reason + ")";
        throw Error("security: updates whose dependencies nothing provides; installing them "
                    "would leave broken packages:" + list,
                    ExitStatus::kUsage);
    }

    std::vector<patch::PackageToUnpack> debs;
    std::vector<std::string> names;
    for (const patch::PlannedUpdate& u : plan.updates) {
        debs.push_back({u.debPath, u.package, u.architecture, u.newVersion});
        names.push_back(u.package + ":" + u.architecture);
    }
    for (const patch::PlannedInstall& n : plan.newPackages) {
        debs.push_back({patch::fetchPlannedInstall(planInput.sources, n), n.package,
                        n.architecture, n.version});
        names.push_back(n.package + ":" + n.architecture);
    }
    for (auto& name : names)  // "all" packages are recorded under no architecture of their own
        if (name.ends_with(":all")) name.resize(name.size() - 4);

    patch::GuestConfigureOptions guest;
    guest.vmmPath = input.vmmPath;
    guest.kernelPath = input.kernelPath;
    guest.initrdPath = input.initrdPath;
    guest.workDirectory = input.workDirectory;
    guest.imageName = input.imageName;
    guest.sourceDateEpoch = input.sourceDateEpoch;
    guest.memoryBytes = std::max<uint64_t>(input.memoryBytes, 512ull << 20);
    guest.packages = names;
    guest.progress = say;

    // dpkg's order: old prerms and new preinsts in the guest, the unpack on the host, old
    // postrms, configure and triggers in the guest.
    patch::UnpackOptions unpackOptions;
    unpackOptions.sourceDateEpoch = input.sourceDateEpoch;
    const auto before = patch::stageUnpackScripts(tree, debs, unpackOptions);
    const patch::GuestConfigureResult prepared = patch::runScriptsInGuest(tree, before, guest);

    say("unpacking " + std::to_string(debs.size()) + " package(s)");
    const patch::UnpackReport report = patch::unpackPackages(tree, debs, unpackOptions);
    for (const auto& p : report.packages)
        for (const auto& c : p.conffiles)
            if (c.kind == patch::ConffileOutcome::Kind::kKeptLocal)
                say(c.path + " (" + p.package + "): the recipe changed it, so its version stays; "
                    "the package's new one is " + c.path + ".dpkg-dist");
    const patch::GuestConfigureResult configured =
        patch::configureInGuest(tree, report.postrmCalls, guest);

    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1f", prepared.seconds + configured.seconds);
    say(std::string("the build microVM ran for ") + seconds + " s");
    // Nothing timed goes into the provenance: it is signed, and equal inputs give equal bytes.
    provenance["unpack"] = patch::unpackReportToJson(report);
    return provenance;
}

}  // namespace ingot::imagebuild
