#include "ingot/store/Store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "ingot/core/Error.h"
#include "ingot/core/File.h"
#include "ingot/image/Qcow2.h"
#include "ingot/oci/Layout.h"
#include "ingot/oci/Manifests.h"

namespace ingot::store {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr uint64_t kMaxVmRecordBytes = 64 * 1024;

int lockFile(const std::string& path, int operation) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throwSystemError("cannot open lock " + path, errno);
    while (::flock(fd, operation) < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        throwSystemError("cannot lock " + path, err);
    }
    return fd;
}

void makeDirectory(const std::string& path) {
    if (::mkdir(path.c_str(), 0755) < 0 && errno != EEXIST)
        throwSystemError("cannot create " + path, errno);
}

std::vector<std::string> directoryEntries(const std::string& path) {
    std::vector<std::string> names;
    DIR* dir = ::opendir(path.c_str());
    if (!dir) return names;
    while (dirent* entry = ::readdir(dir)) {
        std::string name = entry->d_name;
        if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    return names;
}

uint64_t fileBytes(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) < 0) return 0;
    return static_cast<uint64_t>(st.st_blocks) * 512;
}

bool isSignatureTag(const std::string& name) {
    return name.size() == 7 + 64 + 4 && name.starts_with("sha256-") && name.ends_with(".sig");
}

json vmToJson(const Vm& vm) {
    return {{"name", vm.name},   {"image", vm.image},         {"digest", vm.digest},
            {"cpus", vm.cpus}, {"memory", vm.memoryBytes}, {"created", vm.created}};
}

// vm.json is ours, but the store is a directory anyone with the user's rights can edit.
Vm vmFromJson(const std::string& text, const std::string& where) {
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    auto fail = [&](const std::string& what) {
        return Error(where + ": " + what, ExitStatus::kVerification);
    };
    if (!j.is_object()) throw fail("not a JSON object");
    Vm vm;
    try {
        vm.name = j.at("name").get<std::string>();
        vm.image = j.at("image").get<std::string>();
        vm.digest = j.at("digest").get<std::string>();
        vm.cpus = j.at("cpus").get<unsigned>();
        vm.memoryBytes = j.at("memory").get<uint64_t>();
        vm.created = j.at("created").get<int64_t>();
    } catch (const json::exception& e) {
        throw fail(std::string("malformed record: ") + e.what());
    }
    if (!isValidVmName(vm.name) || !oci::isSha256Digest(vm.digest))
        throw fail("malformed name or digest");
    return vm;
}

}  // namespace

std::string defaultRoot() { return xdgDirectory("XDG_DATA_HOME", ".local/share"); }

bool isValidVmName(const std::string& name) {
    if (name.empty() || name.size() > 63) return false;
    auto lowerAlnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!lowerAlnum(name[0])) return false;
    return std::all_of(name.begin(), name.end(), [&](char c) {
        return lowerAlnum(c) || c == '-' || c == '_' || c == '.';
    });
}

StoreLock::StoreLock(const std::string& root, Mode mode)
    : fd_(lockFile(root + "/store.lock", mode == Mode::kShared ? LOCK_SH : LOCK_EX)) {}

StoreLock::~StoreLock() { ::close(fd_); }

VmLease::VmLease(const std::string& vmDir, const std::string& name) {
    const std::string path = vmDir + "/lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throwSystemError("cannot open " + path, errno, ExitStatus::kUsage);
    if (::flock(fd_, LOCK_EX | LOCK_NB) < 0) {
        int err = errno;
        ::close(fd_);
        if (err == EWOULDBLOCK)
            throw Error("VM " + name + " is running (`ingot stop " + name + "` stops it)",
                        ExitStatus::kUsage);
        throwSystemError("cannot lock " + path, err);
    }
}

VmLease::~VmLease() {
    if (fd_ >= 0) ::close(fd_);
}

Store::Store(std::string root) : root_(std::move(root)) {
    fs::create_directories(root_);
    oci::initLayout(root_);
    // A new store gets an empty index.json, so listing it is not an error.
    if (::access((root_ + "/index.json").c_str(), F_OK) != 0) oci::setTags(root_, {});
    makeDirectory(root_ + "/bases");
    makeDirectory(root_ + "/vms");
}

std::string Store::vmDir(const std::string& name) const {
    if (!isValidVmName(name))
        throw Error("\"" + name + "\" is not a valid VM name: use 1 to 63 of a-z 0-9 _ . -, "
                    "starting with a letter or digit",
                    ExitStatus::kUsage);
    return root_ + "/vms/" + name;
}

std::string Store::overlayPath(const std::string& name) const {
    return vmDir(name) + "/disk.qcow2";
}

