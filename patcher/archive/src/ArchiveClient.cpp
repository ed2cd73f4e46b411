#include "ingot/debian/ArchiveClient.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <optional>

#include "Download.h"
#include "ingot/debian/Text.h"
#include "ingot/core/Error.h"
#include "ingot/core/File.h"
#include "ingot/core/Sha256.h"
#include "ingot/core/TempFile.h"

namespace fs = std::filesystem;

namespace ingot::debian {

namespace {

// Debian's InRelease is a few hundred KiB.
constexpr uint64_t kMaxInReleaseBytes = 64ull << 20;

[[noreturn]] void usage(const std::string& message) {
    throw Error(message, ExitStatus::kUsage);
}
[[noreturn]] void refuse(const std::string& message) {
    throw Error(message, ExitStatus::kVerification);
}

bool exists(const std::string& path) {
    std::error_code ec;
    return fs::exists(path, ec);
}

void removeQuietly(const std::string& path) {
    std::error_code ec;
    fs::remove(path, ec);
}

// Whether a cached file still holds what its name promises. A mismatch (a disk error, someone
// editing the cache) removes it, so the next online run fetches it again.
bool cachedFileMatches(const std::string& path, uint64_t size, const std::string& sha256Hex) {
    const FileDigest d = sha256File(path, "cached file");
    if (d.size == size && toHex(d.sha256) == sha256Hex) return true;
    removeQuietly(path);
    return false;
}

void makeDirectories(const std::string& path) {
    std::error_code ec;
    fs::create_directories(path, ec);
    if (ec)
        throw Error("cannot create the cache directory " + path + ": " + ec.message(),
                    ExitStatus::kUsage);
}

void rewind(const TempFile& file) {
    if (::ftruncate(file.fd(), 0) < 0 || ::lseek(file.fd(), 0, SEEK_SET) < 0)
        throwSystemError("cannot rewind " + file.temporaryPath(), errno);
}

}  // namespace

struct ArchiveClient::State {
    ArchiveOptions options;
    std::string base;  // baseUrl without trailing slashes
    std::optional<Release> release;
    PackagesIndex packages;
    std::unique_ptr<Downloader> downloader;  // not even created offline

    Downloader& download() {
        if (!downloader) downloader = std::make_unique<Downloader>();
        return *downloader;
    }
    std::string where() const { return base + " " + options.suite; }
    std::string inReleasePath() const {
        return options.cacheDirectory + "/inrelease/" + toHex(sha256(base + "\n" + options.suite));
    }
    VerifyOptions verifyOptions(bool allowExpired) const {
        return VerifyOptions{options.keyring, allowExpired, options.now};
    }

