// ingot login REGISTRY [-u USER] [--password-stdin]: checks a login against the registry and
// stores it ($XDG_CONFIG_HOME/ingot/auth.json, mode 0600) for push and pull.
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <memory>
#include <string>

#include "Credentials.h"
#include "RegistrySession.h"
#include "Verb.h"
#include "ingot/core/Error.h"

namespace ingot::cli {
namespace {

struct LoginOptions {
    std::string registry;
    std::string username;
    bool passwordStdin = false;
    bool plainHttp = false;
    bool insecure = false;
};

std::string readPassword(bool fromStdin) {
    std::string password;
    if (fromStdin || !::isatty(STDIN_FILENO)) {
        std::getline(std::cin, password);
        return password;
    }
    std::cerr << "Password: " << std::flush;
    termios saved{};
    ::tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::getline(std::cin, password);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
    return password;
}

int runLogin(const LoginOptions& o) {
    if (o.username.empty()) throw Error("login: give the user name with -u", ExitStatus::kUsage);
    registry::Credential credential{o.username, readPassword(o.passwordStdin)};
    if (credential.password.empty()) throw Error("login: empty password", ExitStatus::kUsage);
    // Checked before it is stored: GET /v2/ with the login (through the token service if the
    // registry has one), for a repository name that only serves the scope.
    registry::Reference ref = registry::parseReference(o.registry + "/ingot-login-check");
    registry::SessionOptions options;
    if (o.plainHttp) options.plainHttp = true;
    options.verifyTls = !o.insecure;
    registry::RegistrySession session(ref, credential, options);
    session.ping();
    registry::Credentials credentials;
    credentials.store(ref.registry, credential);
    std::cout << "logged in to " << ref.registry << " as " << credential.username << " (stored in "
              << credentials.path() << ")\n";
    return 0;
}

}  // namespace

Verb addLoginVerb(CLI::App& app) {
    auto o = std::make_shared<LoginOptions>();
    CLI::App* cmd = app.add_subcommand("login", "log in to a registry and remember the login");
    cmd->add_option("REGISTRY", o->registry, "host[:port]")->required();
    cmd->add_option("-u,--username", o->username, "user name");
    cmd->add_flag("--password-stdin", o->passwordStdin, "read the password from standard input");
    cmd->add_flag("--plain-http", o->plainHttp, "use http even for a registry that is not loopback");
    cmd->add_flag("--insecure", o->insecure, "do not verify the registry's TLS certificate");
    return {cmd, [o] { return runLogin(*o); }};
}

}  // namespace ingot::cli
