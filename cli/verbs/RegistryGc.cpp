// ingot registry gc --root DIR: one garbage collection of a registry that no server is running on
// (a running server collects online; see docs/registry.md, "Garbage collection").
#include <iostream>
#include <memory>
#include <string>

#include "Verb.h"
#include "server/GarbageCollector.h"
#include "server/RegistryService.h"

namespace ingot::cli {
namespace {

struct GcOptions {
    std::string root;
    int64_t graceSeconds = 3600;
};

int runGc(const GcOptions& options) {
    registry::RootLock lock(options.root);
    registry::Storage storage(options.root);
    registry::Uploads uploads(storage);
    registry::CollectionReport report =
        registry::collectGarbage(storage, uploads, options.graceSeconds);
    std::cout << "deleted " << report.blobsDeleted << " blob(s) (" << report.bytesDeleted
              << " bytes), kept " << report.blobsKept << ", removed " << report.uploadsRemoved
              << " stale upload(s)\n";
    return 0;
}

}  // namespace

Verb addRegistryGcVerb(CLI::App& app) {
    auto options = std::make_shared<GcOptions>();
    CLI::App& group = verbGroup(app, "registry", "run an OCI distribution registry");
    CLI::App* gc = group.add_subcommand(
        "gc", "delete blobs no manifest references (the server must not be running)");
    gc->add_option("--root", options->root, "directory holding the registry's content")->required();
    gc->add_option("--grace", options->graceSeconds,
                   "keep blobs and uploads touched within this many seconds")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    return {gc, [options] { return runGc(*options); }};
}

}  // namespace ingot::cli