    Release loadRelease();
    std::string loadIndex(const ReleaseFile& entry, const std::string& component);
};

Release ArchiveClient::State::loadRelease() {
    const std::string cached = inReleasePath();
    if (options.offline) {
        if (!exists(cached))
            usage("offline: the cache " + options.cacheDirectory +
                  " holds no verified InRelease for " + where() + "; run once online first");
        return verifyInRelease(cached, verifyOptions(options.allowExpiredRelease));
    }
    const std::string url = base + "/dists/" + options.suite + "/InRelease";
    TempFile file(cached);
    if (!download().fetch(url, file.fd(), kMaxInReleaseBytes).found)
        usage(url + ": not found (is " + options.suite + " a suite of this archive?)");
    Release fresh =
        verifyInRelease(file.temporaryPath(), verifyOptions(options.allowExpiredRelease));
    // A validly signed but older InRelease is how a mirror (or someone in between) would hide
    // updates published since: refuse to go back in time from what this cache has seen.
    if (exists(cached)) {
        std::optional<Release> previous;
        try {
            previous = verifyInRelease(cached, verifyOptions(true));
        } catch (const Error&) {
            // The keyring changed or the file was damaged: nothing to compare with.
        }
        if (previous && previous->dateSeconds > fresh.dateSeconds)
            refuse(url + " is dated " + fresh.date + ", older than the InRelease of " +
                   previous->date +
                   " this cache verified before; the mirror is going back in time");
    }
    file.commit(0644);
    return fresh;
}

std::string ArchiveClient::State::loadIndex(const ReleaseFile& entry,
                                            const std::string& component) {
    const std::string path = options.cacheDirectory + "/by-hash/sha256/" + entry.sha256;
    if (exists(path) && cachedFileMatches(path, entry.size, entry.sha256)) return path;
    if (options.offline)
        usage("offline: " + entry.path + " of " + where() + " (sha256 " + entry.sha256 +
              ") is not in the cache " + options.cacheDirectory + "; run once online first");
    const std::string dir = base + "/dists/" + options.suite + "/";
    TempFile file(path);
    DownloadResult got;
    if (release->acquireByHash) {
        // By-hash names never change while a mirror updates, so the index matches the
        // InRelease just read even if the mirror syncs meanwhile.
        const size_t slash = entry.path.rfind('/');
        const std::string byHash =
            (slash == std::string::npos ? std::string() : entry.path.substr(0, slash + 1)) +
            "by-hash/SHA256/" + entry.sha256;
        got = download().fetch(dir + byHash, file.fd(), entry.size);
        if (!got.found) rewind(file);
    }
    if (!got.found) got = download().fetch(dir + entry.path, file.fd(), entry.size);
    if (!got.found) usage(dir + entry.path + ": not found, though the signed Release lists it");
    if (got.size != entry.size || toHex(got.sha256) != entry.sha256)
        refuse(dir + entry.path + " (" + component + ") has " + std::to_string(got.size) +
               " bytes and sha256 " + toHex(got.sha256) + ", but the signed Release says " +
               std::to_string(entry.size) + " bytes and sha256 " + entry.sha256);
    file.commit(0644);
    return path;
}

ArchiveClient::ArchiveClient(ArchiveOptions options) : state_(std::make_unique<State>()) {
    auto& o = options;
    if (!(o.baseUrl.starts_with("http://") || o.baseUrl.starts_with("https://") ||
          o.baseUrl.starts_with("file://")))
        usage("archive URL '" + text::printable(o.baseUrl) +
              "' is not an http://, https:// or file:// URL");
    if (!text::isSafeRelativePath(o.suite))
        usage("'" + text::printable(o.suite) + "' is not a suite name");
    if (o.components.empty()) usage("no archive components given");
    for (const auto& c : o.components)
        if (!text::isSafeRelativePath(c))
            usage("'" + text::printable(c) + "' is not a component name");
    if (o.architecture.empty() || !text::isSafeRelativePath(o.architecture) ||
        o.architecture.find('/') != std::string::npos)
        usage("'" + text::printable(o.architecture) + "' is not an architecture");
    if (o.keyring.empty()) usage("no archive keyring given");
    if (o.cacheDirectory.empty()) usage("no archive cache directory given");
    state_->base = o.baseUrl;
    while (state_->base.size() > 8 && state_->base.back() == '/') state_->base.pop_back();
    state_->options = std::move(options);
}

ArchiveClient::~ArchiveClient() = default;

void ArchiveClient::update() {
    State& s = *state_;
    const ArchiveOptions& o = s.options;
    if (!o.offline) {
        makeDirectories(o.cacheDirectory + "/by-hash/sha256");
        makeDirectories(o.cacheDirectory + "/inrelease");
    }
    s.release.reset();
    s.packages = PackagesIndex();
    Release release = s.loadRelease();
    // A validly signed InRelease of another suite (an old stable's, say) must not stand in for
    // the one asked for.
    if (release.suite != o.suite && release.codename != o.suite)
        refuse(s.where() + ": the signed InRelease is for suite '" +
               text::printable(release.suite) + "' (codename '" +
               text::printable(release.codename) + "'), not '" + o.suite + "'");
    s.release = std::move(release);
    for (const std::string& component : o.components) {
        const auto& known = s.release->components;
        // Components may be listed with a prefix ("updates/main" in old security suites).
        if (!known.empty() && std::find(known.begin(), known.end(), component) == known.end() &&
            std::none_of(known.begin(), known.end(),
                         [&](const std::string& k) { return k.ends_with("/" + component); }))
            usage(s.where() + " has no component '" + component + "'");
        const std::string path = component + "/binary-" + o.architecture + "/Packages.xz";
        const ReleaseFile* entry = s.release->find(path);
        if (!entry) usage(s.where() + ": the signed Release lists no " + path);
        const std::string cached = s.loadIndex(*entry, component);
        const auto bytes = readWholeFile(cached, "cached " + path, entry->size);
        s.packages.addCompressed(
            std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), *entry,
            component, o.maxIndexBytes);
    }
}

const Release& ArchiveClient::release() const {
    if (!state_->release) throw Error("ArchiveClient::release() before update()");
    return *state_->release;
}

const PackagesIndex& ArchiveClient::packages() const {
    if (!state_->release) throw Error("ArchiveClient::packages() before update()");
    return state_->packages;
}

std::string ArchiveClient::cachePath(const std::string& sha256Hex) const {
    return state_->options.cacheDirectory + "/by-hash/sha256/" + sha256Hex;
}

std::string ArchiveClient::fetchDeb(const PackageRecord& record) {
    State& s = *state_;
    if (!text::isSha256Hex(record.sha256) || !text::isSafeRelativePath(record.filename))
        usage("package " + text::printable(record.package) + " has no valid SHA256 or Filename");
    const std::string what =
        record.package + " " + record.version.text() + " (" + record.filename + ")";
    const std::string path = cachePath(record.sha256);
    if (exists(path)) {
        if (cachedFileMatches(path, record.size, record.sha256)) return path;
        if (s.options.offline)
            usage("offline: the cached copy of " + what + " was damaged and has been removed");
    }
    if (s.options.offline)
        usage("offline: " + what + " is not in the cache " + s.options.cacheDirectory +
              "; run once online first");
    makeDirectories(s.options.cacheDirectory + "/by-hash/sha256");
    const std::string url = s.base + "/" + record.filename;
    TempFile file(path);
    const DownloadResult got = s.download().fetch(url, file.fd(), record.size);
    if (!got.found) usage(url + ": not found, though the Packages index lists it");
    // The temporary file goes with `file` when this throws: a bad .deb never reaches the cache.
    if (got.size != record.size || toHex(got.sha256) != record.sha256)
        refuse(url + " has " + std::to_string(got.size) + " bytes and sha256 " + toHex(got.sha256) +
               ", but the Packages index says " + std::to_string(record.size) +
               " bytes and sha256 " + record.sha256 + "; the download was deleted");
    file.commit(0644);
    return path;
}

}  // namespace ingot::debian
