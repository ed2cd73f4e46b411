// ingot patch IMAGE (--dry-run | -o DIR --sign-key KEY) --key PUB... [--sources DIR]
// [--cache DIR] [--offline] [--json] [--version V] [--tag T] [--disk-size SIZE]: the Debian
// security updates an image lacks, with the CVEs their changelogs name, read from the image's
// own dpkg status and the security suites the host's apt configuration lists; without
// --dry-run, a new signed image version with them applied (the build pipeline with the image
// as its base and a `security:` step: unpacked on the host, configured in a build microVM).
// The exit status says whether there was anything to apply, as grep's says whether anything
// matched: 0 updates (applied unless --dry-run), 1 none (and no output at all), 2 usage,
// 3 verification.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "CloneBoot.h"
#include "Verb.h"
#include "ingot/core/Error.h"
#include "ingot/core/File.h"
#include "ingot/core/Size.h"
#include "ingot/imagebuild/Builder.h"
#include "ingot/patcher/Recipe.h"
#include "ingot/image/ImageReader.h"
#include "ingot/imagebuild/Ext4Reader.h"
#include "ingot/imagebuild/Tree.h"
#include "ingot/patch/PatchPlan.h"
#include "ingot/patch/SecuritySources.h"
#include "ingot/sign/Minisign.h"