std::vector<StoredImage> Store::images() const {
    std::vector<Vm> clones = vms();
    std::vector<StoredImage> images;
    for (const oci::Tag& tag : oci::listTags(root_)) {
        if (isSignatureTag(tag.name) || tag.manifest.mediaType != oci::kMediaTypeImageManifest)
            continue;
        StoredImage image;
        image.name = tag.name;
        image.digest = tag.manifest.digest;
        try {
            oci::ImageManifest manifest = oci::parseImageManifest(
                oci::readBlob(root_, tag.manifest.digest, oci::kMaxManifestBytes,
                              "image manifest of " + tag.name, &tag.manifest.size),
                "image manifest of " + tag.name);
            image.diskSize = manifest.diskSize;
            for (const oci::ImageChunk& chunk : manifest.chunks) image.chunkBytes += chunk.blob.size;
        } catch (const Error&) {
            // Listed all the same, with no size: `ingot run` names what is wrong with it.
        }
        image.baseDisk = ::access(
            (root_ + "/bases/" + oci::digestHex(image.digest, "image") + ".img").c_str(), F_OK) == 0;
        for (const Vm& vm : clones)
            if (vm.digest == image.digest) image.vms.push_back(vm.name);
        images.push_back(std::move(image));
    }
    return images;
}

std::string Store::resolve(const std::string& name) const {
    oci::checkRefName(name);
    for (const oci::Tag& tag : oci::listTags(root_))
        if (tag.name == name && tag.manifest.mediaType == oci::kMediaTypeImageManifest)
            return tag.manifest.digest;
    throw Error("no image " + name + " in the store " + root_ + " (`ingot pull " + name +
                    "` fetches it; `ingot images` lists what is there)",
                ExitStatus::kUsage);
}

std::string Store::baseDisk(const std::string& digest) {
    const std::string path = root_ + "/bases/" + oci::digestHex(digest, "image") + ".img";
    if (::access(path.c_str(), F_OK) == 0) return path;
    int lock = lockFile(path + ".lock", LOCK_EX);
    try {
        // Another process may have made it while this one waited for the lock.
        if (::access(path.c_str(), F_OK) != 0) oci::reassembleDisk(root_, digest, path, 0444);
    } catch (...) {
        ::close(lock);
        throw;
    }
    ::close(lock);
    ::unlink((path + ".lock").c_str());
    return path;
}

Vm Store::createVm(const std::string& name, const std::string& image, unsigned cpus,
                   uint64_t memoryBytes) {
    const std::string dir = vmDir(name);
    StoreLock lock(root_, StoreLock::Mode::kShared);
    Vm vm;
    vm.name = name;
    vm.image = image;
    vm.digest = resolve(image);
    vm.cpus = cpus;
    vm.memoryBytes = memoryBytes;
    vm.created = static_cast<int64_t>(::time(nullptr));
    const std::string base = baseDisk(vm.digest);
    // mkdir is the claim on the name: of two runs choosing it at once, one gets EEXIST.
    if (::mkdir(dir.c_str(), 0755) < 0) {
        if (errno == EEXIST)
            throw Error("a VM named " + name + " exists already (`ingot rm " + name +
                            "` removes it; --name chooses another)",
                        ExitStatus::kUsage);
        throwSystemError("cannot create " + dir, errno);
    }
    try {
        struct stat st {};
        if (::stat(base.c_str(), &st) < 0) throwSystemError("cannot stat " + base, errno);
        image::Qcow2CreateOptions overlay;
        overlay.virtualSize = static_cast<uint64_t>(st.st_size);
        overlay.backingFile = base;
        image::createQcow2(dir + "/disk.qcow2", overlay);
        writeFileAtomically(dir + "/vm.json", vmToJson(vm).dump(2) + "\n");
    } catch (...) {
        fs::remove_all(dir);
        throw;
    }
    return vm;
}

std::vector<Vm> Store::vms() const {
    std::vector<Vm> result;
    for (const std::string& name : directoryEntries(root_ + "/vms")) {
        if (!isValidVmName(name)) continue;
        try {
            result.push_back(vm(name));
        } catch (const Error&) {
            // Half made (its record not yet written) or damaged: not a VM to list.
        }
    }
    return result;
}

Vm Store::vm(const std::string& name) const {
    const std::string record = vmDir(name) + "/vm.json";
    if (::access(record.c_str(), F_OK) != 0)
        throw Error("no VM named " + name + " (`ingot ps -a` lists them)", ExitStatus::kUsage);
    std::vector<uint8_t> bytes = readWholeFile(record, "VM record", kMaxVmRecordBytes);
    Vm vm = vmFromJson(std::string(bytes.begin(), bytes.end()), record);
    if (vm.name != name) throw Error(record + ": names another VM", ExitStatus::kVerification);
    return vm;
}

