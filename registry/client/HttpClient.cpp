#include "HttpClient.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "ingot/core/Error.h"

namespace ingot::registry {

namespace {

void initCurlOnce() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
    const HttpRequest* request;
    HttpResponse* response;
    CURL* curl;
    uint64_t sent = 0;
    bool tooLarge = false;
    int writeError = 0;
};

size_t onHeader(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string_view line(data, size * count);
    if (line.starts_with("HTTP/")) t->response->headers.clear();  // a new response (100, 401…)
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
        std::string name(line.substr(0, colon));
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
            value.remove_prefix(1);
        while (!value.empty() && (value.back() == '\r' || value.back() == '\n' ||
                                  value.back() == ' '))
            value.remove_suffix(1);
        t->response->headers[name] = std::string(value);
    }
    return size * count;
}

size_t onBody(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t n = size * count;
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    if (t->request->outputFd >= 0 && status >= 200 && status < 300) {
        size_t done = 0;
        while (done < n) {
            ssize_t w = ::write(t->request->outputFd, data + done, n - done);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) {
                t->writeError = errno;
                return 0;  // aborts the transfer
            }
            done += static_cast<size_t>(w);
        }
    } else {
        if (t->response->body.size() + n > t->request->maxBodyBytes) {
            t->tooLarge = true;
            return 0;
        }
        t->response->body.append(data, n);
    }
    if (t->request->onBytes) t->request->onBytes(n);
    return n;
}

size_t onRead(char* buffer, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const HttpRequest& r = *t->request;
    const uint64_t total = r.bodyFd >= 0 ? r.bodySize : r.body.size();
    const size_t n = static_cast<size_t>(std::min<uint64_t>(size * count, total - t->sent));
    if (n == 0) return 0;
    if (r.bodyFd >= 0) {
        ssize_t got;
        do {
            got = ::pread(r.bodyFd, buffer, n, static_cast<off_t>(t->sent));
        } while (got < 0 && errno == EINTR);
        if (got <= 0) return CURL_READFUNC_ABORT;
        t->sent += static_cast<uint64_t>(got);
        if (r.onBytes) r.onBytes(static_cast<uint64_t>(got));
        return static_cast<size_t>(got);
    }
    std::memcpy(buffer, r.body.data() + t->sent, n);
    t->sent += n;
    if (r.onBytes) r.onBytes(n);
    return n;
}

}  // namespace

struct HttpClient::Handle {
    CURL* curl = nullptr;
    ~Handle() {
        if (curl) curl_easy_cleanup(curl);
    }
};

HttpClient::HttpClient(bool verifyTls, HttpTimeouts timeouts)
    : handle_(std::make_unique<Handle>()), verifyTls_(verifyTls), timeouts_(timeouts) {
    initCurlOnce();
    handle_->curl = curl_easy_init();
    if (!handle_->curl) throw Error("cannot initialise libcurl");
}

HttpClient::~HttpClient() = default;

HttpResponse HttpClient::perform(const HttpRequest& request) {
    CURL* curl = handle_->curl;
    curl_easy_reset(curl);
    HttpResponse response;
    Transfer transfer{&request, &response, curl};
    curl_slist* headers = nullptr;
    for (const auto& h : request.headers) headers = curl_slist_append(headers, h.c_str());
    // No "Expect: 100-continue" round trip before uploads.
    headers = curl_slist_append(headers, "Expect:");
    struct Cleanup {
        curl_slist* h;
        ~Cleanup() { curl_slist_free_all(h); }
    } cleanup{headers};

    curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, onHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, onBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeouts_.connect.count()));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeouts_.total.count()));
    // A stalled transfer (under 1 KiB/s for a minute) fails and is retried by the caller.
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, verifyTls_ ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, verifyTls_ ? 2L : 0L);
    const bool hasBody = request.bodyFd >= 0 || !request.body.empty();
    if (request.method == "HEAD") {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (request.method == "GET") {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
        if (hasBody || request.method == "PUT" || request.method == "POST" ||
            request.method == "PATCH") {
            curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(curl, CURLOPT_READFUNCTION, onRead);
            curl_easy_setopt(curl, CURLOPT_READDATA, &transfer);
            curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
                             static_cast<curl_off_t>(request.bodyFd >= 0 ? request.bodySize
                                                                         : request.body.size()));
        }
    }
    CURLcode rc = curl_easy_perform(curl);
    const std::string what = request.method + " " + request.url;
    if (transfer.tooLarge)
        throw Error(what + ": the response body is larger than the " +
                    std::to_string(request.maxBodyBytes) + " bytes this request accepts");
    if (transfer.writeError)
        throwSystemError(what + ": cannot write the response body", transfer.writeError);
    if (rc != CURLE_OK) throw Error(what + ": " + curl_easy_strerror(rc));
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    return response;
}

std::string urlEncode(std::string_view text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

}  // namespace ingot::registry
