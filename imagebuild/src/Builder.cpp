#include "ingot/imagebuild/Builder.h"

#include "SecurityStep.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fnmatch.h>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

#include "ingot/core/Error.h"
#include "ingot/core/File.h"
#include "ingot/core/Process.h"
#include "ingot/core/Sha256.h"
#include "ingot/imagebuild/AptPackages.h"
#include "ingot/imagebuild/Download.h"
#include "ingot/image/ImageReader.h"
#include "ingot/imagebuild/ArchiveReader.h"
#include "ingot/imagebuild/Ext4Reader.h"
#include "ingot/imagebuild/Ext4Writer.h"
#include "ingot/imagebuild/Initrd.h"
#include "ingot/imagebuild/StepCache.h"
#include "ingot/imagebuild/TarWriter.h"
#include "ingot/oci/Layout.h"
#include "ingot/patcher/Operation.h"

namespace fs = std::filesystem;

namespace ingot::imagebuild {

std::string defaultCacheDir() {
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/ingot";
    if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/ingot";
    return {};
}

namespace {

using Clock = std::chrono::steady_clock;

std::string resolveRecipePath(const Recipe& recipe, const std::string& path) {
    fs::path p(path);
    return p.is_absolute() ? p.string() : (fs::path(recipe.directory) / p).string();
}

std::string fileSha256(const std::string& path, std::string_view what) {
    return toHex(sha256File(path, what).sha256);
}

// Everything about one build that the steps share.
class Build {
public:
    Build(const Recipe& recipe, const BuildOptions& options)
        : recipe_(recipe), options_(options), cache_(options.cacheDir.empty() ? fs::path() : fs::path(options.cacheDir) / "steps") {
        provenance_["recipe"] = {{"file", fs::path(recipe.file).filename().string()},
                                 {"sha256", fileSha256(recipe.file, "recipe")}};
        provenance_["inputs"] = nlohmann::json::array();
    }

    BuildResult run();

private:
    void progress(const std::string& line) const {
        if (options_.progress) options_.progress(line);
    }
    template <typename F>
    void step(const std::string& name, bool cached, F&& body) {
        auto start = Clock::now();
        body();
        double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        result_.steps.push_back({name, cached, seconds});
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.2f s", seconds);
        progress(name + ": " + (cached ? "cached, " : "") + buf);
    }

    ArchiveReadOptions archiveOptions() const {
        ArchiveReadOptions o;
        o.allowDevices = recipe_.allowDevices;
        o.clampMtime = options_.sourceDateEpoch;
        return o;
    }

    std::string packageCache() const {
        return options_.cacheDir.empty() ? (workDir_ / "packages").string() : options_.cacheDir + "/packages";
    }

    // Resolves (or reads from the lock) and fetches one selection of packages; returns .deb paths.
    std::vector<std::string> packages(const std::string& selectionName, const std::vector<std::string>& names,
                                      const std::vector<std::string>& keep, const std::string& lockPath,
                                      AptSelection& selection);

    std::string baseKey();
    std::string mmdebstrapSources(const MmdebstrapBase& base) const {
        return base.sources.empty() ? std::string("/etc/apt") : resolveRecipePath(recipe_, base.sources);
    }
    void loadBase(Tree& tree);
    std::string kernelKey();

    const Recipe& recipe_;
    const BuildOptions& options_;
    StepCache cache_;
    fs::path workDir_;
    BuildResult result_;
    nlohmann::json provenance_ = nlohmann::json::object();
    std::vector<std::string> baseDebs_, kernelDebs_;
    AptLock lock_;
    std::string lockPath_;
    bool lockChanged_ = false;

