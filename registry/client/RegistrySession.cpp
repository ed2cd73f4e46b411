#include "RegistrySession.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "ingot/core/Error.h"
#include "ingot/core/Sha256.h"

namespace ingot::registry {

namespace {

bool isLoopback(const std::string& registry) {
    std::string host = registry.starts_with("[") ? registry.substr(0, registry.find(']') + 1)
                                                 : registry.substr(0, registry.find(':'));
    return host == "localhost" || host == "127.0.0.1" || host == "[::1]";
}

// "CODE: message" of the first entry of the spec's error document, or the status alone.
std::string describeError(const HttpResponse& response) {
    std::string text = "HTTP " + std::to_string(response.status);
    nlohmann::json doc = nlohmann::json::parse(response.body, nullptr, false);
    if (doc.is_object() && doc.contains("errors") && doc["errors"].is_array() &&
        !doc["errors"].empty() && doc["errors"][0].is_object()) {
        const auto& e = doc["errors"][0];
        if (e.contains("code") && e["code"].is_string()) text += " " + e["code"].get<std::string>();
        if (e.contains("message") && e["message"].is_string())
            text += ": " + e["message"].get<std::string>().substr(0, 200);
    }
    return text;
}

bool isRedirect(long status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

bool retryable(long status) {
    return status == 429 || status >= 500;
}

}  // namespace

RegistrySession::RegistrySession(Reference reference, std::optional<Credential> credential,
                                 SessionOptions options)
    : reference_(std::move(reference)),
      credential_(std::move(credential)),
      options_(options),
      http_(options.verifyTls, options.timeouts) {
    const bool plain = options_.plainHttp.value_or(isLoopback(reference_.registry));
    base_ = (plain ? "http://" : "https://") + reference_.registry;
}

std::string RegistrySession::absolute(const std::string& location) const {
    if (location.starts_with("http://") || location.starts_with("https://")) {
        // Uploads continue on the registry we authenticated to, never elsewhere.
        if (!location.starts_with(base_ + "/"))
            throw Error(reference_.registry + " sent an upload location on another host: " +
                            location.substr(0, 200),
                        ExitStatus::kVerification);
        return location;
    }
    if (!location.starts_with("/"))
        throw Error(reference_.registry + " sent a relative upload location: " +
                        location.substr(0, 200),
                    ExitStatus::kVerification);
    return base_ + location;
}

void RegistrySession::fail(const std::string& what, const HttpResponse& response) {
    std::string message = reference_.str() + ": " + what + ": " + describeError(response);
    if (response.status == 401)
        message += credential_ ? " (the stored login for " + reference_.registry +
                                     " was refused; run `ingot login " + reference_.registry + "`)"
                               : " (log in first: `ingot login " + reference_.registry + "`)";
    else if (response.status == 403)
        message += " (the login has no right to do this here)";
    throw Error(message, response.status == 404 ? ExitStatus::kUsage : ExitStatus::kInternal);
}

HttpResponse RegistrySession::sendOnce(HttpRequest& request) {
    ++requests_;
    auto headers = request.headers;
    if (!authorization_.empty()) request.headers.push_back(authorization_);
    HttpResponse r = http_.perform(request);
    request.headers = std::move(headers);
    return r;
}

HttpResponse RegistrySession::send(HttpRequest request, const std::string& scopeActions) {
    std::mt19937 jitter(std::random_device{}());
    auto backoff = options_.firstBackoff;
    bool reauthenticated = false;
    for (unsigned attempt = 1;; ++attempt) {
        HttpResponse r;
        try {
            r = sendOnce(request);
        } catch (const Error& e) {
            if (attempt >= options_.attempts) throw;
            std::this_thread::sleep_for(backoff + std::chrono::milliseconds(jitter() % 100));
            backoff *= 2;
            continue;
        }
        if (r.status == 401 && !reauthenticated && authenticate(r, scopeActions)) {
            reauthenticated = true;
            continue;
        }
        if (!retryable(r.status) || attempt >= options_.attempts) return r;
        auto wait = backoff;
        if (long after = std::atol(r.header("retry-after").c_str()); after > 0)
            wait = std::chrono::milliseconds(std::min<long>(after, 30) * 1000);
        std::this_thread::sleep_for(wait + std::chrono::milliseconds(jitter() % 100));
        backoff *= 2;
    }
}

bool RegistrySession::authenticate(const HttpResponse& response, const std::string& scopeActions) {
    AuthChallenge c = parseAuthChallenge(response.header("www-authenticate"));
    if (c.scheme == "basic") {
        if (!credential_) return false;
        authorization_ = "Authorization: Basic " +
                         base64Encode(credential_->username + ":" + credential_->password);
        return true;
    }
    if (c.scheme != "bearer" || c.params["realm"].empty()) return false;
    const std::string& realm = c.params["realm"];
    if (!realm.starts_with("https://") && !realm.starts_with("http://"))
        throw Error(reference_.registry + " names a token service that is not http(s): " +
                        realm.substr(0, 200),
                    ExitStatus::kVerification);
    std::string scope = c.params.count("scope")
                            ? c.params["scope"]
                            : "repository:" + reference_.repository + ":" + scopeActions;
    std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&") +
                      "scope=" + urlEncode(scope);
    if (c.params.count("service")) url += "&service=" + urlEncode(c.params["service"]);
    HttpRequest token;
    token.url = url;
    token.maxBodyBytes = 1 << 20;
    if (credential_)
        token.headers.push_back("Authorization: Basic " +
                                base64Encode(credential_->username + ":" + credential_->password));
    ++requests_;
    HttpResponse r = http_.perform(token);
    if (r.status != 200) return false;
    nlohmann::json doc = nlohmann::json::parse(r.body, nullptr, false);
    std::string value;
    for (const char* key : {"token", "access_token"})
        if (doc.is_object() && doc.contains(key) && doc[key].is_string()) value = doc[key];
    if (value.empty() || value.find_first_of("\r\n") != std::string::npos) return false;
    authorization_ = "Authorization: Bearer " + value;
    return true;
}

HttpResponse RegistrySession::followRedirect(const HttpRequest& request,
                                             const HttpResponse& redirect) {
    // Registries on object storage send blob GETs to a signed URL elsewhere. It gets the same
    // request without our credential, and only one hop.
    std::string location = redirect.header("location");
    if (!location.starts_with("https://") && !location.starts_with("http://"))
        fail("GET " + request.url.substr(base_.size()) + " redirected to \"" +
                 location.substr(0, 100) + "\"",
             redirect);
    HttpRequest next = request;
    next.url = location;
    ++requests_;
    return http_.perform(next);
}

void RegistrySession::ping() {
    HttpRequest r;
    r.url = base_ + "/v2/";
    HttpResponse response = send(r);
    if (response.status != 200) fail("GET /v2/", response);
}

bool RegistrySession::hasBlob(const oci::Descriptor& blob) {
    HttpRequest r;
    r.method = "HEAD";
    r.url = base_ + "/v2/" + reference_.repository + "/blobs/" + blob.digest;
    HttpResponse response = send(r);
    if (response.status == 200) return true;
    if (response.status == 404) return false;
    fail("HEAD blob " + blob.digest, response);
}

void RegistrySession::finishUpload(const HttpResponse& started, const oci::Descriptor& blob,
                                   HttpRequest put) {
    if (started.status != 202) fail("start upload of " + blob.digest, started);
    const std::string location = absolute(started.header("location"));
    put.method = "PUT";
    put.url = location + (location.find('?') == std::string::npos ? "?" : "&") +
              "digest=" + urlEncode(blob.digest);
    put.headers = {"Content-Type: application/octet-stream"};
    HttpResponse done = send(put, "pull,push");
    if (done.status != 201) fail("upload of " + blob.digest, done);
    std::string reported = done.header("docker-content-digest");
    if (!reported.empty() && reported != blob.digest)
        throw Error(reference_.str() + ": the registry stored blob " + blob.digest + " as " +
                        reported.substr(0, 80),
                    ExitStatus::kVerification);
}

void RegistrySession::uploadBlob(const oci::Descriptor& blob, int fd,
                                 const std::function<void(uint64_t)>& onBytes) {
    HttpRequest start;
    start.method = "POST";
    start.url = base_ + "/v2/" + reference_.repository + "/blobs/uploads/";
    HttpRequest put;
    put.bodyFd = fd;
    put.bodySize = blob.size;
    put.onBytes = onBytes;
    finishUpload(send(start, "pull,push"), blob, std::move(put));
}

void RegistrySession::uploadBlob(const oci::Descriptor& blob, std::string_view bytes) {
    HttpRequest start;
    start.method = "POST";
    start.url = base_ + "/v2/" + reference_.repository + "/blobs/uploads/?digest=" +
                urlEncode(blob.digest);
    start.headers = {"Content-Type: application/octet-stream"};
    start.body = bytes;
    HttpResponse started = send(start, "pull,push");
    if (started.status == 201) return;
    // Monolithic POST is optional for registries (distribution answers 202 and drops the
    // body): the bytes go again with the PUT.
    HttpRequest put;
    put.body = bytes;
    finishUpload(started, blob, std::move(put));
}

std::optional<FetchedManifest> RegistrySession::findManifest(const std::string& reference,
                                                             uint64_t maxBytes) {
    HttpRequest r;
    r.url = base_ + "/v2/" + reference_.repository + "/manifests/" + reference;
    r.headers = {std::string("Accept: ") + oci::kMediaTypeImageManifest + ", " +
                 oci::kMediaTypeImageIndex};
    r.maxBodyBytes = maxBytes;
    HttpResponse response = send(r);
    if (response.status == 404) return std::nullopt;
    if (response.status != 200) fail("GET manifest " + reference, response);
    FetchedManifest m{response.body, response.header("content-type"), oci::sha256Digest(response.body)};
    if (reference.starts_with("sha256:") && m.digest != reference)
        throw Error(reference_.str() + ": the registry served a manifest with digest " + m.digest +
                        " for " + reference,
                    ExitStatus::kVerification);
    return m;
}

FetchedManifest RegistrySession::getManifest(const std::string& reference, uint64_t maxBytes) {
    auto m = findManifest(reference, maxBytes);
    if (!m)
        throw Error(reference_.registry + "/" + reference_.repository + " has no manifest " +
                        reference,
                    ExitStatus::kUsage);
    return *m;
}

std::string RegistrySession::putManifest(const std::string& reference, const std::string& bytes,
                                         const std::string& mediaType) {
    HttpRequest r;
    r.method = "PUT";
    r.url = base_ + "/v2/" + reference_.repository + "/manifests/" + reference;
    r.headers = {"Content-Type: " + mediaType};
    r.body = bytes;
    HttpResponse response = send(r, "pull,push");
    if (response.status != 201) fail("PUT manifest " + reference, response);
    const std::string ours = oci::sha256Digest(bytes);
    std::string reported = response.header("docker-content-digest");
    if (!reported.empty() && reported != ours)
        throw Error(reference_.str() + ": the registry stored manifest " + ours + " as " +
                        reported.substr(0, 80),
                    ExitStatus::kVerification);
    return ours;
}

void RegistrySession::downloadBlob(const oci::Descriptor& blob, const std::string& partialPath,
                                   const std::function<void(uint64_t)>& onBytes) {
    int fd = ::open(partialPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) throwSystemError("cannot open " + partialPath, errno);
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    for (unsigned attempt = 1;; ++attempt) {
        struct stat st {};
        if (::fstat(fd, &st) < 0) throwSystemError("cannot stat " + partialPath, errno);
        const uint64_t have = static_cast<uint64_t>(st.st_size);
        if (have >= blob.size) return;  // complete (or too long: the digest check says so)
        HttpRequest r;
        r.url = base_ + "/v2/" + reference_.repository + "/blobs/" + blob.digest;
        r.outputFd = fd;
        r.onBytes = onBytes;
        if (have > 0) r.headers.push_back("Range: bytes=" + std::to_string(have) + "-");
        HttpResponse response;
        try {
            response = send(r);
        } catch (const Error&) {
            if (attempt >= options_.attempts) throw;
            continue;  // what arrived stays; the next attempt asks for the rest
        }
        if (isRedirect(response.status)) response = followRedirect(r, response);
        if (response.status == 200 && have > 0) {
            // The registry ignored the Range and sent the whole blob after the part we had:
            // start again from nothing.
            if (::ftruncate(fd, 0) < 0) throwSystemError("cannot truncate " + partialPath, errno);
            continue;
        }
        if (response.status != 200 && response.status != 206) fail("GET blob " + blob.digest, response);
        if (::fstat(fd, &st) < 0) throwSystemError("cannot stat " + partialPath, errno);
        if (static_cast<uint64_t>(st.st_size) >= blob.size) return;
        if (attempt >= options_.attempts)
            throw Error(reference_.str() + ": blob " + blob.digest + " ended after " +
                            std::to_string(st.st_size) + " of " + std::to_string(blob.size) +
                            " bytes",
                        ExitStatus::kInternal);
    }
}

std::string RegistrySession::fetchBlob(const oci::Descriptor& blob, uint64_t maxBytes) {
    if (blob.size > maxBytes)
        throw Error(reference_.str() + ": blob " + blob.digest + " declares " +
                        std::to_string(blob.size) + " bytes, more than the " +
                        std::to_string(maxBytes) + " allowed here",
                    ExitStatus::kVerification);
    HttpRequest r;
    r.url = base_ + "/v2/" + reference_.repository + "/blobs/" + blob.digest;
    r.maxBodyBytes = maxBytes;
    HttpResponse response = send(r);
    if (isRedirect(response.status)) response = followRedirect(r, response);
    if (response.status != 200) fail("GET blob " + blob.digest, response);
    if (response.body.size() != blob.size || oci::sha256Digest(response.body) != blob.digest)
        throw Error(reference_.str() + ": blob " + blob.digest +
                        " came back with other content (" + std::to_string(response.body.size()) +
                        " bytes, digest " + oci::sha256Digest(response.body) + ")",
                    ExitStatus::kVerification);
    return response.body;
}

std::optional<std::vector<oci::Descriptor>> RegistrySession::referrers(
    const std::string& digest, const std::string& artifactType) {
    HttpRequest r;
    r.url = base_ + "/v2/" + reference_.repository + "/referrers/" + digest +
            "?artifactType=" + urlEncode(artifactType);
    r.headers = {std::string("Accept: ") + oci::kMediaTypeImageIndex};
    r.maxBodyBytes = oci::kMaxIndexBytes;
    HttpResponse response = send(r);
    if (response.status == 404 || response.status == 405) return std::nullopt;
    if (response.status != 200) fail("GET referrers of " + digest, response);
    oci::Index index = oci::parseIndex(response.body, reference_.str() + " referrers of " + digest);
    // A registry that ignores the filter returns everything: filter here too.
    std::erase_if(index.manifests,
                  [&](const oci::Descriptor& d) { return d.artifactType != artifactType; });
    return index.manifests;
}

std::vector<std::string> RegistrySession::listTags() {
    std::vector<std::string> tags;
    std::string path = "/v2/" + reference_.repository + "/tags/list?n=1000";
    for (int page = 0; page < 10000 && !path.empty(); ++page) {
        HttpRequest r;
        r.url = base_ + path;
        r.maxBodyBytes = 16 << 20;
        HttpResponse response = send(r);
        if (response.status == 404) return tags;  // no such repository yet
        if (response.status != 200) fail("GET tags", response);
        nlohmann::json doc = nlohmann::json::parse(response.body, nullptr, false);
        if (!doc.is_object() || !doc.contains("tags"))
            throw Error(reference_.str() + ": tags/list answered without a \"tags\" list",
                        ExitStatus::kVerification);
        if (doc["tags"].is_array())
            for (const auto& t : doc["tags"])
                if (t.is_string()) tags.push_back(t.get<std::string>());
        // Link: </v2/NAME/tags/list?n=1000&last=X>; rel="next"
        std::string link = response.header("link");
        path.clear();
        if (link.find("rel=\"next\"") != std::string::npos && link.starts_with("<")) {
            std::string target = link.substr(1, link.find('>') - 1);
            if (target.starts_with("/v2/")) path = target;
        }
    }
    return tags;
}

void RegistrySession::ensureBlob(const oci::Descriptor& blob, std::string_view bytes) {
    if (!hasBlob(blob)) uploadBlob(blob, bytes);
}

}  // namespace ingot::registry
