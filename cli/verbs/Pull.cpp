// ingot pull REF [--layout DIR] [--tag TAG]: an image from a registry into an OCI layout, after
// its signature verified against the trust policy.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "Transfer.h"
#include "Verb.h"
#include "ingot/core/Error.h"
#include "ingot/core/Size.h"
#include "ingot/store/Store.h"

namespace ingot::cli {
namespace {

struct PullOptions {
    std::string source;
    std::string layout;
    std::string tag;
    std::string trustFile;
    unsigned parallel = 4;
    bool plainHttp = false;
    bool insecure = false;
    bool allowRollback = false;
    bool allowExpired = false;
    bool json = false;
};

int runPull(const PullOptions& o) {
    registry::Reference source = registry::parseReference(o.source);
    const std::string layout = o.layout.empty() ? store::defaultRoot() : o.layout;
    // The store tags an image by where it came from, so two registries' "12" never collide and
    // `ingot run` finds it by the reference the user typed; another layout gets the plain tag.
    const std::string tag = !o.tag.empty()        ? o.tag
                            : o.layout.empty()    ? source.str()
                            : !source.tag.empty() ? source.tag
                                                  : "latest";
    std::optional<store::Store> local;
    std::optional<store::StoreLock> lock;
    if (o.layout.empty()) {
        local.emplace(layout);
        // Shared: a prune waits until the pull's blobs are tagged.
        lock.emplace(layout, store::StoreLock::Mode::kShared);
    }
    registry::TransferOptions options;
    options.parallel = o.parallel;
    if (o.plainHttp) options.session.plainHttp = true;
    options.session.verifyTls = !o.insecure;
    options.freshness = {o.allowRollback, o.allowExpired};
    registry::Credentials credentials;
    auto trust = registry::TrustPolicy::load(o.trustFile);
    auto report =
        registry::pullImage(source, layout, tag, trust, credentials.find(source.registry), options);
    if (o.json) {
        // The byte counters exactly, for scripts (a rollout's test checks what a patch costs).
        nlohmann::json doc = {
            {"reference", source.str()},
            {"digest", report.digest},
            {"keyId", report.keyId},
            {"layout", layout},
            {"tag", tag},
            {"blobs", report.blobs},
            {"blobsPresent", report.blobsPresent},
            {"bytesDownloaded", report.bytesDownloaded},
            {"requests", report.requests},
            {"freshnessVersion", report.timestamp ? nlohmann::json(report.timestamp->version)
                                                  : nlohmann::json(nullptr)}};
        std::cout << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
        std::cout << "pulled " << source.str() << "@" << report.digest << " into " << layout << ":"
                  << tag << ": signed by key " << report.keyId << " (\""
                  << printable(report.trustedComment) << "\"); " << report.blobs << " chunks, "
                  << report.blobsPresent << " already present, "
                  << formatSize(report.bytesDownloaded) << " downloaded";
        if (report.timestamp) std::cout << "; freshness version " << report.timestamp->version;
        std::cout << "\n";
    }
    for (const std::string& note : report.notes) std::cerr << "ingot: " << printable(note) << "\n";
    return 0;
}

}  // namespace

Verb addPullVerb(CLI::App& app) {
    auto o = std::make_shared<PullOptions>();
    CLI::App* cmd = app.add_subcommand("pull", "pull a signed image from a registry");
    cmd->add_option("REF", o->source, "REGISTRY/REPOSITORY[:TAG][@DIGEST]")->required();
    cmd->add_option("--layout", o->layout,
                    "OCI layout to pull into (default: the store, $XDG_DATA_HOME/ingot)");
    cmd->add_option(
        "--tag", o->tag,
        "tag in the layout (default: the whole reference in the store, its tag in another layout)");
    cmd->add_option("--trust", o->trustFile,
                    "trust policy file (default: $XDG_CONFIG_HOME/ingot/trust.yaml)");
    cmd->add_option("--parallel", o->parallel, "blobs downloaded at once")
        ->capture_default_str()
        ->check(CLI::Range(1u, 64u));
    cmd->add_flag("--allow-rollback", o->allowRollback,
                  "accept a freshness document older than one seen before");
    cmd->add_flag("--allow-expired", o->allowExpired, "accept an expired freshness document");
    cmd->add_flag("--json", o->json, "print what was pulled as one JSON document");
    cmd->add_flag("--plain-http", o->plainHttp,
                  "use http even for a registry that is not loopback");
    cmd->add_flag("--insecure", o->insecure, "do not verify the registry's TLS certificate");
    return {cmd, [o] { return runPull(*o); }};
}

}  // namespace ingot::cli
