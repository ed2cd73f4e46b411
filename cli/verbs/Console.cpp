// ingot console NAME: attach this terminal to a running clone's console; Ctrl-] detaches.
#include <iostream>
#include <memory>

#include "Verb.h"
#include "console/ConsoleClient.h"
#include "console/VmSupervisor.h"
#include "ingot/store/Store.h"

namespace ingot::cli {
namespace {

struct ConsoleOptions {
    std::string name;
    std::string root;
};

int runConsole(const ConsoleOptions& o) {
    store::Store store(o.root.empty() ? store::defaultRoot() : o.root);
    store.vm(o.name);
    int socket = console::connectConsole(store.vmDir(o.name), o.name);
    std::cerr << "ingot: attached to " << o.name << "'s console; Ctrl-] detaches\n";
    if (console::attachConsole(socket) == console::AttachEnd::kDetached)
        std::cerr << "\ningot: detached from " << o.name << "\n";
    else
        std::cerr << "\ningot: " << o.name << " stopped\n";
    return 0;
}

}  // namespace

Verb addConsoleVerb(CLI::App& app) {
    auto o = std::make_shared<ConsoleOptions>();
    CLI::App* cmd = app.add_subcommand(
        "console", "attach to a running clone's console (Ctrl-] detaches)");
    cmd->add_option("NAME", o->name, "clone name")->required();
    addStoreOption(cmd, o->root);
    return {cmd, [o] { return runConsole(*o); }};
}

}  // namespace ingot::cli
