#include "Storage.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "Grammar.h"
#include "ingot/core/Error.h"
#include "ingot/core/Sha256.h"

namespace ingot::registry {
namespace {

namespace fs = std::filesystem;

std::string hexOf(std::string_view digest) {
    return std::string(digest.substr(7));
}

std::optional<std::string> readSmallFile(const std::string& path, size_t limit) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    // Grown as the file is read, not sized to `limit`: manifests are read with a 64 MiB limit,
    // and allocating and zeroing that much for every manifest GET made each one cost 64 MiB.
    std::string text;
    char buffer[16384];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        text.append(buffer, static_cast<size_t>(in.gcount()));
        if (text.size() > limit) return std::nullopt;
    }
    return text;
}

void syncDirectory(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

// Creates an empty file if missing; an empty file is whole the moment it exists.
void touchFile(const std::string& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throwSystemError("cannot create " + path, errno);
    ::futimens(fd, nullptr);
    ::close(fd);
}

std::vector<std::string> directoryNames(const std::string& path) {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec))
        names.push_back(it->path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

Storage::Storage(std::string root) : root_(std::move(root)) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
    std::error_code ec;
    for (const char* dir : {"/blobs/sha256", "/repositories", "/uploads", "/tmp"}) {
        fs::create_directories(root_ + dir, ec);
        if (ec) throw Error("cannot create " + root_ + dir + ": " + ec.message());
    }
    for (const std::string& name : directoryNames(root_ + "/tmp"))
        fs::remove_all(root_ + "/tmp/" + name, ec);
}

std::string Storage::blobPath(std::string_view digest) const {
    return root_ + "/blobs/sha256/" + hexOf(digest);
}

std::string Storage::temporaryPath() const {
    unsigned char random[16];
    if (RAND_bytes(random, sizeof random) != 1) throw Error("OpenSSL RAND_bytes failed");
    return root_ + "/tmp/" + toHex(random, sizeof random);
}

std::string Storage::repositoryPath(std::string_view name) const {
    return root_ + "/repositories/" + std::string(name);
}

void Storage::writeAtomically(const std::string& path, std::string_view bytes) const {
    std::string temporary = temporaryPath();
    int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) throwSystemError("cannot create " + temporary, errno);
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int error = errno;
            ::close(fd);
            ::unlink(temporary.c_str());
            throwSystemError("cannot write " + temporary, error);
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) < 0 || ::close(fd) < 0) {
        int error = errno;
        ::unlink(temporary.c_str());
        throwSystemError("cannot write " + temporary, error);
    }
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    if (::rename(temporary.c_str(), path.c_str()) < 0) {
        int error = errno;
        ::unlink(temporary.c_str());
        throwSystemError("cannot rename " + temporary + " to " + path, error);
    }
    syncDirectory(fs::path(path).parent_path().string());
}

std::mutex& Storage::blobLock(std::string_view digest) {
    return blobLocks_[std::hash<std::string_view>{}(digest) % blobLocks_.size()];
}

std::optional<uint64_t> Storage::blobSize(std::string_view digest) const {
    struct stat st {};
    if (::stat(blobPath(digest).c_str(), &st) < 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    return static_cast<uint64_t>(st.st_size);
}

std::optional<uint64_t> Storage::repositoryBlobSize(std::string_view name,
                                                    std::string_view digest) const {
    if (::access((repositoryPath(name) + "/_blobs/" + hexOf(digest)).c_str(), F_OK) < 0)
        return std::nullopt;
    return blobSize(digest);
}

bool Storage::linkExistingBlob(std::string_view name, std::string_view digest) {
    std::lock_guard lock(blobLock(digest));
    std::string path = blobPath(digest);
    // The new modification time is what tells a collection running now that the blob is in use.
    if (::utimensat(AT_FDCWD, path.c_str(), nullptr, 0) < 0) return false;
    std::string links = repositoryPath(name) + "/_blobs";
    std::error_code ec;
    fs::create_directories(links, ec);
    touchFile(links + "/" + hexOf(digest));
    return true;
}

void Storage::commitBlob(const std::string& path, std::string_view name, std::string_view digest) {
    {
        std::lock_guard lock(blobLock(digest));
        std::string destination = blobPath(digest);
        if (::utimensat(AT_FDCWD, destination.c_str(), nullptr, 0) == 0) {
            ::unlink(path.c_str());  // same content already stored
        } else {
            int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) throwSystemError("cannot open " + path, errno);
            int synced = ::fsync(fd);
            int error = errno;
            ::close(fd);
            if (synced < 0) throwSystemError("cannot sync " + path, error);
            ::chmod(path.c_str(), 0644);
            if (::rename(path.c_str(), destination.c_str()) < 0)
                throwSystemError("cannot rename " + path + " to " + destination, errno);
            ::utimensat(AT_FDCWD, destination.c_str(), nullptr, 0);
            syncDirectory(root_ + "/blobs/sha256");
        }
    }
    std::string links = repositoryPath(name) + "/_blobs";
    std::error_code ec;
    fs::create_directories(links, ec);
    touchFile(links + "/" + hexOf(digest));
}

bool Storage::unlinkBlob(std::string_view name, std::string_view digest) {
    return ::unlink((repositoryPath(name) + "/_blobs/" + hexOf(digest)).c_str()) == 0;
}

