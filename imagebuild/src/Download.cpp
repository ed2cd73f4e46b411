#include "ingot/imagebuild/Download.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

#include "ingot/core/Error.h"
#include "ingot/core/TempFile.h"

namespace ingot::imagebuild {

namespace {

struct Sink {
    TempFile* file;
    uint64_t written = 0;
    uint64_t maxBytes;
    bool tooLarge = false;
};

size_t writeBody(char* data, size_t size, size_t count, void* user) {
    auto* sink = static_cast<Sink*>(user);
    size_t n = size * count;
    if (sink->written + n > sink->maxBytes) {
        sink->tooLarge = true;
        return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
    }
    sink->file->write(data, n);
    sink->written += n;
    return n;
}

}  // namespace

void downloadFile(const std::string& url, const std::string& path, uint64_t maxBytes) {
    static std::once_flag init;
    std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) throw Error("libcurl: cannot start a transfer");
    TempFile file(path);
    Sink sink{&file, 0, maxBytes};
    char errorText[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl.get(), CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(curl.get(), CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 30L);
    // Give up on a stalled transfer (under 1 KiB/s for a minute), not on a slow large one.
    curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, writeBody);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, errorText);
    curl_easy_setopt(curl.get(), CURLOPT_USERAGENT, "ingot");
    CURLcode rc = curl_easy_perform(curl.get());
    if (sink.tooLarge)
        throw Error(url + ": more than " + std::to_string(maxBytes) + " bytes; refusing the rest",
                    ExitStatus::kUsage);
    if (rc != CURLE_OK)
        throw Error("cannot download " + url + ": " + (errorText[0] ? errorText : curl_easy_strerror(rc)),
                    ExitStatus::kUsage);
    file.commit(0644);
}

}  // namespace ingot::imagebuild
