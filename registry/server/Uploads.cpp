#include "Uploads.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <vector>

#include "RegistryError.h"
#include "ingot/core/Error.h"
#include "ingot/core/Sha256.h"

namespace ingot::registry {

namespace fs = std::filesystem;

struct UploadSession {
    std::mutex mutex;
    std::string id;
    std::string name;
    std::string directory;
    int fd = -1;
    std::unique_ptr<Sha256> hash;
    uint64_t hashed = 0;  // bytes of data covered by `hash`
    bool removed = false;

    ~UploadSession() {
        if (fd >= 0) ::close(fd);
    }
    std::string dataPath() const { return directory + "/data"; }

    uint64_t size() const {
        struct stat st {};
        if (::fstat(fd, &st) < 0) throwSystemError("cannot stat upload " + id, errno);
        return static_cast<uint64_t>(st.st_size);
    }

    // Brings the hash up to the data file: after a restart, or after a write that failed
    // halfway, the bytes on disk are what counts.
    void catchUp() {
        uint64_t total = size();
        if (hash && hashed == total) return;
        hash = std::make_unique<Sha256>();
        hashed = 0;
        std::vector<char> buffer(1 << 20);
        while (hashed < total) {
            ssize_t n = ::pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(hashed));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) throwSystemError("cannot read upload " + id, n < 0 ? errno : EIO);
            hash->update(buffer.data(), static_cast<size_t>(n));
            hashed += static_cast<uint64_t>(n);
        }
    }
};

namespace {

RegistryError uploadUnknown(std::string_view id) {
    return RegistryError(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry",
                         "upload " + std::string(id));
}

}  // namespace

bool isValidUploadId(std::string_view id) {
    if (id.size() != 32) return false;
    for (char c : id)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

UploadAppender::UploadAppender(std::shared_ptr<UploadSession> session,
                               std::unique_lock<std::mutex> lock)
    : session_(std::move(session)), lock_(std::move(lock)) {}

UploadAppender::~UploadAppender() = default;

uint64_t UploadAppender::size() const {
    return session_->size();
}

void UploadAppender::write(const char* data, size_t size) {
    UploadSession& s = *session_;
    if (s.removed) throw uploadUnknown(s.id);
    s.catchUp();
    size_t done = 0;
    while (done < size) {
        ssize_t n = ::pwrite(s.fd, data + done, size - done, static_cast<off_t>(s.hashed));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            // The bytes written so far are on disk but not hashed: catchUp() starts over.
            s.hash.reset();
            throwSystemError("cannot write upload " + s.id, errno);
        }
        s.hash->update(data + done, static_cast<size_t>(n));
        s.hashed += static_cast<uint64_t>(n);
        done += static_cast<size_t>(n);
    }
}

Uploads::Uploads(Storage& storage) : storage_(storage) {}

std::string Uploads::start(std::string_view name) {
    unsigned char random[16];
    if (RAND_bytes(random, sizeof random) != 1) throw Error("OpenSSL RAND_bytes failed");
    std::string id = toHex(random, sizeof random);
    std::string directory = storage_.uploadsDirectory() + "/" + id;
    if (::mkdir(directory.c_str(), 0755) < 0)
        throwSystemError("cannot create upload " + directory, errno);
    std::string state = directory + "/state";
    {
        std::ofstream out(state, std::ios::binary);
        out << name;
        if (!out.flush()) throw Error("cannot write " + state);
    }
    int fd = ::open((directory + "/data").c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) throwSystemError("cannot create upload data in " + directory, errno);
    auto session = std::make_shared<UploadSession>();
    session->id = id;
    session->name = std::string(name);
    session->directory = directory;
    session->fd = fd;
    session->hash = std::make_unique<Sha256>();
    std::lock_guard lock(mutex_);
    sessions_[id] = session;
    return id;
}

std::shared_ptr<UploadSession> Uploads::open(std::string_view name, std::string_view id) {
    if (!isValidUploadId(id)) throw uploadUnknown(id);
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(id);
    std::shared_ptr<UploadSession> session;
    if (it != sessions_.end()) {
        session = it->second;
    } else {
        // An upload begun before a restart.
        std::string directory = storage_.uploadsDirectory() + "/" + std::string(id);
        std::ifstream state(directory + "/state", std::ios::binary);
        std::string owner;
        if (!state || !std::getline(state, owner)) throw uploadUnknown(id);
        int fd = ::open((directory + "/data").c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0) throw uploadUnknown(id);
        session = std::make_shared<UploadSession>();
        session->id = std::string(id);
        session->name = owner;
        session->directory = directory;
        session->fd = fd;
        sessions_[session->id] = session;
    }
    if (session->name != name || session->removed) throw uploadUnknown(id);
    return session;
}

