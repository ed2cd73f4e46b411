#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "Credentials.h"
#include "Freshness.h"
#include "Reference.h"
#include "RegistrySession.h"
#include "TrustPolicy.h"

namespace ingot::registry {

struct TransferOptions {
    SessionOptions session;
    unsigned parallel = 4;  // blobs in flight at once, each on its own connection
    bool progress = true;   // a progress bar when stderr is a terminal
    // Pull: overrides of the freshness checks, and where the highest versions seen are kept
    // (empty: FreshnessState's default).
    FreshnessPolicy freshness;
    std::string freshnessState;
    // Pull: where the verified freshness document is kept for `ingot images`, `ps` and `run`
    // (empty: TimestampCache's default; ChannelNews.h).
    std::string timestampCache;
};

struct PushReport {
    std::string digest;  // of the image manifest
    uint64_t blobs = 0;
    uint64_t blobsSkipped = 0;  // the registry had them
    uint64_t bytesUploaded = 0;
    uint64_t requests = 0;
};

// Pushes the ingot image tagged `tag` in the layout at `layoutDir` to `target`: every blob the
// registry lacks (HEAD first), in parallel, then the image manifest by its digest, its
// signature referrer (subject = the image manifest) under the `sha256-<hex>.sig` tag, so
// registries with and without the referrers API both find it, and last target's tag.
PushReport pushImage(const std::string& layoutDir, const std::string& tag, const Reference& target,
                     const std::optional<Credential>& credential, const TransferOptions& options);

struct PullReport {
    std::string digest;
    std::string keyId;           // of the key that verified the signature
    std::string trustedComment;  // the signature's signed comment
    uint64_t blobs = 0;
    uint64_t blobsPresent = 0;  // already in the layout
    uint64_t bytesDownloaded = 0;
    uint64_t requests = 0;
    std::optional<TimestampDocument> timestamp;  // the repository's, when it has one
    // What the user should hear that did not stop the pull (a damaged timestamp cache).
    std::vector<std::string> notes;
};

// Pulls `source` into the layout at `layoutDir` under `localTag`. The signature is found
// through the referrers API or the tag fallback and verified against `trust` before any chunk
// is downloaded, and so is the repository's freshness document when it has one (rollback,
// freeze and a tag that moved are refused; see Freshness.h); chunks already in the layout are not fetched again; an interrupted download
// resumes from its partial file; every blob is checked against its digest before it enters the
// layout, and the tags are set last, so a failed pull leaves the layout as it was (plus
// verified blobs and partial files). Only once the tags are set is the freshness document's
// version recorded (FreshnessState) and the document kept for news (TimestampCache).
PullReport pullImage(const Reference& source, const std::string& layoutDir,
                     const std::string& localTag, const TrustPolicy& trust,
                     const std::optional<Credential>& credential, const TransferOptions& options);

}  // namespace ingot::registry
