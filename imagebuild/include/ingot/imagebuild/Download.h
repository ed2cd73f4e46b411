// Fetches a recipe input (a base tarball) over HTTP(S) with libcurl. The caller pins the content
// by sha256, so the transport only has to be bounded and fail loudly; TLS is libcurl's.
#pragma once

#include <cstdint>
#include <string>

namespace ingot::imagebuild {

// Writes the body of `url` to `path` (temporary name, renamed when complete). Only http and
// https, at most 5 redirects, an HTTP error status is an error, and more than `maxBytes` bytes
// stop the transfer. Throws ingot::Error naming the URL.
void downloadFile(const std::string& url, const std::string& path, uint64_t maxBytes = 16ull << 30);

}  // namespace ingot::imagebuild
