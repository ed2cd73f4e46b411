// ingot build RECIPE [-o DIR] [--sign-key K] [--cache DIR] [--tag T] [--update-lock]
// [--frozen-lock] [--no-cache] [--trust KEY.pub]...: a signed gold image from a recipe (docs/recipes.md).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "CloneBoot.h"
#include "Verb.h"
#include "ingot/core/Error.h"
#include "ingot/imagebuild/Builder.h"
#include "ingot/patcher/Recipe.h"
#include "ingot/sign/Minisign.h"

namespace ingot::cli {
namespace {

struct BuildVerbOptions {
    std::string recipe;
    std::string output;
    std::string signKey;
    std::string cacheDir;
    std::string tag;
    std::vector<std::string> trust;
    bool noCache = false;
    bool updateLock = false;
    bool frozenLock = false;
};

int64_t sourceDateEpoch() {
    if (auto epoch = sourceDateEpochFromEnvironment()) return *epoch;
    std::cerr << "ingot build: SOURCE_DATE_EPOCH is not set; using 0, so every time in the image "
                 "is the epoch (set it to date the image)\n";
    return 0;
}

int runBuild(const BuildVerbOptions& options) {
    auto recipe = patcher::loadRecipe(options.recipe);
    imagebuild::BuildOptions build;
    if (options.signKey.empty())
        throw Error("ingot build needs --sign-key KEY (make one with `ingot key gen NAME`)", ExitStatus::kUsage);
    build.key = sign::readSecretKeyFile(options.signKey);
    std::string safeName = recipe.name;
    for (char& c : safeName)
        if (c == '/') c = '_';
    build.outputDir = options.output.empty() ? "out/" + safeName : options.output;
    build.cacheDir = options.noCache ? "" : (options.cacheDir.empty() ? imagebuild::defaultCacheDir() : options.cacheDir);
    build.sourceDateEpoch = sourceDateEpoch();
    build.updateLock = options.updateLock;
    build.frozenLock = options.frozenLock;
    build.tag = options.tag;
    build.trustedKeys = options.trust;
    // Only a `security:` step boots anything, so only then must the monitor be there.
    if (recipe.security) build.vmmPath = findMonitor();
    bool terminal = isatty(STDERR_FILENO);
    build.progress = [terminal](const std::string& line) {
        std::cerr << (terminal ? "\033[1m==>\033[0m " : "==> ") << printable(line) << "\n";
    };
    auto result = imagebuild::buildImage(recipe, build);
    const auto& m = result.image.manifest;
    std::cout << "image:    " << printable(m.name) << " " << printable(m.version) << "\n"
              << "disk:     " << result.diskPath << "\n"
              << "oci:      " << result.layoutPath << " (" << result.manifestDigest << ")\n"
              << "kernel:   sha256:" << m.kernel.sha256 << "\n";
    if (m.verity) std::cout << "verity:   root " << m.verity->rootHash << "\n";
    return 0;
}

}  // namespace

Verb addBuildVerb(CLI::App& app) {
    auto options = std::make_shared<BuildVerbOptions>();
    CLI::App* build = app.add_subcommand("build", "build a signed gold image from a YAML recipe");
    build->add_option("RECIPE", options->recipe, "the recipe file (docs/recipes.md)")->required();
    build->add_option("-o,--output", options->output,
                      "output directory (default out/NAME): disk.img, manifest.json(.minisig), oci/");
    build->add_option("--sign-key", options->signKey, "minisign secret key that signs the image");
    build->add_option("--cache", options->cacheDir, "step and package cache (default $XDG_CACHE_HOME/ingot)");
    build->add_flag("--no-cache", options->noCache, "build every step afresh and keep nothing");
    build->add_option("--tag", options->tag, "tag in the OCI layout (default: the recipe's version)");
    build->add_flag("--update-lock", options->updateLock, "resolve packages again and rewrite the lock file");
    build->add_flag("--frozen-lock", options->frozenLock,
                    "fail instead of resolving packages the lock file does not pin");
    build->add_option("--trust", options->trust,
                      "minisign public key an `image:` base must be signed by (repeatable)")
        ->allow_extra_args(false);  // one key per --trust, so RECIPE after it stays the recipe
    return {build, [options] { return runBuild(*options); }};
}

}  // namespace ingot::cli
