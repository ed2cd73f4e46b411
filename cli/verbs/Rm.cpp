// ingot rm NAME...: delete clones, overlay and all; a running clone is refused.
#include <iostream>
#include <memory>
#include <optional>
#include <vector>

#include "Verb.h"
#include "ingot/core/Error.h"
#include "ingot/store/Store.h"

namespace ingot::cli {
namespace {

struct RmOptions {
    std::vector<std::string> names;
    std::string root;
};

int runRm(const RmOptions& o) {
    store::Store store(o.root.empty() ? store::defaultRoot() : o.root);
    // Every name is tried; the first failure decides the exit status, as `docker rm` does.
    std::optional<ExitStatus> failure;
    for (const std::string& name : o.names) {
        try {
            store.removeVm(name);
            std::cout << name << "\n";
        } catch (const Error& e) {
            std::cerr << "ingot: " << e.what() << "\n";
            if (!failure) failure = e.status();
        }
    }
    return failure ? static_cast<int>(*failure) : 0;
}

}  // namespace

Verb addRmVerb(CLI::App& app) {
    auto o = std::make_shared<RmOptions>();
    CLI::App* cmd = app.add_subcommand("rm", "remove clones (their overlays and records)");
    cmd->add_option("NAME", o->names, "clone names")->required();
    cmd->add_option("--store", o->root, "the store (default: $XDG_DATA_HOME/ingot)");
    return {cmd, [o] { return runRm(*o); }};
}

}  // namespace ingot::cli
