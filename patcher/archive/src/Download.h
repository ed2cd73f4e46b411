// libcurl transfers for the archive client: http, https and file URLs, streamed into a file
// descriptor while hashing, with a hard size cap. Integrity comes from the hashes the signed
// Release and Packages give, not from the transport, so plain http mirrors are fine.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ingot/core/Sha256.h"

namespace ingot::debian {

struct DownloadResult {
    bool found = false;  // false for HTTP 404/410 and a missing file:// path
    uint64_t size = 0;
    Sha256Digest sha256{};
};

class Downloader {
public:
    Downloader();
    ~Downloader();
    Downloader(const Downloader&) = delete;
    Downloader& operator=(const Downloader&) = delete;

    // Appends the body to `fd`. Throws ingot::Error naming the URL when the transfer fails,
    // the server answers with another error status, or the body exceeds maxBytes.
    DownloadResult fetch(const std::string& url, int fd, uint64_t maxBytes);

private:
    struct Handle;
    std::unique_ptr<Handle> handle_;
};

}  // namespace ingot::debian
