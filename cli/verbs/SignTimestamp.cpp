// ingot sign-timestamp REGISTRY/REPOSITORY --key KEY: signs and pushes the repository's
// freshness document (registry/client/Freshness.h): its tags and their digests now, a version
// one higher than the last, and an expiry. The nightly rollout runs it whether or not anything
// changed, so clients can tell a quiet night from a frozen registry.
#include <charconv>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>

#include "Freshness.h"
#include "Verb.h"
#include "ingot/core/Size.h"
#include "ingot/core/Error.h"
#include "ingot/sign/Minisign.h"

namespace ingot::cli {
namespace {

struct SignTimestampOptions {
    std::string repository;
    std::string key;
    std::string valid = "7d";
    uint64_t version = 0;
    bool plainHttp = false;
    bool insecure = false;
};

int runSignTimestamp(const SignTimestampOptions& o) {
    registry::Reference ref = registry::parseReference(o.repository);
    sign::MinisignSecretKey key = sign::readSecretKeyFile(o.key);
    registry::SessionOptions options;
    if (o.plainHttp) options.plainHttp = true;
    options.verifyTls = !o.insecure;
    registry::Credentials credentials;
    registry::RegistrySession session(ref, credentials.find(ref.registry), options);
    auto d = registry::publishTimestamp(session, key, parseDuration(o.valid, "--valid"),
                                        o.version ? std::optional<uint64_t>(o.version) : std::nullopt);
    std::time_t expires = static_cast<std::time_t>(d.expires);
    char when[32] = "?";
    std::tm tm{};
    if (::gmtime_r(&expires, &tm)) std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::cout << "signed " << d.repository << " " << registry::kTimestampTag << " version "
              << d.version << ", " << d.tags.size() << " tags, expires " << when << " (key "
              << sign::formatKeyId(key.keyId) << ")\n";
    return 0;
}

}  // namespace

Verb addSignTimestampVerb(CLI::App& app) {
    auto o = std::make_shared<SignTimestampOptions>();
    CLI::App* cmd = app.add_subcommand("sign-timestamp",
                                       "sign and push a repository's freshness document");
    cmd->add_option("REPOSITORY", o->repository, "REGISTRY/REPOSITORY")->required();
    cmd->add_option("--key", o->key, "minisign secret key (the timestamp key)")->required();
    cmd->add_option("--valid", o->valid, "how long clients accept it")->capture_default_str();
    cmd->add_option("--version", o->version, "version to sign (default: one more than the last)");
    cmd->add_flag("--plain-http", o->plainHttp, "use http even for a registry that is not loopback");
    cmd->add_flag("--insecure", o->insecure, "do not verify the registry's TLS certificate");
    return {cmd, [o] { return runSignTimestamp(*o); }};
}

}  // namespace ingot::cli