    // An `image:` base, verified by baseKey().
    struct BaseImage {
        std::string path;  // the disk.img
        image::Manifest manifest;
        std::string manifestDigest;  // "sha256:<hex>" of manifest.json's bytes
    };
    std::optional<BaseImage> baseImage_;
    std::string imageBaseWhere() const { return recipe_.file + ": base.image"; }
    std::vector<sign::MinisignPublicKey> trustedKeys() const;
    void imageBaseKey(const ImageBase& base, StepKey& key);
    void loadImageBase(Tree& tree);
    void extractFromBaseImage(const std::string& member, const fs::path& to);
};

std::vector<std::string> Build::packages(const std::string& selectionName, const std::vector<std::string>& names,
                                         const std::vector<std::string>& keep, const std::string& lockPath,
                                         AptSelection& selection) {
    if (lockPath_.empty()) {
        lockPath_ = lockPath;
        lock_ = readAptLock(lockPath);
    }
    std::vector<std::string> requested = names;
    std::sort(requested.begin(), requested.end());
    auto pinned = lock_.selections.find(selectionName);
    bool usable = pinned != lock_.selections.end() && pinned->second.requested == requested && !options_.updateLock;
    if (usable) {
        selection = pinned->second;
    } else {
        if (options_.frozenLock)
            throw Error(lockPath + ": does not pin the " + selectionName + " packages the recipe asks for (" +
                            std::to_string(requested.size()) + " names) and --frozen-lock forbids resolving them",
                        ExitStatus::kUsage);
        progress(selectionName + ": resolving " + std::to_string(names.size()) + " package(s) through apt");
        selection = resolveAptPackages(names, keep);
    }
    std::vector<std::string> debs;
    for (auto& p : selection.packages) debs.push_back(fetchAptPackage(p, packageCache()));
    if (!usable) {
        lock_.selections[selectionName] = selection;
        lockChanged_ = true;
    }
    for (const auto& p : selection.packages)
        provenance_["packages"][selectionName].push_back(
            {{"name", p.name}, {"version", p.version}, {"architecture", p.architecture}, {"sha256", p.sha256}});
    return debs;
}

// The apt sources mmdebstrap pastes into the chroot, the host's (/etc/apt) unless the recipe
// names another directory: the build uses the archive the host is configured for, whatever it is.
std::vector<std::string> aptSourceFiles(const std::string& aptDirectory) {
    std::vector<std::string> out;
    const std::string list = aptDirectory + "/sources.list";
    if (fs::exists(list) && fs::file_size(list) > 0) out.push_back(list);
    std::vector<std::string> parts;
    if (fs::is_directory(aptDirectory + "/sources.list.d"))
        for (const auto& e : fs::directory_iterator(aptDirectory + "/sources.list.d")) {
            auto ext = e.path().extension();
            if (ext == ".list" || ext == ".sources") parts.push_back(e.path().string());
        }
    std::sort(parts.begin(), parts.end());
    out.insert(out.end(), parts.begin(), parts.end());
    return out;
}

// What the archive looked like to apt: the digests of its Release files. mmdebstrap installs
// whatever is current, so the cache key must change when the archive does.
std::string aptListsDigest() {
    std::vector<std::string> files;
    if (fs::is_directory("/var/lib/apt/lists"))
        for (const auto& e : fs::directory_iterator("/var/lib/apt/lists")) {
            auto name = e.path().filename().string();
            if (name.size() > 7 && (name.ends_with("_InRelease") || name.ends_with("_Release")))
                files.push_back(e.path().string());
        }
    std::sort(files.begin(), files.end());
    StepKey key("apt-lists");
    for (const auto& f : files) key.add(fs::path(f).filename().string(), fileSha256(f, "apt list"));
    return key.finish();
}

std::string Build::baseKey() {
    StepKey key("base");
    key.add("allow-devices", recipe_.allowDevices ? "1" : "0");
    key.add("source-date-epoch", std::to_string(options_.sourceDateEpoch));
    std::visit(
        [&](const auto& base) {
            using T = std::decay_t<decltype(base)>;
            if constexpr (std::is_same_v<T, TarballBase>) {
                key.add("tarball", base.sha256);
                provenance_["inputs"].push_back({{"kind", "tarball"}, {"sha256", base.sha256}});
            } else if constexpr (std::is_same_v<T, PackagesBase>) {
                AptSelection selection;
                std::string lock = base.lock.empty() ? (fs::path(recipe_.directory) / (fs::path(recipe_.file).stem().string() + ".lock")).string()
                                                     : resolveRecipePath(recipe_, base.lock);
                baseDebs_ = packages("base", base.names, {}, lock, selection);
                for (const auto& p : selection.packages) key.add(p.name, p.sha256);
            } else if constexpr (std::is_same_v<T, MmdebstrapBase>) {
                key.add("suite", base.suite).add("variant", base.variant);
                for (const auto& p : base.packages) key.add("package", p);
                for (const auto& c : base.components) key.add("component", c);
                for (const auto& f : aptSourceFiles(mmdebstrapSources(base)))
                    key.add("sources", fileSha256(f, "apt sources"));
                std::string lists = aptListsDigest();
                key.add("apt-lists", lists);
                provenance_["inputs"].push_back({{"kind", "mmdebstrap"}, {"suite", base.suite},
                                                 {"variant", base.variant}, {"apt-lists", lists}});
            } else {
                imageBaseKey(base, key);
            }
        },
        recipe_.base);
    return key.finish();
}

void Build::loadBase(Tree& tree) {
    std::visit(
        [&](const auto& base) {
            using T = std::decay_t<decltype(base)>;
            if constexpr (std::is_same_v<T, TarballBase>) {
                std::string path;
                if (!base.path.empty()) {
                    path = resolveRecipePath(recipe_, base.path);
                } else {
                    path = (workDir_ / "base.tarball").string();
                    downloadFile(base.url, path);
                }
                std::string digest = fileSha256(path, "base tarball");
                if (digest != base.sha256)
                    throw Error(recipe_.file + ": base tarball " + (base.path.empty() ? base.url : path) +
                                    " has sha256 " + digest + ", the recipe pins " + base.sha256,
                                ExitStatus::kVerification);
                readArchiveFile(path, tree, archiveOptions());
            } else if constexpr (std::is_same_v<T, PackagesBase>) {
                for (const auto& deb : baseDebs_) readDebPackage(deb, tree, archiveOptions());
            } else if constexpr (std::is_same_v<T, MmdebstrapBase>) {
                std::string out = (workDir_ / "mmdebstrap.tar").string();
                ProcessSpec spec;
                spec.argv = {"mmdebstrap", "--quiet", "--variant=" + base.variant, "--format=tar"};
                if (!base.packages.empty()) {
                    std::string include;
                    for (const auto& p : base.packages) include += (include.empty() ? "" : ",") + p;
                    spec.argv.push_back("--include=" + include);
                }
                if (!base.components.empty()) {
                    std::string components;
                    for (const auto& c : base.components) components += (components.empty() ? "" : ",") + c;
                    spec.argv.push_back("--components=" + components);
                }
                spec.argv.push_back(base.suite);
                spec.argv.push_back(out);
                const auto sources = aptSourceFiles(mmdebstrapSources(base));
                if (sources.empty())
                    throw Error(recipe_.file + ": base.mmdebstrap: no sources.list or sources.list.d/*.list|*.sources in " +
                                    mmdebstrapSources(base), ExitStatus::kUsage);
                for (const auto& s : sources) spec.argv.push_back(s);
                spec.environment = {{"SOURCE_DATE_EPOCH", std::to_string(options_.sourceDateEpoch)}, {"LC_ALL", "C"}};
                runProcessOrThrow(spec, "mmdebstrap");
                // mmdebstrap's tarball carries /dev's standard nodes (1.3.5 cannot leave them out);
                // the image mounts devtmpfs there, so they go, and only devices elsewhere are
                // subject to the recipe's allow.devices.
                auto options = archiveOptions();
                options.allowDevices = true;
                readArchiveFile(out, tree, options);
                for (const auto& child : tree.children("dev")) tree.remove(child);
                if (!recipe_.allowDevices)
                    for (const auto& [path, inode] : tree.entries())
                        if (inode->type == NodeType::kCharDevice || inode->type == NodeType::kBlockDevice ||
                            inode->type == NodeType::kFifo)
                            throw Error("mmdebstrap " + base.suite + ": /" + path + " is a " +
                                            std::string(nodeTypeName(inode->type)) +
                                            "; device nodes are refused unless the recipe allows devices",
                                        ExitStatus::kUsage);
                fs::remove(out);
            } else {
                loadImageBase(tree);
            }
        },
        recipe_.base);
}

std::vector<sign::MinisignPublicKey> Build::trustedKeys() const {
    std::vector<sign::MinisignPublicKey> keys;
    for (const auto& path : options_.trustedKeys) keys.push_back(sign::readPublicKeyFile(path));
    return keys;
}

// Only the signed manifest is checked here (cheap, on every build): the key it yields names the
// base's exact content, since the manifest pins the kernel, the initrd and the verity root hash.
// The root's blocks are checked by loadImageBase, when the tree is actually read.
void Build::imageBaseKey(const ImageBase& base, StepKey& key) {
    const std::string where = imageBaseWhere();
    if (!base.reference.empty())
        throw Error(where + ": '" + base.reference + "': registry references need `ingot pull` (not available "
                        "yet); use path: with a local image (a disk.img or a build output directory)",
                    ExitStatus::kUsage);
    std::string path = resolveRecipePath(recipe_, base.path);
    if (fs::is_directory(path)) path = (fs::path(path) / "disk.img").string();
    if (options_.trustedKeys.empty())
        throw Error(where + ": " + path + " must be verified before it is built on, and no key is trusted: pass "
                        "--trust KEY.pub with the public key that signed the base image",
                    ExitStatus::kUsage);
    auto keys = trustedKeys();
    BaseImage b;
    b.path = path;
    image::VerifiedImage verified;
    try {
        auto contents = image::readImage(path);
        verified = image::verifyImage(contents, keys);
    } catch (const Error& e) {
        throw Error(where + ": " + e.what(), e.status());
    }
    b.manifest = verified.manifest;
    b.manifestDigest = "sha256:" + toHex(verified.manifestSha256);
    if (!base.digest.empty() && base.digest != b.manifestDigest)
        throw Error(where + ": " + path + " has manifest digest " + b.manifestDigest + ", the recipe pins " +
                        base.digest,
                    ExitStatus::kVerification);
    if (!b.manifest.verity)
        throw Error(where + ": " + path + " has no verity-protected root file system to build on",
                    ExitStatus::kVerification);
    key.add("image-manifest", b.manifestDigest).add("verity-root", b.manifest.verity->rootHash);
    provenance_["inputs"].push_back({{"kind", "image"},
                                     {"name", b.manifest.name},
                                     {"version", b.manifest.version},
                                     {"manifest", b.manifestDigest},
                                     {"verity-root", b.manifest.verity->rootHash}});
    baseImage_ = std::move(b);
}

// The tree is read from a private copy that is verified again, whole, first: the file at the
// recipe's path may change between any check and any read, the copy cannot.
void Build::loadImageBase(Tree& tree) {
    const std::string where = imageBaseWhere();
    const BaseImage& b = *baseImage_;
    std::string copy = (workDir_ / "base.img").string();
    std::error_code copyError;
    fs::copy_file(b.path, copy, fs::copy_options::overwrite_existing, copyError);
    if (copyError)
        throw Error(where + ": cannot copy " + b.path + " to " + copy + ": " + copyError.message(),
                    ExitStatus::kUsage);
    try {
        auto contents = image::readImage(copy);
        auto verified = image::verifyImage(contents, trustedKeys());
        if ("sha256:" + toHex(verified.manifestSha256) != b.manifestDigest)
            throw Error(b.path + ": changed while the build read it (its manifest digest is now sha256:" +
                            toHex(verified.manifestSha256) + ")",
                        ExitStatus::kVerification);
        progress("base: checking every root block of " + b.path + " against its verity root hash");
        auto checked = image::verifyRootVerity(contents, verified.manifest);
        Ext4ReadOptions o;
        o.allowDevices = recipe_.allowDevices;
        readExt4(copy, checked.rootOffset, checked.dataBlocks * verified.manifest.verity->dataBlockSize, tree, o);
    } catch (const Error& e) {
        std::error_code ignored;
        fs::remove(copy, ignored);
        throw Error(where + ": " + std::string(e.what()), e.status());
    }
    fs::remove(copy);
}

// A boot pack member of the base image, checked against the manifest verified by baseKey() in
// memory, after it was read: what is written is exactly what the signature covers.
void Build::extractFromBaseImage(const std::string& member, const fs::path& to) {
    const std::string where = imageBaseWhere();
    const BaseImage& b = *baseImage_;
    const image::ManifestFile* expected = member == "kernel" ? &b.manifest.kernel
                                          : b.manifest.initrd ? &*b.manifest.initrd
                                                              : nullptr;
    if (!expected) throw Error(where + ": " + b.path + " has no " + member, ExitStatus::kVerification);
    image::ImageContents contents;
    try {
        contents = image::readImage(b.path);
    } catch (const Error& e) {
        throw Error(where + ": " + std::string(e.what()), e.status());
    }
    const image::ImageMember* m = contents.member(member);
    if (!m || m->size != expected->size)
        throw Error(where + ": " + b.path + ": the boot pack's " + member + " is not the one its manifest names",
                    ExitStatus::kVerification);
    std::string bytes(m->size, '\0');
    std::ifstream in(b.path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(m->dataOffset));
    if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size())))
        throw Error(where + ": " + b.path + ": cannot read the " + member + " at byte " + std::to_string(m->dataOffset),
                    ExitStatus::kVerification);
    if (toHex(sha256(bytes)) != expected->sha256)
        throw Error(where + ": " + b.path + ": the " + member + " does not match the signed manifest's sha256 " +
                        expected->sha256,
                    ExitStatus::kVerification);
    writeFileAtomically(to.string(), bytes);
}

