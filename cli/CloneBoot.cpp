#include "CloneBoot.h"

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <utility>
#include <iostream>
#include <vector>

#include "MonitorControl.h"
#include "Reference.h"
#include "console/ConsoleClient.h"
#include "console/VmSupervisor.h"
#include "ingot/core/Error.h"
#include "ingot/core/Size.h"
#include "ingot/oci/Layout.h"

namespace ingot::cli {

namespace fs = std::filesystem;

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


TrustedImage trustedImage(const store::Store& store, const std::string& digest,
                          const std::string& imageName, const registry::TrustPolicy& trust) {
    const registry::Reference ref = registry::parseReference(imageName);
    oci::LayoutImage image = oci::readImage(store.root(), digest);
    const std::string minisig = oci::readSignature(store.root(), digest);
    auto info = sign::describeMinisign(minisig);
    for (const auto& key : trust.keysFor(ref.location())) {
        if (!info.keyId || key.keyId != *info.keyId) continue;
        sign::verifyMinisign(key, image.manifestJson, minisig, ref.str() + " signature");
        return {std::move(image), key};
    }
    throw Error(ref.str() + " is not signed by a trusted key (the signature's key id is " +
                    (info.keyId ? sign::formatKeyId(*info.keyId) : std::string("unknown")) +
                    "); trust it with `ingot trust add KEY.pub --for " + ref.location() + "`",
                ExitStatus::kVerification);
}

int bootClone(store::Store& store, const store::Vm& vm, const sign::MinisignPublicKey& key,
              const BootOptions& options) {
    const std::string& name = vm.name;
    const std::string dir = store.vmDir(name);
    const std::string keyFile = dir + "/trusted.pub";
    sign::writePublicKeyFile(keyFile, key);

    const std::string vmm = findMonitor();
    const std::string firmware = findTool(
        "INGOT_FIRMWARE", {"../lib/ingot/ingot-fw.elf", "ingot-fw.elf", "../firmware/ingot-fw.elf"});
    std::vector<std::string> argv = {vmm,
                                     "--firmware", firmware,
                                     "--initrd", keyFile,
                                     "--trust", keyFile,
                                     "--disk", store.baseDisk(vm.digest) + ",overlay=" + store.overlayPath(name),
                                     "--cpus", std::to_string(vm.cpus),
                                     "--memory", std::to_string(vm.memoryBytes >> 20) + "M",
                                     "--rng",
                                     // The agent's channel and the balloon, for `ingot stats`
                                     // and `ingot update`, which reach the monitor here.
                                     "--agent", "--balloon",
                                     "--control", controlSocketName(dir),
                                     "--name", monitorName(dir, name)};
    for (std::string& arg : monitorArguments(options.resources)) argv.push_back(std::move(arg));
    if (!options.statsJson.empty()) {
        argv.push_back("--stats-json");
        argv.push_back(fs::absolute(options.statsJson).string());  // the supervisor may chdir
    }
    std::cerr << "ingot: " << name << ": a clone of " << vm.image << " ("
              << vm.digest.substr(0, 19) << "…, signed by " << sign::formatKeyId(key.keyId)
              << "), " << vm.cpus << " vCPU(s), " << formatSize(vm.memoryBytes) << "\n";

    console::SupervisedVm supervised{store.root(), name, dir, argv, options.remove,
                                     !options.detach};
    console::Supervisor supervisor = console::Supervisor::start(supervised);
    if (options.detach) {
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
              << (options.remove ? "; removed" : "") << "\n";
    return status;
}

}  // namespace ingot::cli
