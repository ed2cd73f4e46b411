#include "Download.h"

#include <curl/curl.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

#include "ingot/core/Error.h"

namespace ingot::debian {

namespace {

void initCurlOnce() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
    CURL* curl = nullptr;
    int fd = -1;
    uint64_t maxBytes = 0;
    uint64_t size = 0;
    Sha256 hash;
    bool tooLarge = false;
    int writeError = 0;
};

bool successStatus(long status) {
    // file:// transfers report 0.
    return status == 0 || (status >= 200 && status < 300);
}

size_t onBody(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t n = size * count;
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    if (!successStatus(status)) return n;  // an error page: dropped, the status says enough
    if (t->size + n > t->maxBytes) {
        t->tooLarge = true;
        return 0;  // aborts the transfer
    }
    size_t done = 0;
    while (done < n) {
        ssize_t w = ::write(t->fd, data + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            t->writeError = errno;
            return 0;
        }
        done += static_cast<size_t>(w);
    }
    t->hash.update(data, n);
    t->size += n;
    return n;
}

}  // namespace

struct Downloader::Handle {
    CURL* curl = nullptr;
    ~Handle() {
        if (curl) curl_easy_cleanup(curl);
    }
};

Downloader::Downloader() : handle_(std::make_unique<Handle>()) {
    initCurlOnce();
    handle_->curl = curl_easy_init();
    if (!handle_->curl) throw Error("cannot initialise libcurl");
}

Downloader::~Downloader() = default;

DownloadResult Downloader::fetch(const std::string& url, int fd, uint64_t maxBytes) {
    CURL* curl = handle_->curl;
    curl_easy_reset(curl);
    Transfer t;
    t.curl = curl;
    t.fd = fd;
    t.maxBytes = maxBytes;
    char errorBuffer[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https,file");
    // Mirrors redirect to nearby hosts; a redirect must never reach a local file.
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, onBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errorBuffer);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
    // A stalled mirror (under 1 KiB/s for a minute) fails rather than hanging a nightly run.
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "ingot");
    const CURLcode rc = curl_easy_perform(curl);
    if (t.tooLarge)
        throw Error(url + ": larger than the " + std::to_string(maxBytes) + " bytes expected",
                    ExitStatus::kVerification);
    if (t.writeError) throwSystemError(url + ": cannot write what was downloaded", t.writeError);
    DownloadResult result;
    if (rc == CURLE_FILE_COULDNT_READ_FILE) return result;
    if (rc != CURLE_OK)
        throw Error(url + ": " +
                    (errorBuffer[0] ? std::string(errorBuffer) : curl_easy_strerror(rc)));
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status == 404 || status == 410) return result;
    if (!successStatus(status))
        throw Error(url + ": the server answered HTTP " + std::to_string(status));
    result.found = true;
    result.size = t.size;
    result.sha256 = t.hash.finish();
    return result;
}

}  // namespace ingot::debian
