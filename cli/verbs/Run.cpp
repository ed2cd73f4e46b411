// ingot run REF [--name N] [--cpus N] [--memory SIZE] [--rm] [-d]: a private clone of a gold
// image (pulled when missing), booted as CloneBoot.h says (docs/cli.md).
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "Reference.h"
#include "CloneBoot.h"
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
};

std::string generatedName(const registry::Reference& ref) {
    std::string base = ref.repository.substr(ref.repository.rfind('/') + 1);
    std::mt19937 random(std::random_device{}());
    char suffix[8];
    std::snprintf(suffix, sizeof suffix, "%04x", static_cast<unsigned>(random() & 0xffff));
    std::string name = base.substr(0, 50) + "-" + suffix;
    return store::isValidVmName(name) ? name : std::string("vm-") + suffix;
}

int runRun(const RunOptions& o) {
    registry::Reference ref = registry::parseReference(o.image);
    store::Store store(o.root.empty() ? store::defaultRoot() : o.root);
    const std::string imageName = ref.str();
    auto trust = registry::TrustPolicy::load(o.trustFile);

    bool present = true;
    try {
        store.resolve(imageName);
    } catch (const Error&) {
        present = false;
    }
    if (!present) {
        std::cerr << "ingot: " << imageName << " is not in the store; pulling it\n";
        store::StoreLock lock(store.root(), store::StoreLock::Mode::kShared);
        registry::TransferOptions transfer;
        transfer.freshness = {o.allowRollback, o.allowExpired};
        registry::Credentials credentials;
        registry::pullImage(ref, store.root(), imageName, trust,
                            credentials.find(ref.registry), transfer);
    }
    const std::string digest = store.resolve(imageName);
    const sign::MinisignPublicKey key = trustedSigner(store, digest, imageName, trust);
    const image::Manifest manifest =
        image::parseManifest(oci::readImage(store.root(), digest).manifestJson, imageName);

    const std::string name = o.name.empty() ? generatedName(ref) : o.name;
    const unsigned cpus = o.cpus.value_or(static_cast<unsigned>(manifest.defaults.cpus));
    const uint64_t memory =
        o.memory.empty() ? manifest.defaults.memoryMiB << 20 : parseSize(o.memory);
    const store::Vm vm = store.createVm(name, imageName, cpus, memory);
    return bootClone(store, vm, key, {o.detach, o.remove});
}

}  // namespace

Verb addRunVerb(CLI::App& app) {
    auto o = std::make_shared<RunOptions>();
    CLI::App* cmd = app.add_subcommand(
        "run", "boot a private copy-on-write clone of an image (pulled if not in the store)");
    cmd->add_option("IMAGE", o->image, "REGISTRY/REPOSITORY[:TAG], e.g. localhost:5000/gold/debian:12")
        ->required();
    cmd->add_option("--name", o->name, "the clone's name (default: the repository's last part "
                                       "and four random hex digits)");
    cmd->add_option("--cpus", o->cpus, "vCPUs (default: the image's)")->check(CLI::Range(1u, 64u));
    cmd->add_option("--memory", o->memory, "memory, e.g. 512M or 2G (default: the image's)");
    cmd->add_flag("--rm", o->remove, "remove the clone when it stops");
    cmd->add_flag("-d,--detach", o->detach,
                  "run in the background and print the clone's name (`ingot console` attaches)");
    cmd->add_flag("--allow-expired", o->allowExpired,
                  "when pulling, accept an expired freshness document");
    cmd->add_flag("--allow-rollback", o->allowRollback,
                  "when pulling, accept a freshness document older than one seen before");
    addStoreOption(cmd, o->root);
    cmd->add_option("--trust", o->trustFile,
                    "trust policy file (default: $XDG_CONFIG_HOME/ingot/trust.yaml)");
    return {cmd, [o] { return runRun(*o); }};
}

}  // namespace ingot::cli
