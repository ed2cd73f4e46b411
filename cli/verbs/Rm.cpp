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
    return forEachName(o.names, [&](const std::string& name) { store.removeVm(name); });
}

}  // namespace

Verb addRmVerb(CLI::App& app) {
    auto o = std::make_shared<RmOptions>();
    CLI::App* cmd = app.add_subcommand("rm", "remove clones (their overlays and records)");
    cmd->add_option("NAME", o->names, "clone names")->required();
    addStoreOption(cmd, o->root);
    return {cmd, [o] { return runRm(*o); }};
}

}  // namespace ingot::cli
