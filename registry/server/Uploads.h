// Blob uploads in progress: uploads/<uuid>/data receives the bytes as they arrive and
// uploads/<uuid>/state names the repository. The running SHA-256 lives in memory beside the
// session; OpenSSL's context cannot be saved to disk, so after a restart the bytes already
// received are hashed again the first time the upload is used. The upload's size is the data
// file's size: a chunk cut short by a dropped connection is simply where the next one resumes.
// A blob never passes through memory whole and reaches blobs/ only by Storage::commitBlob, after
// its digest matched.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "Storage.h"

namespace ingot::registry {

struct UploadSession;

// Appends one request's body to an upload; holds the upload for itself until destroyed, so two
// requests never write the same upload at once.
class UploadAppender {
public:
    UploadAppender(std::shared_ptr<UploadSession> session, std::unique_lock<std::mutex> lock);
    ~UploadAppender();
    UploadAppender(const UploadAppender&) = delete;
    UploadAppender& operator=(const UploadAppender&) = delete;

    void write(const char* data, size_t size);
    uint64_t size() const;
    std::shared_ptr<UploadSession> session() const { return session_; }

private:
    std::shared_ptr<UploadSession> session_;
    std::unique_lock<std::mutex> lock_;
};

class Uploads {
public:
    explicit Uploads(Storage& storage);

    // A new, empty upload for repository `name`; returns its id.
    std::string start(std::string_view name);
    // Bytes received so far; throws 404 BLOB_UPLOAD_UNKNOWN for an unknown id or another
    // repository's upload.
    uint64_t size(std::string_view name, std::string_view id);
    // Opens the upload for appending. `rangeStart`, from Content-Range, must equal the current
    // size (416 otherwise: a gap or an overlap). Throws 416 too when another request is writing.
    std::unique_ptr<UploadAppender> append(std::string_view name, std::string_view id,
                                           std::optional<uint64_t> rangeStart);
    // Checks the bytes against `digest` and commits them as that blob of `name`. On a mismatch
    // the upload is discarded and 400 DIGEST_INVALID thrown. `appender`, when given, is the
    // request that has just appended the final chunk and still holds the upload.
    void finish(std::string_view name, std::string_view id, std::string_view digest,
                std::unique_ptr<UploadAppender> appender = nullptr);
    // Cancels and removes the upload.
    void cancel(std::string_view name, std::string_view id);
    // Removes uploads that have not been written for `idleSeconds` and are not in use.
    size_t removeStale(int64_t idleSeconds);

private:
    std::shared_ptr<UploadSession> open(std::string_view name, std::string_view id);
    void forget(const std::string& id);

    Storage& storage_;
    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<UploadSession>, std::less<>> sessions_;
};

// Whether `id` has the form Uploads::start hands out (32 lower-case hex digits): checked
// before the id becomes part of a path.
bool isValidUploadId(std::string_view id);

}  // namespace ingot::registry