void Store::removeVm(const std::string& name) {
    const std::string dir = vmDir(name);
    if (::access(dir.c_str(), F_OK) != 0)
        throw Error("no VM named " + name + " (`ingot ps -a` lists them)", ExitStatus::kUsage);
    VmLease claimed(dir, name);
    // Renamed away first, so nothing ever sees a half-deleted clone under its name.
    const std::string doomed = root_ + "/vms/.removing-" + name + "-" + std::to_string(::getpid());
    if (::rename(dir.c_str(), doomed.c_str()) < 0)
        throwSystemError("cannot remove " + dir, errno);
    fs::remove_all(doomed);
}

VmState Store::state(const std::string& name) const {
    VmState state;
    const std::string dir = vmDir(name);
    int fd = ::open((dir + "/lock").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return state;
    // A shared lock is refused exactly while a run holds the exclusive lease.
    if (::flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK) state.running = true;
    ::close(fd);
    if (!state.running) return state;
    try {
        std::vector<uint8_t> bytes = readWholeFile(dir + "/monitor.pid", "monitor pid", 32);
        int pid = std::atoi(std::string(bytes.begin(), bytes.end()).c_str());
        if (pid > 1) state.monitorPid = pid;
    } catch (const Error&) {
    }
    return state;
}

PruneReport Store::prune(bool unusedImages) {
    StoreLock lock(root_, StoreLock::Mode::kExclusive);
    PruneReport report;
    std::vector<Vm> clones = vms();
    std::set<std::string> cloneDigests;
    for (const Vm& vm : clones) cloneDigests.insert(vm.digest);

    std::vector<oci::Tag> tags = oci::listTags(root_);
    if (unusedImages) {
        std::vector<std::string> doomed;
        for (const oci::Tag& tag : tags) {
            if (isSignatureTag(tag.name) || cloneDigests.count(tag.manifest.digest)) continue;
            doomed.push_back(tag.name);
            ++report.imagesRemoved;
        }
        oci::removeTags(root_, doomed);
        tags = oci::listTags(root_);
    }
    // Signature tags whose image is gone go too.
    std::set<std::string> imageDigests;
    for (const oci::Tag& tag : tags)
        if (!isSignatureTag(tag.name)) imageDigests.insert(tag.manifest.digest);
    std::vector<std::string> orphanSignatures;
    for (const oci::Tag& tag : tags)
        if (isSignatureTag(tag.name) &&
            !imageDigests.count("sha256:" + tag.name.substr(7, 64)) &&
            !cloneDigests.count("sha256:" + tag.name.substr(7, 64)))
            orphanSignatures.push_back(tag.name);
    oci::removeTags(root_, orphanSignatures);
    tags = oci::listTags(root_);

    // Everything a remaining tag reaches. A manifest that cannot be read keeps only itself:
    // prune must not turn a damaged store into an emptier one.
    std::set<std::string> referenced;
    for (const oci::Tag& tag : tags) {
        referenced.insert(tag.manifest.digest);
        try {
            std::string bytes = oci::readBlob(root_, tag.manifest.digest, oci::kMaxManifestBytes,
                                              "manifest of " + tag.name, &tag.manifest.size);
            // Any manifest's blobs (images, signatures, whatever else skopeo put here) are its
            // config and layers.
            json m = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
            if (!m.is_object()) return report;
            if (m.contains("config") && m["config"].is_object())
                referenced.insert(m["config"].value("digest", ""));
            if (m.contains("layers") && m["layers"].is_array())
                for (const json& layer : m["layers"])
                    if (layer.is_object()) referenced.insert(layer.value("digest", ""));
        } catch (const Error&) {
            return report;
        }
    }
    const std::string blobs = root_ + "/blobs/sha256";
    for (const std::string& name : directoryEntries(blobs)) {
        if (referenced.count("sha256:" + name)) continue;
        // Partial downloads (".<hex>…") and stray files alike: no pull runs while we hold the lock.
        const std::string path = blobs + "/" + name;
        report.bytesFreed += fileBytes(path);
        if (::unlink(path.c_str()) == 0) ++report.blobsRemoved;
    }
    for (const std::string& name : directoryEntries(root_ + "/bases")) {
        const std::string path = root_ + "/bases/" + name;
        std::string digest = "sha256:" + name.substr(0, name.find('.'));
        if (name.ends_with(".img") && (imageDigests.count(digest) || cloneDigests.count(digest)))
            continue;
        if (name.ends_with(".lock")) continue;
        report.bytesFreed += fileBytes(path);
        if (::unlink(path.c_str()) == 0 && name.ends_with(".img")) ++report.baseDisksRemoved;
    }
    return report;
}

}  // namespace ingot::store
