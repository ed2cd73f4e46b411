// ingot run REF [--name N] [--cpus N] [--memory SIZE] [--rm] [-d]: a private clone of a gold
// image, booted by ingot-vmm through ingot-fw under a supervisor (console/VmSupervisor.h), with
// the console on this terminal unless detached (docs/cli.md).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "Reference.h"
#include "console/ConsoleClient.h"
#include "console/VmSupervisor.h"
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

// $VARIABLE when set, else the first of `candidates` (relative to the directory of this
// executable: the install's bin/ and lib/ingot/, or the build tree) that exists.
std::string findTool(const char* variable, const std::vector<std::string>& candidates) {
    if (const char* set = std::getenv(variable); set && *set) return set;
    std::error_code ignored;
    fs::path self = fs::read_symlink("/proc/self/exe", ignored).parent_path();
    for (const std::string& candidate : candidates)
        if (fs::exists(self / candidate)) return (self / candidate).lexically_normal().string();
    throw Error(std::string("cannot find ") + fs::path(candidates.front()).filename().string() +
                    " next to ingot; set " + variable + " to its path",
                ExitStatus::kUsage);
}

std::string generatedName(const registry::Reference& ref) {
    std::string base = ref.repository.substr(ref.repository.rfind('/') + 1);
    std::mt19937 random(std::random_device{}());
    char suffix[8];
    std::snprintf(suffix, sizeof suffix, "%04x", static_cast<unsigned>(random() & 0xffff));
    std::string name = base.substr(0, 50) + "-" + suffix;
    return store::isValidVmName(name) ? name : std::string("vm-") + suffix;
}

// The key that signed image `digest` in the store, after checking that signature again against
// the trust policy: the store is a directory anyone with the user's rights can edit.
sign::MinisignPublicKey trustedSigner(const store::Store& store, const std::string& digest,
                                      const registry::Reference& ref,
                                      const registry::TrustPolicy& trust) {
    oci::LayoutImage image = oci::readImage(store.root(), digest);
    const std::string minisig = oci::readSignature(store.root(), digest);
    auto info = sign::describeMinisign(minisig);
    for (const auto& key : trust.keysFor(ref.location())) {
        if (!info.keyId || key.keyId != *info.keyId) continue;
        sign::verifyMinisign(key, image.manifestJson, minisig, ref.str() + " signature");
        return key;
    }
    throw Error(ref.str() + " is not signed by a trusted key (the signature's key id is " +
                    (info.keyId ? sign::formatKeyId(*info.keyId) : std::string("unknown")) +
                    "); trust it with `ingot trust add KEY.pub --for " + ref.location() + "`",
                ExitStatus::kVerification);
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
    const sign::MinisignPublicKey key = trustedSigner(store, digest, ref, trust);
    const image::Manifest manifest =
        image::parseManifest(oci::readImage(store.root(), digest).manifestJson, imageName);

    const std::string name = o.name.empty() ? generatedName(ref) : o.name;
    const unsigned cpus = o.cpus.value_or(static_cast<unsigned>(manifest.defaults.cpus));
    const uint64_t memory =
        o.memory.empty() ? manifest.defaults.memoryMiB << 20 : parseSize(o.memory);
    store.createVm(name, imageName, cpus, memory);
    const std::string dir = store.vmDir(name);
    const std::string keyFile = dir + "/trusted.pub";
    sign::writePublicKeyFile(keyFile, key);

    const std::string vmm = findTool("INGOT_VMM", {"ingot-vmm", "../vmm/ingot-vmm"});
    const std::string firmware = findTool(
        "INGOT_FIRMWARE", {"../lib/ingot/ingot-fw.elf", "ingot-fw.elf", "../firmware/ingot-fw.elf"});
    std::vector<std::string> argv = {vmm,
                                     "--firmware", firmware,
                                     "--initrd", keyFile,
                                     "--trust", keyFile,
                                     "--disk", store.baseDisk(digest) + ",overlay=" + store.overlayPath(name),
                                     "--cpus", std::to_string(cpus),
                                     "--memory", std::to_string(memory >> 20) + "M",
                                     "--rng"};
    std::cerr << "ingot: " << name << ": a clone of " << imageName << " (" << digest.substr(0, 19)
              << "…, signed by " << sign::formatKeyId(key.keyId) << "), " << cpus << " vCPU(s), "
              << formatSize(memory) << "\n";

    console::SupervisedVm supervised{store.root(), name, dir, argv, o.remove, !o.detach};
    console::Supervisor supervisor = console::Supervisor::start(supervised);
    if (o.detach) {
        std::cout << name << "\n";
        return 0;
    }
    int socket = console::connectConsole(dir, name);
    std::cerr << "ingot: attached to " << name << "'s console; Ctrl-] detaches\n";
    // A signal here (Ctrl-C when stdin is not a terminal, a kill) stops the clone the way
    // `ingot stop` does; the console goes on until the monitor has exited.
    auto end = console::attachConsole(socket, [&] {
        if (int pid = store.state(name).monitorPid) ::kill(pid, SIGTERM);
    });
    if (end == console::AttachEnd::kDetached) {
        std::cerr << "\ningot: detached from " << name << "; it runs on: `ingot console " << name
                  << "` re-attaches, `ingot stop " << name << "` stops it\n";
        return 0;
    }
    int status = supervisor.waitForExit();
    std::cerr << "ingot: " << name << " stopped (status " << status << ")"
              << (o.remove ? "; removed" : "") << "\n";
    return status;
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
