// ingot trust add KEY.pub [--for PATTERN]: trusts a minisign key to sign images from the
// registries and repositories PATTERN matches (default: everywhere).
#include <iostream>
#include <memory>
#include <string>

#include "TrustPolicy.h"
#include "Verb.h"
#include "ingot/sign/Minisign.h"

namespace ingot::cli {
namespace {

struct TrustAddOptions {
    std::string key;
    std::string pattern = "*";
    std::string trustFile;
};

int runTrustAdd(const TrustAddOptions& o) {
    sign::MinisignPublicKey key = sign::readPublicKeyFile(o.key);
    auto policy = registry::TrustPolicy::load(o.trustFile);
    policy.add(o.pattern, key);
    std::cout << "trusting key " << sign::formatKeyId(key.keyId) << " for " << o.pattern << " ("
              << policy.path() << ")\n";
    return 0;
}

}  // namespace

Verb addTrustAddVerb(CLI::App& app) {
    auto o = std::make_shared<TrustAddOptions>();
    CLI::App* cmd = verbGroup(app, "trust", "manage which keys sign images from where")
                        .add_subcommand("add", "trust a minisign public key");
    cmd->add_option("KEY", o->key, "minisign public key file")->required();
    cmd->add_option("--for", o->pattern,
                    "REGISTRY/REPOSITORY pattern where the key signs ('*' matches anything)")
        ->capture_default_str();
    cmd->add_option("--trust", o->trustFile,
                    "trust policy file (default: $XDG_CONFIG_HOME/ingot/trust.yaml)");
    return {cmd, [o] { return runTrustAdd(*o); }};
}

}  // namespace ingot::cli