std::string findInTree(const Tree& tree, const std::string& pattern, const std::string& what) {
    std::string dir = parentPath(pattern);
    std::string leaf(baseName(pattern));
    std::vector<std::string> matches;
    for (const auto& child : tree.children(dir)) {
        if (fnmatch(leaf.c_str(), std::string(baseName(child)).c_str(), 0) == 0) matches.push_back(child);
    }
    if (matches.size() != 1)
        throw Error(what + ": '" + pattern + "' matches " + std::to_string(matches.size()) +
                        " entries in the tree (it must match exactly one)",
                    ExitStatus::kUsage);
    auto resolved = tree.resolve(matches[0], what);
    auto inode = tree.find(resolved);
    if (!inode || inode->type != NodeType::kFile)
        throw Error(what + ": /" + matches[0] + " is not a regular file", ExitStatus::kUsage);
    return resolved;
}

// Name, version and architecture of every installed package in var/lib/dpkg/status, in name
// order. The file is dpkg's deb822 database; only three fields of installed stanzas matter here.
nlohmann::json dpkgPackages(const Tree& tree) {
    nlohmann::json out = nlohmann::json::array();
    auto status = tree.find("var/lib/dpkg/status");
    if (!status || status->type != NodeType::kFile || !status->content) return out;
    std::map<std::string, nlohmann::json> byName;
    std::istringstream lines(status->content->bytes());
    std::string line, name, version, arch, state;
    auto flush = [&] {
        if (!name.empty() && state.find(" installed") != std::string::npos)
            byName[name] = {{"name", name}, {"version", version}, {"architecture", arch}};
        name.clear(), version.clear(), arch.clear(), state.clear();
    };
    while (std::getline(lines, line)) {
        if (line.empty()) flush();
        else if (line.rfind("Package: ", 0) == 0) name = line.substr(9);
        else if (line.rfind("Version: ", 0) == 0) version = line.substr(9);
        else if (line.rfind("Architecture: ", 0) == 0) arch = line.substr(14);
        else if (line.rfind("Status: ", 0) == 0) state = line.substr(7);
    }
    flush();
    for (auto& [n, entry] : byName) out.push_back(std::move(entry));
    return out;
}

