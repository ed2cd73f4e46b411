// ingot push DIR[:TAG] REF: an image from an OCI layout (what `ingot build` writes) to a
// registry, with its signature.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "LocalLayout.h"
#include "Transfer.h"
#include "Verb.h"
#include "ingot/core/Error.h"
#include "ingot/core/Size.h"

namespace ingot::cli {
namespace {

struct PushOptions {
    std::string source;
    std::string target;
    unsigned parallel = 4;
    bool plainHttp = false;
    bool insecure = false;
    bool json = false;
};

int runPush(const PushOptions& o) {
    const LayoutPath layout = parseLayoutPath(o.source);
    registry::Reference target = registry::parseReference(o.target);
    registry::TransferOptions options;
    options.parallel = o.parallel;
    if (o.plainHttp) options.session.plainHttp = true;
    options.session.verifyTls = !o.insecure;
    registry::Credentials credentials;
    auto report = registry::pushImage(layout.dir, layout.tag, target, credentials.find(target.registry), options);
    if (o.json) {
        // The byte counters exactly, for scripts (bench/rollout compares a night with a full push).
        std::cout << nlohmann::json{{"reference", target.str()},
                                    {"digest", report.digest},
                                    {"blobs", report.blobs},
                                    {"blobsSkipped", report.blobsSkipped},
                                    {"bytesUploaded", report.bytesUploaded},
                                    {"requests", report.requests}}
                         .dump(2)
                  << "\n";
        return 0;
    }
    std::cout << "pushed " << target.str() << "@" << report.digest << ": " << report.blobs
              << " blobs, " << report.blobsSkipped << " already there, "
              << formatSize(report.bytesUploaded)
              << " uploaded, signature as referrer and tag\n";
    return 0;
}

}  // namespace

Verb addPushVerb(CLI::App& app) {
    auto o = std::make_shared<PushOptions>();
    CLI::App* cmd = app.add_subcommand("push", "push an image and its signature to a registry");
    cmd->add_option("LAYOUT", o->source, "DIR[:TAG]: the OCI layout `ingot build -o DIR` wrote (DIR or DIR/oci); "
                    "TAG may be left out when it holds one image")
        ->required();
    cmd->add_option("REF", o->target, "REGISTRY/REPOSITORY:TAG, e.g. localhost:5000/gold/debian:12")
        ->required();
    cmd->add_option("--parallel", o->parallel, "blobs uploaded at once")
        ->capture_default_str()
        ->check(CLI::Range(1u, 64u));
    cmd->add_flag("--plain-http", o->plainHttp, "use http even for a registry that is not loopback");
    cmd->add_flag("--insecure", o->insecure, "do not verify the registry's TLS certificate");
    cmd->add_flag("--json", o->json, "print what was pushed as one JSON document");
    return {cmd, [o] { return runPush(*o); }};
}

}  // namespace ingot::cli
