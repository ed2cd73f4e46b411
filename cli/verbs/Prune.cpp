// ingot prune [--all]: reclaim the store's space held by nothing (docs/cli.md).
#include <iostream>
#include <memory>

#include "Verb.h"
#include "ingot/core/Size.h"
#include "ingot/store/Store.h"

namespace ingot::cli {
namespace {

struct PruneOptions {
    std::string root;
    bool all = false;
};

int runPrune(const PruneOptions& o) {
    store::Store store(o.root.empty() ? store::defaultRoot() : o.root);
    store::PruneReport r = store.prune(o.all);
    std::cout << "removed " << r.imagesRemoved << " image(s), " << r.blobsRemoved << " blob(s), "
              << r.baseDisksRemoved << " base disk(s); freed " << formatSize(r.bytesFreed) << "\n";
    return 0;
}

}  // namespace

Verb addPruneVerb(CLI::App& app) {
    auto o = std::make_shared<PruneOptions>();
    CLI::App* cmd = app.add_subcommand(
        "prune", "remove blobs and base disks that no image or VM references");
    addStoreOption(cmd, o->root);
    cmd->add_flag("-a,--all", o->all, "also remove images that no VM uses");
    return {cmd, [o] { return runPrune(*o); }};
}

}  // namespace ingot::cli
