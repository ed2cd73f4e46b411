#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "AuthChallenge.h"
#include "Credentials.h"
#include "HttpClient.h"
#include "Reference.h"
#include "ingot/oci/Manifests.h"

namespace ingot::registry {

struct SessionOptions {
    // http instead of https. Defaults to on only for loopback registries (localhost, 127.0.0.1,
    // [::1]), as Docker and skopeo treat them.
    std::optional<bool> plainHttp;
    bool verifyTls = true;
    unsigned attempts = 5;  // per request, for network errors, 5xx and 429
    std::chrono::milliseconds firstBackoff{200};
    HttpTimeouts timeouts;  // per attempt
};

struct FetchedManifest {
    std::string bytes;
    std::string mediaType;  // the response's Content-Type
    std::string digest;     // sha256 of bytes, computed here
};

// The client's side of the OCI distribution API for one repository. Authentication follows
// distribution: a 401 names a Basic or Bearer challenge; Basic sends the stored credential,
// Bearer fetches a token from the challenge's realm (with the credential, if any) for the
// challenge's scope and retries. Network failures, 5xx and 429 are retried with exponential
// backoff (Retry-After honoured up to 30 s). Every document fetched is size-limited and every
// blob verified by its digest before the caller sees it. Not thread-safe: one per thread.
class RegistrySession {
public:
    RegistrySession(Reference reference, std::optional<Credential> credential,
                    SessionOptions options = {});

    const Reference& reference() const { return reference_; }
    std::string baseUrl() const { return base_; }

    // GET /v2/: reachable, and the credential (if any) accepted. Throws with the fix otherwise.
    void ping();
    bool hasBlob(const oci::Descriptor& blob);
    // POST then PUT ?digest= with the file's first blob.size bytes as the body.
    void uploadBlob(const oci::Descriptor& blob, int fd, const std::function<void(uint64_t)>& onBytes);
    void uploadBlob(const oci::Descriptor& blob, std::string_view bytes);
    // Throws kVerification when the registry has no such manifest or serves more than `maxBytes`.
    FetchedManifest getManifest(const std::string& reference, uint64_t maxBytes);
    std::optional<FetchedManifest> findManifest(const std::string& reference, uint64_t maxBytes);
    // Returns the digest the registry reports (checked against ours).
    std::string putManifest(const std::string& reference, const std::string& bytes,
                            const std::string& mediaType);
    // Appends the blob to `partialPath` from its current length on (Range), so an interrupted
    // download resumes. The caller checks the digest (oci::commitPartialBlob).
    void downloadBlob(const oci::Descriptor& blob, const std::string& partialPath,
                      const std::function<void(uint64_t)>& onBytes);
    // A small blob into memory, checked against its descriptor.
    std::string fetchBlob(const oci::Descriptor& blob, uint64_t maxBytes);
    // The referrers of `digest` with `artifactType`, from the referrers API; nullopt when the
    // registry has no referrers API (404).
    std::optional<std::vector<oci::Descriptor>> referrers(const std::string& digest,
                                                          const std::string& artifactType);

    // Every tag of the repository (tags/list, following the Link header's pages).
    std::vector<std::string> listTags();
    // Pushes `bytes` as a blob unless the registry has it.
    void ensureBlob(const oci::Descriptor& blob, std::string_view bytes);

    // Requests and bytes moved, for reports and tests.
    uint64_t requests() const { return requests_; }

private:
    HttpResponse send(HttpRequest request, const std::string& scopeActions = "pull");
    HttpResponse sendOnce(HttpRequest& request);
    bool authenticate(const HttpResponse& challenge, const std::string& scopeActions);
    HttpResponse followRedirect(const HttpRequest& request, const HttpResponse& redirect);
    // The PUT ?digest= that ends an upload `started` (a 202 with its Location), with `put`'s
    // body; checks the registry's answer and the digest it reports.
    void finishUpload(const HttpResponse& started, const oci::Descriptor& blob, HttpRequest put);
    [[noreturn]] void fail(const std::string& what, const HttpResponse& response);
    std::string absolute(const std::string& location) const;

    Reference reference_;
    std::optional<Credential> credential_;
    SessionOptions options_;
    std::string base_;  // scheme://registry
    HttpClient http_;
    std::string authorization_;  // "Authorization: …" once known
    uint64_t requests_ = 0;
};


}  // namespace ingot::registry
