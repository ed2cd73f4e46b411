// ingot key gen NAME [--dir DIR] [--force]: a new minisign key pair for signing images.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <memory>
#include <string>

#include "Verb.h"
#include "ingot/core/Error.h"
#include "ingot/sign/Minisign.h"

namespace ingot::cli {
namespace {

struct KeyGenOptions {
    std::string name;
    std::string dir = ".";
    bool force = false;
};

void refuseExisting(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0)
        throw Error(path + " already exists; choose another name or pass --force to replace it",
                    ExitStatus::kUsage);
}

int runKeyGen(const KeyGenOptions& options) {
    if (options.name.empty() || options.name.find('/') != std::string::npos)
        throw Error(
            "key name '" + options.name + "' must be non-empty and contain no '/' (use --dir)",
            ExitStatus::kUsage);
    struct stat st {};
    if (::stat(options.dir.c_str(), &st) < 0 || !S_ISDIR(st.st_mode))
        throw Error("--dir " + options.dir + " is not a directory", ExitStatus::kUsage);
    std::string base = options.dir + "/" + options.name;
    std::string publicPath = base + ".pub", secretPath = base + ".key";
    sign::KeyFileReplace replace =
        options.force ? sign::KeyFileReplace::kAllow : sign::KeyFileReplace::kRefuse;
    // Checked up front for a clear message before anything is written; the writes below refuse
    // on their own too, so a file appearing in between is still never replaced.
    if (!options.force) {
        refuseExisting(secretPath);
        refuseExisting(publicPath);
    }

    sign::MinisignSecretKey key = sign::generateMinisignKey();
    sign::writeSecretKeyFile(secretPath, key, replace);
    try {
        sign::writePublicKeyFile(publicPath, key.publicPart(), replace);
    } catch (...) {
        // A secret key without its public half is useless and must not linger.
        ::unlink(secretPath.c_str());
        throw;
    }

    std::string publicText = sign::formatPublicKey(key.publicPart());
    std::string publicLine = publicText.substr(publicText.find('\n') + 1);
    publicLine.pop_back();
    std::cout << "key id:     " << sign::formatKeyId(key.keyId) << "\n"
              << "public key: " << publicLine << "\n"
              << "wrote " << publicPath << " (public: give it to whoever verifies images)\n"
              << "wrote " << secretPath << " (secret, mode 0600, unencrypted: keep it private)\n";
    return 0;
}

}  // namespace

Verb addKeyGenVerb(CLI::App& app) {
    auto options = std::make_shared<KeyGenOptions>();
    CLI::App& key = verbGroup(app, "key", "manage minisign signing keys");
    CLI::App* gen = key.add_subcommand(
        "gen", "create a minisign key pair NAME.pub and NAME.key (unencrypted, mode 0600)");
    gen->add_option("NAME", options->name, "file name of the key pair, without extension")
        ->required();
    gen->add_option("--dir", options->dir, "directory to write the key files to")
        ->capture_default_str();
    gen->add_flag("--force", options->force, "replace existing key files");
    return {gen, [options] { return runKeyGen(*options); }};
}

}  // namespace ingot::cli