void writeBlob(const fs::path& path, const std::shared_ptr<const Blob>& blob) {
    writeFileAtomically(path.string(), blob ? std::string_view(blob->bytes()) : std::string_view());
}

BuildResult Build::run() {
    // Everything is made in a scratch directory beside the output and renamed over it at the end.
    fs::path output = fs::absolute(options_.outputDir);
    fs::create_directories(output.parent_path());
    std::string pattern = (output.parent_path() / ("." + output.filename().string() + ".build.XXXXXX")).string();
    if (!mkdtemp(pattern.data())) throwSystemError("cannot create a build directory beside " + output.string(), errno);
    workDir_ = pattern;
    struct Cleanup {
        fs::path dir;
        ~Cleanup() {
            std::error_code ignored;
            if (!dir.empty()) fs::remove_all(dir, ignored);
        }
    } cleanup{workDir_};
    fs::path staging = workDir_ / "out";
    fs::create_directories(staging);

    // Keys first: they need no tree, so an unchanged build never loads one.
    std::string key;
    step("inputs", false, [&] { key = baseKey(); });
    std::string base = key;
    nlohmann::json applied = nlohmann::json::array();
    for (const auto& op : recipe_.operations) {
        auto canonical = op->canonical();
        applied.push_back(canonical);
        key = StepKey("operation").add("parent", key).add("operation", canonical.dump()).finish();
    }
    provenance_["operations"] = applied;
    std::optional<SecurityStepInput> security;
    if (recipe_.security) {
        security.emplace();
        security->section = *recipe_.security;
        security->section.sources = resolveRecipePath(recipe_, recipe_.security->sources);
        if (!recipe_.security->keyring.empty())
            security->section.keyring = resolveRecipePath(recipe_, recipe_.security->keyring);
        security->archiveCache = options_.cacheDir.empty() ? (workDir_ / "debian").string() : options_.cacheDir + "/debian";
        security->offline = options_.offline;
        security->vmmPath = options_.vmmPath;
        security->imageName = recipe_.name;
        security->sourceDateEpoch = options_.sourceDateEpoch;
        security->memoryBytes = recipe_.memory;
        security->workDirectory = (workDir_ / "security").string();
        security->progress = [this](const std::string& line) { progress(line); };
        step("security-index", false, [&] {
            // The updates depend on the archive as it is now: its Release files join the key.
            key = StepKey("security").add("parent", key).add("releases", securityStepKey(*security)).finish();
        });
    }
    nlohmann::json header = canonicalHeader(recipe_);
    std::string finalKey = StepKey("root").add("parent", key).add("recipe", header.dump())
                               .add("source-date-epoch", std::to_string(options_.sourceDateEpoch)).finish();
    if (recipe_.kernel && recipe_.kernel->kind == KernelSource::Kind::kPackage) {
        AptSelection selection;
        std::string lock = lockPath_.empty() ? (fs::path(recipe_.directory) / (fs::path(recipe_.file).stem().string() + ".lock")).string() : lockPath_;
        kernelDebs_ = packages("kernel", {recipe_.kernel->value}, {"linux-image-"}, lock, selection);
        StepKey k("kernel-package");
        k.add("parent", finalKey);
        for (const auto& p : selection.packages) k.add(p.name, p.sha256);
        finalKey = k.finish();
    } else if (recipe_.kernel && recipe_.kernel->kind == KernelSource::Kind::kPath) {
        finalKey = StepKey("kernel-file").add("parent", finalKey)
                       .add("sha256", fileSha256(resolveRecipePath(recipe_, recipe_.kernel->value), "kernel")).finish();
    }
    if (recipe_.initrd && recipe_.initrd->kind == InitrdSource::Kind::kPath)
        finalKey = StepKey("initrd-file").add("parent", finalKey)
                       .add("sha256", fileSha256(resolveRecipePath(recipe_, recipe_.initrd->value), "initrd")).finish();
    if (lockChanged_) {
        writeAptLock(lockPath_, lock_);
        progress("lock: wrote " + lockPath_);
    }

    fs::path artifacts;
    if (auto hit = cache_.find(finalKey)) {
        artifacts = *hit;
        result_.steps.push_back({"root", true, 0});
        progress("root: cached");
        // What only the tree knew (the packages an mmdebstrap base installed) was kept with it.
        if (fs::exists(artifacts / "tree-provenance.json")) {
            auto bytes = readWholeFile((artifacts / "tree-provenance.json").string(), "cached provenance");
            auto saved = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
            if (saved.is_object())
                for (const auto& [key, value] : saved.items()) provenance_["packages"][key] = value;
        }
        if (fs::exists(artifacts / "security-provenance.json")) {
            auto bytes = readWholeFile((artifacts / "security-provenance.json").string(), "cached provenance");
            provenance_["security"] = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
            result_.security = provenance_["security"];
        }
    } else {
        std::unique_ptr<StepCache::Entry> entry;
        if (cache_.enabled()) entry = cache_.create(finalKey);
        artifacts = entry ? entry->directory() : workDir_ / "artifacts";
        fs::create_directories(artifacts);

        Tree tree;
        auto baseHit = cache_.find("base-" + base);
        step("base", baseHit.has_value(), [&] {
            if (baseHit) {
                ArchiveReadOptions o;
                o.allowDevices = true;  // the cached tree was checked when it was made
                readArchiveFile((*baseHit / "tree.tar").string(), tree, o);
            } else {
                loadBase(tree);
                if (cache_.enabled()) {
                    auto baseEntry = cache_.create("base-" + base);
                    writeTarFile(tree, (baseEntry->directory() / "tree.tar").string(), TarWriteOptions{});
                    baseEntry->commit();
                }
            }
        });
        step("operations", false, [&] {
            patcher::OperationContext context;
            context.recipeDirectory = recipe_.directory;
            context.sourceDateEpoch = options_.sourceDateEpoch;
            context.allowDevices = recipe_.allowDevices;
            // Each operation's errors already start with its place in the recipe.
            for (const auto& op : recipe_.operations) op->apply(tree, context);
        });

        // The kernel and the tree its modules come from.
        Tree kernelTree;
        const Tree* moduleTree = &tree;
        step("kernel", false, [&] {
            if (!recipe_.kernel && baseImage_) return extractFromBaseImage("kernel", artifacts / "kernel");
            if (!recipe_.kernel) throw Error(recipe_.file + ": no kernel", ExitStatus::kUsage);
            switch (recipe_.kernel->kind) {
                case KernelSource::Kind::kPackage: {
                    for (const auto& deb : kernelDebs_) readDebPackage(deb, kernelTree, archiveOptions());
                    auto path = findInTree(kernelTree, "boot/vmlinuz-*", "kernel package " + recipe_.kernel->value);
                    writeBlob(artifacts / "kernel", kernelTree.find(path)->content);
                    moduleTree = &kernelTree;
                    break;
                }
                case KernelSource::Kind::kPath:
                    fs::copy_file(resolveRecipePath(recipe_, recipe_.kernel->value), artifacts / "kernel");
                    break;
                case KernelSource::Kind::kTree: {
                    auto path = findInTree(tree, recipe_.kernel->value, "kernel");
                    writeBlob(artifacts / "kernel", tree.find(path)->content);
                    break;
                }
            }
        });
        step("initrd", false, [&] {
            // A layered recipe without `initrd:` keeps its base image's, if it has one.
            if (!recipe_.initrd && baseImage_ && baseImage_->manifest.initrd)
                return extractFromBaseImage("initrd", artifacts / "initrd");
            if (!recipe_.initrd || recipe_.initrd->kind == InitrdSource::Kind::kNone) return;
            switch (recipe_.initrd->kind) {
                case InitrdSource::Kind::kGenerate: {
                    InitrdOptions o;
                    if (!recipe_.initrd->modules.empty()) o.modules = recipe_.initrd->modules;
                    o.mtime = options_.sourceDateEpoch;
                    Tree source = *moduleTree;  // entries are shared, not copied
                    if (moduleTree != &tree) {
                        for (const char* candidate : {"bin/busybox", "usr/bin/busybox"}) {
                            auto inode = tree.find(tree.resolve(candidate, "initrd"));
                            if (inode && inode->type == NodeType::kFile) {
                                source.put("bin/busybox", inode, "initrd");
                                break;
                            }
                        }
                    }
                    auto initrd = generateInitrd(source, o);
                    writeFileAtomically((artifacts / "initrd").string(), initrd.bytes);
                    break;
                }
                case InitrdSource::Kind::kPath:
                    fs::copy_file(resolveRecipePath(recipe_, recipe_.initrd->value), artifacts / "initrd");
                    break;
                case InitrdSource::Kind::kTree: {
                    auto path = findInTree(tree, recipe_.initrd->value, "initrd");
                    writeBlob(artifacts / "initrd", tree.find(path)->content);
                    break;
                }
                case InitrdSource::Kind::kNone:
                    break;
            }
        });
        if (security) {
            step("security", false, [&] {
                if (recipe_.security && options_.vmmPath.empty())
                    throw Error(recipe_.file + ": security: no ingot-vmm to configure the updates with", ExitStatus::kUsage);
                security->kernelPath = (artifacts / "kernel").string();
                if (fs::exists(artifacts / "initrd")) security->initrdPath = (artifacts / "initrd").string();
                provenance_["security"] = applySecurityUpdates(tree, *security);
                result_.security = provenance_["security"];
                writeFileAtomically((artifacts / "security-provenance.json").string(), provenance_["security"].dump());
            });
        }
        step("root", false, [&] {
            auto o = deterministicExt4Options(recipe_.name, options_.sourceDateEpoch);
            if (recipe_.diskSize) o.sizeBytes = *recipe_.diskSize;
            auto ext4 = writeExt4(tree, o, (artifacts / "root.ext4").string());
            char buf[96];
            std::snprintf(buf, sizeof buf, "%zu entries, %llu MiB file system", tree.size(),
                          static_cast<unsigned long long>(ext4.sizeBytes >> 20));
            progress(std::string("root: ") + buf);
        });
        // The dpkg database of a bootstrapped tree says which packages (and versions) it holds.
        if (std::holds_alternative<MmdebstrapBase>(recipe_.base)) {
            nlohmann::json installed = dpkgPackages(tree);
            provenance_["packages"]["base"] = installed;
            writeFileAtomically((artifacts / "tree-provenance.json").string(),
                                nlohmann::json{{"base", installed}}.dump());
        }
        if (entry) artifacts = entry->commit();
    }

    step("disk", false, [&] {
        image::DiskImageInput in;
        in.name = recipe_.name;
        in.version = recipe_.version;
        in.created = static_cast<uint64_t>(options_.sourceDateEpoch);
        in.cmdline = recipe_.cmdline.value_or(baseImage_ ? baseImage_->manifest.cmdline : std::string(kDefaultCmdline));
        in.defaults.cpus = recipe_.cpus;
        in.defaults.memoryMiB = recipe_.memory >> 20;
        in.kernelPath = (artifacts / "kernel").string();
        if (fs::exists(artifacts / "initrd")) in.initrdPath = (artifacts / "initrd").string();
        in.rootPath = (artifacts / "root.ext4").string();
        in.provenance = provenance_;
        result_.image = image::writeDiskImage(in, options_.key, (staging / "disk.img").string());
        writeFileAtomically((staging / "manifest.json").string(), result_.image.manifestText);
        writeFileAtomically((staging / "manifest.json.minisig").string(), result_.image.signature);
    });
    step("oci", false, [&] {
        std::string tag = options_.tag.empty() ? recipe_.version : options_.tag;
        auto packed = oci::writeImageToLayout((staging / "oci").string(), (staging / "disk.img").string(),
                                              result_.image.manifestText, result_.image.signature, tag);
        result_.manifestDigest = packed.digest;
    });

    // Swap the finished output in: the old one (if any) goes only after the new one is there.
    fs::path old;
    if (fs::exists(output)) {
        old = workDir_ / "previous";
        fs::rename(output, old);
    }
    fs::rename(staging, output);
    result_.diskPath = (output / "disk.img").string();
    result_.layoutPath = (output / "oci").string();
    return result_;
}

}  // namespace

BuildResult buildImage(const Recipe& recipe, const BuildOptions& options) {
    Build build(recipe, options);
    return build.run();
}

}  // namespace ingot::imagebuild