void Uploads::forget(const std::string& id) {
    std::lock_guard lock(mutex_);
    sessions_.erase(id);
}

uint64_t Uploads::size(std::string_view name, std::string_view id) {
    return open(name, id)->size();
}

std::unique_ptr<UploadAppender> Uploads::append(std::string_view name, std::string_view id,
                                                std::optional<uint64_t> rangeStart) {
    std::shared_ptr<UploadSession> session = open(name, id);
    std::unique_lock lock(session->mutex, std::try_to_lock);
    if (!lock.owns_lock())
        throw RegistryError(416, "BLOB_UPLOAD_INVALID", "another request is writing this upload",
                            "upload " + std::string(id));
    if (session->removed) throw uploadUnknown(id);
    uint64_t current = session->size();
    if (rangeStart && *rangeStart != current)
        throw RegistryError(416, "BLOB_UPLOAD_INVALID",
                            "chunk does not start where the upload ends",
                            "chunk starts at " + std::to_string(*rangeStart) + ", upload has " +
                                std::to_string(current) + " bytes");
    return std::make_unique<UploadAppender>(session, std::move(lock));
}

void Uploads::finish(std::string_view name, std::string_view id, std::string_view digest,
                     std::unique_ptr<UploadAppender> appender) {
    if (!appender) appender = append(name, id, std::nullopt);
    std::shared_ptr<UploadSession> session = appender->session();
    UploadSession& s = *session;
    s.catchUp();
    std::string actual = "sha256:" + toHex(s.hash->finish());
    s.hash.reset();
    s.removed = true;  // whatever happens next, this upload is over
    std::error_code ec;
    if (actual != digest) {
        fs::remove_all(s.directory, ec);
        appender.reset();
        forget(s.id);
        throw RegistryError(400, "DIGEST_INVALID", "provided digest did not match uploaded content",
                            "expected " + std::string(digest) + ", received " + actual);
    }
    try {
        storage_.commitBlob(s.dataPath(), name, digest);
    } catch (...) {
        fs::remove_all(s.directory, ec);
        appender.reset();
        forget(s.id);
        throw;
    }
    fs::remove_all(s.directory, ec);
    appender.reset();
    forget(s.id);
}

void Uploads::cancel(std::string_view name, std::string_view id) {
    std::shared_ptr<UploadSession> session = open(name, id);
    std::unique_lock lock(session->mutex, std::try_to_lock);
    if (!lock.owns_lock())
        throw RegistryError(416, "BLOB_UPLOAD_INVALID", "another request is writing this upload",
                            "upload " + std::string(id));
    session->removed = true;
    std::error_code ec;
    fs::remove_all(session->directory, ec);
    lock.unlock();
    forget(session->id);
}

size_t Uploads::removeStale(int64_t idleSeconds) {
    size_t removed = 0;
    std::error_code ec;
    time_t now = ::time(nullptr);
    std::vector<std::string> ids;
    for (fs::directory_iterator it(storage_.uploadsDirectory(), ec), end; !ec && it != end;
         it.increment(ec))
        ids.push_back(it->path().filename().string());
    for (const std::string& id : ids) {
        std::string directory = storage_.uploadsDirectory() + "/" + id;
        std::lock_guard lock(mutex_);
        auto it = sessions_.find(id);
        std::unique_lock<std::mutex> sessionLock;
        if (it != sessions_.end()) {
            sessionLock = std::unique_lock(it->second->mutex, std::try_to_lock);
            if (!sessionLock.owns_lock()) continue;  // being written right now
        }
        struct stat st {};
        std::string probe = ::stat((directory + "/data").c_str(), &st) == 0 ? "data" : "";
        if (probe.empty() && ::stat(directory.c_str(), &st) < 0) continue;
        if (now - st.st_mtime < idleSeconds) continue;
        if (it != sessions_.end()) it->second->removed = true;
        fs::remove_all(directory, ec);
        if (sessionLock.owns_lock()) sessionLock.unlock();
        if (it != sessions_.end()) sessions_.erase(it);
        ++removed;
    }
    return removed;
}

}  // namespace ingot::registry
