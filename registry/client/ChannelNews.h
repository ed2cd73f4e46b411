// What a client knows about releases it does not run: the latest verified freshness document of
// each repository (Freshness.h), kept so that `ingot images`, `ingot ps` and `ingot run` can say
// when a channel tag such as `stable` has moved on from the digest an image or clone was made
// from, without asking the registry every time. Nothing here replaces an image: the news is
// only shown.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "Credentials.h"
#include "Freshness.h"
#include "Reference.h"
#include "RegistrySession.h"
#include "TrustPolicy.h"

namespace ingot::registry {

struct NewerRelease {
    std::string digest;  // what the tag names now
    // The document's other tags naming it (the release's version tags), sorted.
    std::vector<std::string> tags;
    bool operator==(const NewerRelease&) const = default;
};

// The release `tag` names in `document` when that is not `digest`; nullopt when the document
// has no entry for the tag or its entry is `digest`.
std::optional<NewerRelease> newerRelease(const TimestampDocument& document, const std::string& tag,
                                         const std::string& digest);

// The latest verified document per repository (REGISTRY/REPOSITORY), in `path` (default
// $XDG_STATE_HOME/ingot/timestamps.json, beside freshness.json): a JSON object mapping each
// repository to its document's fields. Written atomically under a lock (`path`.lock), so
// concurrent pulls neither tear it nor lose each other's entries. A file that is not such an
// object is treated as empty and problem() says why; the next record() replaces it.
class TimestampCache {
public:
    explicit TimestampCache(std::string path = {});

    std::map<std::string, TimestampDocument> documents() const;
    std::optional<TimestampDocument> find(const std::string& repository) const;
    // Keeps `document` unless the cache holds one of a version at least as high for its
    // repository: a cache never goes back. Returns whether it wrote.
    bool record(const TimestampDocument& document);

    const std::string& path() const { return path_; }
    // Why the file was last ignored (naming it and what is wrong), or empty.
    const std::string& problem() const { return problem_; }

private:
    // `consequence` ends problem() when the file is damaged: what the caller does about it.
    std::map<std::string, TimestampDocument> read(std::string_view consequence) const;

    std::string path_;
    mutable std::string problem_;
};

// Records `document` in the cache at `cachePath` (empty: the default) for a caller that must
// not fail over it, such as a pull that has succeeded: the cache only feeds news. Returns what
// went wrong (a damaged cache replaced, one that cannot be written), or empty.
std::string recordTimestamp(const TimestampDocument& document, const std::string& cachePath = {});

// The name the store gives an image it pulled (REGISTRY/REPOSITORY:TAG) → the repository and
// tag whose news concerns it; nullopt for a name that is not such a reference or pins a digest
// (whoever asked for a digest asked for exactly that release).
struct Channel {
    std::string repository;  // REGISTRY/REPOSITORY
    std::string tag;
    bool operator==(const Channel&) const = default;
};
std::optional<Channel> channelOf(const std::string& imageName);

// The newer release of the image the store holds as `imageName` at `digest`, by the documents
// of `documents` (TimestampCache::documents()).
std::optional<NewerRelease> newerReleaseOf(
    const std::map<std::string, TimestampDocument>& documents, const std::string& imageName,
    const std::string& digest);

// Session options for asking whether there is news: one attempt, a few seconds at most, since
// the caller carries on with what it has when the registry does not answer.
SessionOptions quickSessionOptions();

// Fetches `repository`'s document (`reference` names the repository; its tag is ignored),
// verifies it with the trust policy's keys for it, refuses it as a pull would (rollback and
// freeze, unless `policy` allows), and records it in `cache` and its version in `state`.
// Returns nullopt when the repository has no document. Throws ingot::Error when the registry
// cannot be reached or the document is refused.
std::optional<TimestampDocument> refreshTimestamp(const Reference& reference,
                                                  const TrustPolicy& trust,
                                                  const std::optional<Credential>& credential,
                                                  const SessionOptions& options,
                                                  const FreshnessPolicy& policy,
                                                  TimestampCache& cache, FreshnessState& state);

}  // namespace ingot::registry
