#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ingot::registry {

struct HttpResponse {
    long status = 0;
    // Header names in lower case; a repeated header keeps its last value.
    std::map<std::string, std::string> headers;
    std::string body;  // empty when a 2xx body went to HttpRequest::outputFd
    std::string header(const std::string& lowerName) const {
        auto it = headers.find(lowerName);
        return it == headers.end() ? std::string() : it->second;
    }
};

struct HttpRequest {
    std::string method = "GET";
    std::string url;
    std::vector<std::string> headers;  // "Name: value"
    std::string_view body;             // sent as is, unless bodyFd is set
    int bodyFd = -1;                   // or this file's first bodySize bytes
    uint64_t bodySize = 0;
    int outputFd = -1;  // a 2xx response body is appended here instead of kept in memory
    // A body kept in memory longer than this fails the request: a registry cannot make the
    // client allocate without bound.
    uint64_t maxBodyBytes = 4ull << 20;
    std::function<void(uint64_t)> onBytes;  // called with each piece of body moved
};

// How long a request may take. A stalled transfer (under 1 KiB/s for a minute) fails whatever
// these say; `total` exists for callers that would rather go without an answer than wait, such
// as `ingot run` asking whether a newer release is out.
struct HttpTimeouts {
    std::chrono::milliseconds connect{30000};
    std::chrono::milliseconds total{0};  // 0: no limit
};

// One libcurl easy handle: requests on it reuse its connections (keep-alive). Not
// thread-safe; each transfer thread has its own. Only http and https URLs are followed, and
// redirects are not (a registry's blob redirects are followed by the caller, which decides
// whether credentials go along).
class HttpClient {
public:
    explicit HttpClient(bool verifyTls = true, HttpTimeouts timeouts = {});
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // Throws ingot::Error naming the method and URL when no response came (connection refused,
    // TLS failure, timeout, an oversized body); HTTP error statuses are returned, not thrown.
    HttpResponse perform(const HttpRequest& request);

private:
    struct Handle;
    std::unique_ptr<Handle> handle_;
    bool verifyTls_;
    HttpTimeouts timeouts_;
};

// Percent-encodes a query parameter value.
std::string urlEncode(std::string_view text);

}  // namespace ingot::registry
