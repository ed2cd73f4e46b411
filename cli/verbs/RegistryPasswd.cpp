// ingot registry passwd: reads a password from stdin and prints its PBKDF2-SHA256 hash for the
// "users" object of a `registry serve --auth` file (docs/registry.md, "Access control"). The
// password is read from stdin, not the command line, so it stays out of ps and shell history.
#include <iostream>
#include <memory>
#include <string>

#include "Verb.h"
#include "ingot/core/Error.h"
#include "server/Access.h"

namespace ingot::cli {

Verb addRegistryPasswdVerb(CLI::App& app) {
    auto iterations = std::make_shared<uint32_t>(200000);
    CLI::App& group = verbGroup(app, "registry", "run an OCI distribution registry");
    CLI::App* passwd = group.add_subcommand(
        "passwd", "hash a password read from stdin for the users of a --auth file");
    passwd->add_option("--iterations", *iterations, "PBKDF2 iterations")
        ->check(CLI::Range(1000u, 10000000u))
        ->capture_default_str();
    return {passwd, [iterations] {
                std::string password;
                if (!std::getline(std::cin, password) || password.empty())
                    throw Error("no password on stdin", ExitStatus::kUsage);
                if (!password.empty() && password.back() == '\r') password.pop_back();
                std::cout << registry::hashPassword(password, *iterations) << "\n";
                return 0;
            }};
}

}  // namespace ingot::cli
