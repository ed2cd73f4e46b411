// ingot patch IMAGE --dry-run [--key PUB]... [--sources DIR] [--cache DIR] [--offline] [--json]:
// the Debian security updates an image lacks, with the CVEs their changelogs name, read from
// the image's own dpkg status and the security suites the host's apt configuration lists.
// Applying them is not built yet. The exit status says whether there is anything to apply, as
// grep's says whether anything matched: 0 updates, 1 none, 2 usage, 3 verification.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "Verb.h"
#include "ingot/core/Error.h"
#include "ingot/core/File.h"
#include "ingot/debian/ArchiveClient.h"
#include "ingot/debian/DpkgStatus.h"
#include "ingot/image/ImageReader.h"
#include "ingot/imagebuild/Ext4Reader.h"
#include "ingot/imagebuild/Tree.h"
#include "ingot/patch/AptSources.h"
#include "ingot/patch/PatchPlan.h"
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

bool carries(const patch::AptSource& source, const std::string& architecture) {
    return source.architectures.empty() ||
           std::find(source.architectures.begin(), source.architectures.end(), architecture) !=
               source.architectures.end();
}

std::shared_ptr<debian::ArchiveClient> clientFor(const patch::AptSource& source,
                                                 const std::string& architecture,
                                                 const PatchOptions& options,
                                                 const std::string& cache) {
    debian::ArchiveOptions o;
    o.baseUrl = source.uri;
    o.suite = source.suite;
    o.components = source.components;
    o.architecture = architecture;
    o.keyring = source.signedBy;
    o.cacheDirectory = cache;
    o.offline = options.offline;
    return std::make_shared<debian::ArchiveClient>(std::move(o));
}

std::string labelOf(const patch::AptSource& source, const std::string& architecture,
                    const std::string& native) {
    return source.uri + " " + source.suite +
           (architecture == native ? "" : " [" + architecture + "]");
}

int runPatch(const PatchOptions& options) {
    if (!options.dryRun)
        throw Error(
            "applying updates is not built yet; `ingot patch IMAGE --dry-run` shows which "
            "security updates the image lacks",
            ExitStatus::kUsage);
    const Progress progress;

    const RootFileSystem root = locateRoot(options, progress);
    progress("reading the root file system of " + options.image);
    const std::string statusText = readDpkgStatus(options, root);
    const std::string statusWhere = options.image + ": var/lib/dpkg/status";
    patch::PlanInput input;
    input.installed = debian::parseDpkgStatus(statusText, statusWhere);
    input.provides = patch::parseInstalledProvides(statusText, statusWhere);
    input.architecture = patch::nativeArchitecture(input.installed);
    std::set<std::string> foreign;
    for (const auto& p : input.installed)
        if (p.architecture != "all" && !p.architecture.empty() &&
            p.architecture != input.architecture)
            foreign.insert(p.architecture);

    const auto entries = patch::readAptSources(options.sources);
    std::vector<patch::AptSource> security;
    for (const auto& s : patch::securitySources(entries))
        if (carries(s, input.architecture)) security.push_back(s);
    if (security.empty())
        throw Error("no `deb` entry for a -security suite and architecture " + input.architecture +
                        " in " + options.sources + "/sources.list or " + options.sources +
                        "/sources.list.d (give another apt directory with --sources)",
                    ExitStatus::kUsage);
    const std::string cache = options.cache.empty()
                                  ? xdgDirectory("XDG_CACHE_HOME", ".cache") + "/debian"
                                  : options.cache;

    std::vector<std::string> labels;
    for (const patch::AptSource& s : security) {
        progress(std::string(options.offline ? "reading the cached indexes of " : "fetching ") +
                 s.uri + " " + s.suite + " (" + input.architecture + ")");
        auto client = clientFor(s, input.architecture, options, cache);
        client->update();
        const auto& carried = client->release().architectures;
        std::string label = labelOf(s, input.architecture, input.architecture);
        labels.push_back(label);
        input.security.push_back(patch::archiveSource(client, std::move(label)));
        for (const std::string& arch : foreign) {
            if (!carries(s, arch)) continue;
            if (std::find(carried.begin(), carried.end(), arch) == carried.end()) {
                std::cerr << "ingot patch: the image has packages for " << arch << ", which "
                          << printable(s.uri) << " " << printable(s.suite)
                          << " does not carry; they are not checked\n";
                continue;
            }
            progress(std::string(options.offline ? "reading the cached indexes of " : "fetching ") +
                     s.uri + " " + s.suite + " (" + arch + ")");
            auto foreignClient = clientFor(s, arch, options, cache);
            foreignClient->update();
            label = labelOf(s, arch, input.architecture);
            labels.push_back(label);
            input.security.push_back(patch::archiveSource(foreignClient, std::move(label)));
        }
    }
    // Fetched only if an update needs a package the security suites lack; native only, since
    // a dependency of a foreign-architecture update is rare enough to be reported instead.
    for (const patch::AptSource& s : patch::baseSources(entries, security)) {
        if (!carries(s, input.architecture)) continue;
        patch::PlanSource base =
            patch::archiveSource(clientFor(s, input.architecture, options, cache),
                                 labelOf(s, input.architecture, input.architecture));
        base.packages = [progress, offline = options.offline, label = base.label,
                         load = std::move(base.packages)]() -> const debian::PackagesIndex& {
            progress(std::string(offline ? "reading the cached indexes of " : "fetching ") + label +
                     " (for dependencies the security suites lack)");
            return load();
        };
        input.base.push_back(std::move(base));
    }

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
    if (!plan.updates.empty())
        std::cerr << "ingot patch: " << plan.updates.size() << " update(s), "
                  << plan.newPackages.size() << " new package(s), " << plan.unresolved.size()
                  << " unresolved dependenc" << (plan.unresolved.size() == 1 ? "y" : "ies")
                  << "; nothing was changed (dry run)\n";
    return plan.updates.empty() ? 1 : 0;
}

}  // namespace

Verb addPatchVerb(CLI::App& app) {
    auto options = std::make_shared<PatchOptions>();
    CLI::App* patch = app.add_subcommand(
        "patch", "list the Debian security updates an image lacks (--dry-run; exit 1: none)");
    patch
        ->add_option("IMAGE", options->image,
                     "image disk file (what `ingot build` writes as disk.img)")
        ->required();
    patch->add_flag("--dry-run", options->dryRun,
                    "only plan: list updates, new packages and CVEs (applying is not built yet)");
    patch
        ->add_option("--key", options->keys,
                     "verify the image against this minisign public key first (repeatable)")
        ->allow_extra_args(false);
    patch->add_option("--sources", options->sources,
                      "apt directory whose sources.list(.d) name the security suites (default: "
                      "/etc/apt)");
    patch->add_option("--cache", options->cache,
                      "archive cache (default: $XDG_CACHE_HOME/ingot/debian)");
    patch->add_flag("--offline", options->offline,
                    "use only indexes and packages already in the cache");
    patch->add_flag("--json", options->json, "print one JSON document instead of text");
    return {patch, [options] { return runPatch(*options); }};
}

}  // namespace ingot::cli
