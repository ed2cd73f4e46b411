// ingot run REF|PATH [--name N] [--cpus N] [--memory SIZE] [--rm] [-d] [resource flags]: a private clone of a gold
// image (pulled when missing, or imported from a local layout), booted as CloneBoot.h says
// (docs/cli.md), with a warning when REF's tag has moved on to a newer release since it was
// pulled (ReleaseNews.h).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "Reference.h"
#include "CloneBoot.h"
#include "LocalLayout.h"
#include "ReleaseNews.h"
#include "Transfer.h"
#include "TrustPolicy.h"
#include "Verb.h"
#include "ingot/core/Error.h"
#include "ingot/core/File.h"
#include "ingot/core/Size.h"
#include "ingot/image/Manifest.h"
#include "ingot/oci/Layout.h"
#include "ingot/sign/Minisign.h"
#include "ingot/store/Store.h"

namespace ingot::cli {
namespace {

namespace fs = std::filesystem;

struct RunOptions {
    std::string image;
    std::string name;
    std::optional<unsigned> cpus;
    std::string memory;
    bool remove = false;
    bool detach = false;
    bool allowExpired = false;
    bool allowRollback = false;
    std::string root;
    std::string trustFile;
    std::string statsJson;
    ResourceFlags resources;
};

int64_t monotonicNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Returns whether it pulled.
bool pullIfMissing(store::Store& store, const std::string& imageName,
                   const registry::TrustPolicy& trust, const RunOptions& o) {
    try {
        store.resolve(imageName);
        return false;
    } catch (const Error&) {
    }
    std::cerr << "ingot: " << imageName << " is not in the store; pulling it\n";
    store::StoreLock lock(store.root(), store::StoreLock::Mode::kShared);
    registry::TransferOptions transfer;
    transfer.freshness = {o.allowRollback, o.allowExpired};
    registry::Credentials credentials;
    const registry::Reference ref = registry::parseReference(imageName);
    const registry::PullReport report = registry::pullImage(
        ref, store.root(), imageName, trust, credentials.find(ref.registry), transfer);
    for (const std::string& note : report.notes) std::cerr << "ingot: " << printable(note) << "\n";
    return true;
}

std::string shortDigest(const std::string& digest) { return digest.substr(0, 19) + "…"; }

// Asks the registry (briefly) whether `imageName`'s tag has moved on since the store's image
// was pulled, and says so. The clone is still made from the store's image: replacing it is
// `ingot pull`'s job, done when the user asks.
void warnOfNewerRelease(const store::Store& store, const std::string& imageName,
                        const registry::TrustPolicy& trust, const RunOptions& o) {
    const std::optional<registry::Channel> channel = registry::channelOf(imageName);
    if (!channel) return;
    refreshDocuments({imageName}, trust, {o.allowRollback, o.allowExpired});
    const std::string digest = store.resolve(imageName);
    const auto newer = newerReleaseOfStored(cachedDocuments(), imageName, digest);
    if (!newer) return;
    std::string names;
    for (const std::string& tag : newer->tags) names += (names.empty() ? "" : ", ") + tag;
    names = names.empty() ? shortDigest(newer->digest)
                          : names + " (" + shortDigest(newer->digest) + ")";
    std::cerr << "ingot: " << printable(imageName) << ": a newer release is published: "
              << printable(channel->tag) << " now names " << printable(names)
              << "; this clone runs the image in the store (" << shortDigest(digest)
              << "); `ingot pull " << printable(imageName) << "` fetches it\n";
}

std::string generatedName(const registry::Reference& ref) {
    std::string base = ref.repository.substr(ref.repository.rfind('/') + 1);
    std::mt19937 random(std::random_device{}());
    char suffix[8];
    std::snprintf(suffix, sizeof suffix, "%04x", static_cast<unsigned>(random() & 0xffff));
    std::string name = base.substr(0, 50) + "-" + suffix;
    return store::isValidVmName(name) ? name : std::string("vm-") + suffix;
}

int runRun(const RunOptions& o) {
    store::Store store(o.root.empty() ? store::defaultRoot() : o.root);
    auto trust = registry::TrustPolicy::load(o.trustFile);
    std::string imageName;
    if (isLayoutPath(o.image)) {
        imageName = importLayout(store, parseLayoutPath(o.image));
        std::cerr << "ingot: " << o.image << " is " << imageName << " in the store\n";
    } else {
        imageName = registry::parseReference(o.image).str();
        if (!pullIfMissing(store, imageName, trust, o))
            warnOfNewerRelease(store, imageName, trust, o);
    }
    const registry::Reference ref = registry::parseReference(imageName);

    const std::string digest = store.resolve(imageName);
    const TrustedImage trusted = trustedImage(store, digest, imageName, trust);
    const image::Manifest manifest = image::parseManifest(trusted.image.manifestJson, imageName);
    const int64_t verifiedNs = monotonicNs();

    const std::string name = o.name.empty() ? generatedName(ref) : o.name;
    const unsigned cpus = o.cpus.value_or(static_cast<unsigned>(manifest.defaults.cpus));
    const uint64_t memory =
        o.memory.empty() ? manifest.defaults.memoryMiB << 20 : parseSize(o.memory);
    const store::Vm vm = store.createVm(name, imageName, cpus, memory);
    if (!o.statsJson.empty())
        std::cerr << "ingot: stages (CLOCK_MONOTONIC ns): verified=" << verifiedNs
                  << " cloned=" << monotonicNs() << "\n";
    return bootClone(store, vm, trusted.key, {o.detach, o.remove, o.statsJson, o.resources});
}

}  // namespace

Verb addRunVerb(CLI::App& app) {
    auto o = std::make_shared<RunOptions>();
    CLI::App* cmd = app.add_subcommand(
        "run", "boot a private copy-on-write clone of an image (pulled if not in the store)");
    cmd->add_option("IMAGE", o->image,
                    "REGISTRY/REPOSITORY[:TAG], e.g. localhost:5000/gold/debian:12, or the "
                    "path of a local image, DIR[:TAG] (what `ingot build -o DIR` wrote)")
        ->required();
    cmd->add_option("--name", o->name, "the clone's name (default: the repository's last part "
                                       "and four random hex digits)");
    cmd->add_option("--cpus", o->cpus, "vCPUs (default: the image's)")->check(CLI::Range(1u, 64u));
    cmd->add_option("--memory", o->memory, "memory, e.g. 512M or 2G (default: the image's)");
    cmd->add_flag("--rm", o->remove, "remove the clone when it stops");
    cmd->add_flag("-d,--detach", o->detach,
                  "run in the background and print the clone's name (`ingot console` attaches)");
    cmd->add_option("--stats-json", o->statsJson,
                    "have the monitor write its stats here when the clone stops (docs/vmm.md), "
                    "and print when the image was verified and the clone made");
    addResourceOptions(cmd, o->resources, true);
    cmd->add_flag("--allow-expired", o->allowExpired,
                  "when pulling or looking for a newer release, accept an expired freshness "
                  "document");
    cmd->add_flag("--allow-rollback", o->allowRollback,
                  "when pulling or looking for a newer release, accept a freshness document "
                  "older than one seen before");
    addStoreOption(cmd, o->root);
    cmd->add_option("--trust", o->trustFile,
                    "trust policy file (default: $XDG_CONFIG_HOME/ingot/trust.yaml)");
    return {cmd, [o] { return runRun(*o); }};
}

}  // namespace ingot::cli