namespace ingot::cli {
namespace {

using nlohmann::json;

// The dpkg status of a Debian system is a few MiB; one far larger is not one.
constexpr uint64_t kMaxStatusBytes = 256ull << 20;

struct PatchOptions {
    std::string image;
    bool dryRun = false;
    std::vector<std::string> keys;
    std::string sources = "/etc/apt";
    std::string cache;
    bool offline = false;
    bool json = false;
    std::string output;
    std::string signKey;
    std::string version;
    std::string tag;
    std::string diskSize;
};

class Progress {
public:
    Progress() : terminal_(isatty(STDERR_FILENO)) {}
    void operator()(const std::string& line) const {
        std::cerr << (terminal_ ? "\033[1m==>\033[0m " : "==> ") << printable(line) << "\n";
    }

private:
    bool terminal_;
};

struct RootFileSystem {
    uint64_t offset = 0;
    uint64_t size = 0;
    bool verified = false;
    image::Manifest manifest;
};

// Where the root file system is, checked against --key when given. A dry run only reports, so
// the root is read from the image in place after the check; applying updates will have to work
// from a private copy, as `ingot build` does with an image base.
RootFileSystem locateRoot(const PatchOptions& options, const Progress& progress) {
    const image::ImageContents contents = image::readImage(options.image);
    image::Manifest manifest;
    RootFileSystem root;
    if (!options.keys.empty()) {
        std::vector<sign::MinisignPublicKey> keys;
        for (const std::string& path : options.keys) keys.push_back(sign::readPublicKeyFile(path));
        image::VerifiedImage verified = image::verifyImage(contents, keys);
        manifest = std::move(verified.manifest);
        if (manifest.verity) {
            progress("checking every root block of " + options.image +
                     " against its verity root hash");
            const image::RootVerityCheck check = image::verifyRootVerity(contents, manifest);
            root.offset = check.rootOffset;
            root.size = check.dataBlocks * manifest.verity->dataBlockSize;
            root.verified = true;
            root.manifest = std::move(manifest);
            return root;
        }
        std::cerr << "ingot patch: " << options.image
                  << " is signed but has no verity tree, so its root's contents are not "
                     "covered by the signature\n";
    } else {
        manifest = image::parseImageManifest(contents);
        std::cerr << "ingot patch: " << options.image
                  << " is not verified (no --key): the plan trusts what the image says is "
                     "installed\n";
    }
    for (const image::ManifestPartition& p : manifest.partitions)
        if (p.role == "root") {
            root.offset = p.firstLba * image::kSectorSize;
            root.size = (p.lastLba - p.firstLba + 1) * image::kSectorSize;
            root.manifest = manifest;
            return root;
        }
    throw Error(options.image + " has no root partition, so there is nothing to patch",
                ExitStatus::kUsage);
}

std::string readDpkgStatus(const PatchOptions& options, const RootFileSystem& root) {
    imagebuild::Tree tree;
    imagebuild::Ext4ReadOptions read;
    // Only the status file is looked at; device nodes elsewhere in the root do no harm here.
    read.allowDevices = true;
    imagebuild::readExt4(options.image, root.offset, root.size, tree, read);
    const std::string where = options.image + ": var/lib/dpkg/status";
    const std::string path = tree.resolve("var/lib/dpkg/status", where);
    const auto inode = tree.find(path);
    if (!inode)
        throw Error(where + ": not found in the root file system (is it a Debian system?)",
                    ExitStatus::kUsage);
    if (inode->type != imagebuild::NodeType::kFile)
        throw Error(where + ": not a regular file", ExitStatus::kUsage);
    if (inode->size() > kMaxStatusBytes)
        throw Error(where + ": " + std::to_string(inode->size()) + " bytes is more than the " +
                        std::to_string(kMaxStatusBytes) + " accepted",
                    ExitStatus::kUsage);
    return inode->content ? inode->content->bytes() : std::string();
}

// The next version of an image that `ingot rollout` style versions ("12.20261124.1"): the
// base version, the day of `epoch`, and a counter when the image was already patched that day.
std::string nextVersion(const std::string& current, int64_t epoch) {
    char day[16];
    std::time_t t = static_cast<std::time_t>(epoch);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(day, sizeof day, "%Y%m%d", &tm);
    // "12" → "12.DAY"; "12.DAY" → "12.DAY.1"; "12.DAY.N" → "12.DAY.N+1"; "12.OLDDAY[.N]" → "12.DAY".
    std::vector<std::string> parts;
    std::stringstream in(current);
    for (std::string part; std::getline(in, part, '.');) parts.push_back(part);
    const auto isDay = [](const std::string& p) {
        return p.size() == 8 && std::all_of(p.begin(), p.end(), ::isdigit);
    };
    const auto isCounter = [](const std::string& p) {
        return !p.empty() && p.size() < 9 && std::all_of(p.begin(), p.end(), ::isdigit);
    };
    size_t dayAt = parts.size();
    if (parts.size() >= 2 && isDay(parts.back()))
        dayAt = parts.size() - 1;
    else if (parts.size() >= 3 && isDay(parts[parts.size() - 2]) && isCounter(parts.back()))
        dayAt = parts.size() - 2;
    std::string base;
    for (size_t i = 0; i < dayAt; ++i) base += (i ? "." : "") + parts[i];
    if (dayAt < parts.size() && parts[dayAt] == day) {
        int counter = dayAt + 1 < parts.size() ? std::atoi(parts[dayAt + 1].c_str()) : 0;
        return base + "." + day + "." + std::to_string(counter + 1);
    }
    return base + "." + day;
}

// The recipe `ingot patch` builds: the image as its base, the security step, nothing else.
// It is written as YAML and read by the one recipe parser, so the build and its provenance
// see exactly what `ingot build` would for the same file.
std::string patchRecipe(const PatchOptions& options, const RootFileSystem& root,
                        const std::string& version) {
    const auto quote = [](const std::string& s) { return json(s).dump(); };
    const image::Manifest& m = root.manifest;
    uint64_t diskBytes = options.diskSize.empty() ? root.size : parseSize(options.diskSize);
    diskBytes = (diskBytes + (1ull << 20) - 1) & ~((1ull << 20) - 1);
    std::ostringstream y;
    y << "# Written by `ingot patch` for " << printable(m.name) << " " << printable(m.version)
      << ".\n"
      << "name: " << quote(m.name) << "\n"
      << "version: " << quote(version) << "\n"
      << "base:\n  image:\n    path: "
      << quote(std::filesystem::absolute(options.image).string()) << "\n"
      << "defaults:\n  cpus: " << m.defaults.cpus << "\n  memory: " << m.defaults.memoryMiB
      << "M\n"
      << "disk:\n  size: " << (diskBytes >> 20) << "M\n"
      << "security:\n  sources: "
      << quote(std::filesystem::absolute(options.sources).string()) << "\n";
    return y.str();
}

int applyPlan(const PatchOptions& options, const RootFileSystem& root,
              const patch::SecuritySources& sources, const Progress& progress) {
    if (options.output.empty() || options.signKey.empty())
        throw Error("applying updates needs -o DIR and --sign-key KEY (or --dry-run to only plan)",
                    ExitStatus::kUsage);
    if (options.keys.empty() || !root.verified)
        throw Error("applying updates needs --key PUB: the new version is built on the image, "
                    "which must be verified first",
                    ExitStatus::kUsage);
    imagebuild::BuildOptions build;
    build.key = sign::readSecretKeyFile(options.signKey);
    build.outputDir = options.output;
    build.cacheDir = options.cache.empty() ? imagebuild::defaultCacheDir() : options.cache;
    build.sourceDateEpoch = sourceDateEpochFromEnvironment().value_or(sources.newestReleaseDate);
    build.trustedKeys = options.keys;
    build.vmmPath = findMonitor();
    build.offline = options.offline;
    build.progress = progress;
    const std::string version = options.version.empty()
                                    ? nextVersion(root.manifest.version, build.sourceDateEpoch)
                                    : options.version;
    build.tag = options.tag.empty() ? version : options.tag;

    const std::filesystem::path output = std::filesystem::absolute(options.output);
    std::filesystem::create_directories(output.parent_path());
    std::string scratch = (output.parent_path() / ".ingot-patch.XXXXXX").string();
    if (!mkdtemp(scratch.data())) throwSystemError("cannot create a directory beside " + output.string(), errno);
    struct Cleanup {
        std::string dir;
        ~Cleanup() {
            std::error_code ignored;
            std::filesystem::remove_all(dir, ignored);
        }
    } cleanup{scratch};
    const std::string recipePath = scratch + "/patch.yaml";
    writeFileAtomically(recipePath, patchRecipe(options, root, version));
    const imagebuild::Recipe recipe = patcher::loadRecipe(recipePath);
    const imagebuild::BuildResult result = imagebuild::buildImage(recipe, build);

    const auto& m = result.image.manifest;
    std::cout << "image:    " << printable(m.name) << " " << printable(m.version) << "\n"
              << "disk:     " << result.diskPath << "\n"
              << "oci:      " << result.layoutPath << " (" << result.manifestDigest << ")\n";
    if (result.security.is_object() && result.security.contains("unpack"))
        for (const auto& p : result.security["unpack"]["packages"])
            for (const auto& c : p["conffiles"])
                if (c["outcome"] == "kept-local")
                    std::cout << "kept:     " << printable(c["path"].get<std::string>())
                              << " (changed in the image; the package's version is "
                              << printable(c["path"].get<std::string>()) << ".dpkg-dist)\n";
    return 0;
}

int runPatch(const PatchOptions& options) {
    const Progress progress;

    const RootFileSystem root = locateRoot(options, progress);
    progress("reading the root file system of " + options.image);
    const std::string statusText = readDpkgStatus(options, root);
    const std::string statusWhere = options.image + ": var/lib/dpkg/status";
    patch::SecurityConfig config;
    config.aptDirectory = options.sources;
    // The builder keeps the archive under CACHE/debian too, so a dry run warms the real one.
    config.cacheDirectory =
        (options.cache.empty() ? imagebuild::defaultCacheDir() : options.cache) + "/debian";
    config.offline = options.offline;
    patch::ImagePlanInput planInput = patch::planInputForStatus(
        statusText, statusWhere, config, [&](const std::string& line) { progress(line); });
    const patch::PlanInput& input = planInput.input;
    const std::vector<std::string>& labels = planInput.sources.labels;
    progress("planning " + std::to_string(input.installed.size()) + " installed packages");
    const patch::PatchPlan plan = patch::computePatchPlan(input);

    if (options.json) {
        json doc = patch::planToJson(plan);
        doc["image"] = options.image;
        doc["verified"] = root.verified;
        doc["installedPackages"] = input.installed.size();
        doc["securitySuites"] = labels;
        // Package fields come from the image and the archive: replace invalid UTF-8 rather
        // than fail mid-output.
        std::cout << doc.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    } else if (plan.updates.empty()) {
        std::cout << "nothing to update: " << input.installed.size()
                  << " installed packages, none with a newer version in the security suites\n";
    } else {
        std::istringstream lines(patch::formatPlanText(plan));
        for (std::string line; std::getline(lines, line);) std::cout << printable(line) << "\n";
    }
    if (plan.updates.empty()) return 1;
    std::cerr << "ingot patch: " << plan.updates.size() << " update(s), "
              << plan.newPackages.size() << " new package(s), " << plan.unresolved.size()
              << " unresolved dependenc" << (plan.unresolved.size() == 1 ? "y" : "ies")
              << (options.dryRun ? "; nothing was changed (dry run)\n" : "\n");
    if (options.dryRun) return 0;
    return applyPlan(options, root, planInput.sources, progress);
}

}  // namespace

Verb addPatchVerb(CLI::App& app) {
    auto options = std::make_shared<PatchOptions>();
    CLI::App* patch = app.add_subcommand(
        "patch",
        "apply the Debian security updates an image lacks as a new signed version (exit 1: none)");
    patch
        ->add_option("IMAGE", options->image,
                     "image disk file (what `ingot build` writes as disk.img)")
        ->required();
    patch->add_flag("--dry-run", options->dryRun,
                    "only plan: list updates, new packages and CVEs; change nothing");
    patch->add_option("-o,--output", options->output, "directory the new version is written to");
    patch->add_option("--sign-key", options->signKey, "minisign secret key that signs it");
    patch->add_option("--version", options->version,
                      "the new version (default: the image's base version, today's date from "
                      "SOURCE_DATE_EPOCH or the security suites' newest Release, a counter)");
    patch->add_option("--tag", options->tag, "tag in the OCI layout (default: the version)");
    patch->add_option("--disk-size", options->diskSize,
                      "root file system size of the new version (default: the image's)");
    patch
        ->add_option("--key", options->keys,
                     "verify the image against this minisign public key first (repeatable)")
        ->allow_extra_args(false);
    patch->add_option("--sources", options->sources,
                      "apt directory whose sources.list(.d) name the security suites (default: "
                      "/etc/apt)");
    patch->add_option("--cache", options->cache,
                      "cache: build steps, and the archive's indexes and packages under DIR/debian "
                      "(default: $XDG_CACHE_HOME/ingot)");
    patch->add_flag("--offline", options->offline,
                    "use only indexes and packages already in the cache");
    patch->add_flag("--json", options->json, "print one JSON document instead of text");
    return {patch, [options] { return runPatch(*options); }};
}

}  // namespace ingot::cli