std::optional<std::string> Storage::resolve(std::string_view name,
                                            std::string_view reference) const {
    if (isValidDigest(reference)) {
        if (::access((repositoryPath(name) + "/_manifests/" + hexOf(reference)).c_str(), F_OK) < 0)
            return std::nullopt;
        return std::string(reference);
    }
    std::optional<std::string> text =
        readSmallFile(repositoryPath(name) + "/_tags/" + std::string(reference), 128);
    if (!text) return std::nullopt;
    while (!text->empty() && (text->back() == '\n' || text->back() == ' ')) text->pop_back();
    if (!isValidDigest(*text)) return std::nullopt;
    return text;
}

std::optional<StoredManifest> Storage::readManifest(std::string_view name,
                                                    std::string_view digest) const {
    std::optional<std::string> mediaType =
        readSmallFile(repositoryPath(name) + "/_manifests/" + hexOf(digest), 1024);
    if (!mediaType) return std::nullopt;
    // Manifests are small (the server refuses more than kMaxManifestBytes), so they are read
    // whole; the limit keeps a corrupted store from making us read a disk image into memory.
    std::optional<std::string> bytes = readSmallFile(blobPath(digest), 64u << 20);
    if (!bytes) return std::nullopt;
    return StoredManifest{std::string(digest), *mediaType, std::move(*bytes)};
}

void Storage::putManifest(std::string_view name, std::string_view digest,
                          std::string_view mediaType, std::string_view bytes, std::string_view tag,
                          const std::optional<ReferrerLink>& referrer) {
    std::string repository = repositoryPath(name);
    {
        std::lock_guard lock(blobLock(digest));
        if (!blobSize(digest)) {
            std::string temporary = temporaryPath();
            writeAtomically(temporary, bytes);
            if (::rename(temporary.c_str(), blobPath(digest).c_str()) < 0) {
                int error = errno;
                ::unlink(temporary.c_str());
                throwSystemError("cannot store manifest " + std::string(digest), error);
            }
            syncDirectory(root_ + "/blobs/sha256");
        } else {
            ::utimensat(AT_FDCWD, blobPath(digest).c_str(), nullptr, 0);
        }
        writeAtomically(repository + "/_manifests/" + hexOf(digest), mediaType);
    }
    if (referrer)
        writeAtomically(
            repository + "/_referrers/" + hexOf(referrer->subjectDigest) + "/" + hexOf(digest),
            referrer->descriptorJson);
    if (!tag.empty()) writeAtomically(repository + "/_tags/" + std::string(tag), digest);
}

bool Storage::deleteManifest(std::string_view name, std::string_view digest) {
    std::string repository = repositoryPath(name);
    std::string hex = hexOf(digest);
    if (::access((repository + "/_manifests/" + hex).c_str(), F_OK) < 0) return false;
    for (const std::string& tag : tags(name))
        if (resolve(name, tag) == std::string(digest))
            ::unlink((repository + "/_tags/" + tag).c_str());
    for (const std::string& subject : directoryNames(repository + "/_referrers"))
        ::unlink((repository + "/_referrers/" + subject + "/" + hex).c_str());
    return ::unlink((repository + "/_manifests/" + hex).c_str()) == 0;
}

bool Storage::deleteTag(std::string_view name, std::string_view tag) {
    return ::unlink((repositoryPath(name) + "/_tags/" + std::string(tag)).c_str()) == 0;
}

std::vector<std::string> Storage::tags(std::string_view name) const {
    std::vector<std::string> result;
    for (std::string& tag : directoryNames(repositoryPath(name) + "/_tags"))
        if (isValidTag(tag)) result.push_back(std::move(tag));
    return result;
}

bool Storage::repositoryExists(std::string_view name) const {
    std::string repository = repositoryPath(name);
    return ::access((repository + "/_manifests").c_str(), F_OK) == 0 ||
           ::access((repository + "/_blobs").c_str(), F_OK) == 0;
}

std::vector<std::string> Storage::referrers(std::string_view name, std::string_view digest) const {
    std::vector<std::string> result;
    std::string directory = repositoryPath(name) + "/_referrers/" + hexOf(digest);
    for (const std::string& hex : directoryNames(directory)) {
        if (!isValidDigest("sha256:" + hex)) continue;
        if (::access((repositoryPath(name) + "/_manifests/" + hex).c_str(), F_OK) < 0) continue;
        if (std::optional<std::string> text = readSmallFile(directory + "/" + hex, 1u << 20))
            result.push_back(std::move(*text));
    }
    return result;
}

std::vector<std::string> Storage::repositories() const {
    std::vector<std::string> result;
    std::string base = root_ + "/repositories";
    std::error_code ec;
    fs::recursive_directory_iterator it(base, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
        std::string leaf = it->path().filename().string();
        if (!leaf.empty() && leaf[0] == '_') {
            it.disable_recursion_pending();
            continue;
        }
        if (!it->is_directory()) continue;
        std::string name = fs::relative(it->path(), base).string();
        if (isValidRepositoryName(name) && repositoryExists(name)) result.push_back(name);
    }
    std::sort(result.begin(), result.end());
    result.erase(std::unique(result.begin(), result.end()), result.end());
    return result;
}

std::vector<std::string> Storage::manifestDigests(std::string_view name) const {
    std::vector<std::string> result;
    for (const std::string& hex : directoryNames(repositoryPath(name) + "/_manifests"))
        if (isValidDigest("sha256:" + hex)) result.push_back("sha256:" + hex);
    return result;
}

}  // namespace ingot::registry
