// ingot start NAME [-a] [resource flags]: boot a stopped clone again, its disk as it was left: detached, or with
// the console on this terminal (-a). The image's signature is checked again first, as at run.
#include <memory>

#include "CloneBoot.h"
#include "Verb.h"
#include "ingot/core/Error.h"
#include "ingot/store/Store.h"

namespace ingot::cli {
namespace {

struct StartOptions {
    std::string name;
    bool attach = false;
    std::string root;
    std::string trustFile;
    ResourceFlags resources;
};

int runStart(const StartOptions& o) {
    store::Store store(o.root.empty() ? store::defaultRoot() : o.root);
    const store::Vm vm = store.vm(o.name);
    if (store.state(o.name).running)
        throw Error(o.name + " is running already (`ingot console " + o.name + "` attaches)",
                    ExitStatus::kUsage);
    const auto trust = registry::TrustPolicy::load(o.trustFile);
    const auto trusted = trustedImage(store, vm.digest, vm.image, trust);
    return bootClone(store, vm, trusted.key, {!o.attach, false, {}, o.resources});
}

}  // namespace

Verb addStartVerb(CLI::App& app) {
    auto o = std::make_shared<StartOptions>();
    CLI::App* cmd = app.add_subcommand("start", "boot a stopped clone again, its disk as it was left");
    cmd->add_option("NAME", o->name, "clone name")->required();
    cmd->add_flag("-a,--attach", o->attach, "attach this terminal to its console (Ctrl-] detaches)");
    addResourceOptions(cmd, o->resources, true);
    addStoreOption(cmd, o->root);
    cmd->add_option("--trust", o->trustFile,
                    "trust policy file (default: $XDG_CONFIG_HOME/ingot/trust.yaml)");
    return {cmd, [o] { return runStart(*o); }};
}

}  // namespace ingot::cli
