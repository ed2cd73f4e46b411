// ingot run REF [--name N] [--cpus N] [--memory SIZE] [--rm]: a private clone of a gold image,
// booted by ingot-vmm through ingot-fw with the console on this terminal (docs/cli.md).
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

    int status = 0;
    {
        store::VmLease lease = store.lease(name);
        pid_t child = ::fork();
        if (child < 0) throwSystemError("cannot start " + vmm, errno);
        if (child == 0) {
            std::vector<char*> args;
            for (std::string& a : argv) args.push_back(a.data());
            args.push_back(nullptr);
            ::execv(vmm.c_str(), args.data());
            std::perror(("ingot: cannot run " + vmm).c_str());
            ::_exit(127);
        }
        const std::string pidFile = dir + "/monitor.pid";
        writeFileAtomically(pidFile, std::to_string(child) + "\n");
        // The terminal's Ctrl-C reaches the monitor, which owns the VM's shutdown; this process
        // waits for it either way.
        ::signal(SIGINT, SIG_IGN);
        int wait = 0;
        while (::waitpid(child, &wait, 0) < 0 && errno == EINTR) {
        }
        ::signal(SIGINT, SIG_DFL);
        ::unlink(pidFile.c_str());
        status = WIFEXITED(wait) ? WEXITSTATUS(wait) : 128 + WTERMSIG(wait);
    }
    std::cerr << "ingot: " << name << " stopped (status " << status << ")";
    if (o.remove) {
        store.removeVm(name);
        std::cerr << "; removed";
    }
    std::cerr << "\n";
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
    cmd->add_option("--store", o->root, "the store (default: $XDG_DATA_HOME/ingot)");
    cmd->add_option("--trust", o->trustFile,
                    "trust policy file (default: $XDG_CONFIG_HOME/ingot/trust.yaml)");
    return {cmd, [o] { return runRun(*o); }};
}

}  // namespace ingot::cli
