// ingot update NAME [--cpu-max …] [--cpu-weight …] [--cpus-on …] [--memory-high …]
// [--memory-max …] [--balloon SIZE] [--force] [--json]: changes a running clone's resources
// without a restart, through its monitor's control socket (MonitorControl.h). The monitor
// applies them and answers with the limits now in force.
#include <iostream>
#include <memory>

#include "MonitorControl.h"
#include "ResourceFlags.h"
#include "Verb.h"
#include "ingot/core/Error.h"
#include "ingot/store/Store.h"

namespace ingot::cli {
namespace {

struct UpdateOptions {
    std::string name;
    ResourceFlags flags;
    bool force = false;
    bool json = false;
    std::string root;
};

int runUpdate(const UpdateOptions& o) {
    if (!o.flags.any())
        throw Error("nothing to change: give --cpu-max, --cpu-weight, --cpus-on, --memory-high, "
                    "--memory-max or --balloon",
                    ExitStatus::kUsage);
    store::Store store(o.root.empty() ? store::defaultRoot() : o.root);
    nlohmann::json request = updateRequest(o.flags);
    if (o.force) request["force"] = true;
    nlohmann::json answer = askMonitor(store, o.name, request);
    if (o.json) {
        std::cout << answer.dump(2) << "\n";
        return 0;
    }
    if (auto warnings = answer.find("warnings"); warnings != answer.end() && warnings->is_array())
        for (const auto& w : *warnings)
            if (w.is_string()) std::cerr << "ingot: " << o.name << ": " << printable(w.get<std::string>()) << "\n";
    if (auto in = answer.find("inForce"); in != answer.end() && in->is_object())
        for (const auto& [key, value] : in->items())
            std::cout << key << ": " << printable(value.is_string() ? value.get<std::string>() : value.dump()) << "\n";
    return 0;
}

}  // namespace

Verb addUpdateVerb(CLI::App& app) {
    auto o = std::make_shared<UpdateOptions>();
    CLI::App* cmd = app.add_subcommand(
        "update", "change a running clone's CPU, memory and balloon limits without a restart");
    cmd->add_option("NAME", o->name, "the clone")->required();
    addResourceOptions(cmd, o->flags, false);
    cmd->add_flag("--force", o->force,
                  "set --memory-max even below what the VM uses now (the kernel then reclaims "
                  "or OOM-kills the VM)");
    cmd->add_flag("--json", o->json, "print the monitor's answer as JSON");
    addStoreOption(cmd, o->root);
    return {cmd, [o] { return runUpdate(*o); }};
}

}  // namespace ingot::cli
