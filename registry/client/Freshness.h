#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "RegistrySession.h"
#include "ingot/sign/Minisign.h"

namespace ingot::registry {

// Freshness (DESIGN.md; TUF's timestamp role, simplified). Each repository carries the tag
// `ingot.timestamp`: an artifact whose config blob is a small JSON document — repository,
// version (strictly increasing), expires (Unix seconds), tag → manifest digest — and whose one
// layer is that document's .minisig. Clients remember the highest version they saw per
// repository and refuse an older document (rollback: a registry serving yesterday's tags) and
// an expired one (freeze: a registry that stopped updating, hiding newer fixes).
inline constexpr const char* kTimestampTag = "ingot.timestamp";
inline constexpr const char* kArtifactTypeTimestamp = "application/vnd.ingot.timestamp.v1";
inline constexpr const char* kMediaTypeTimestamp = "application/vnd.ingot.timestamp.v1+json";
inline constexpr uint64_t kMaxTimestampBytes = 1 << 20;

struct TimestampDocument {
    std::string repository;  // registry/repository it speaks for
    uint64_t version = 0;
    int64_t expires = 0;                      // Unix seconds
    std::map<std::string, std::string> tags;  // tag -> sha256 digest
    bool operator==(const TimestampDocument&) const = default;
};

// Deterministic JSON (sorted keys, no whitespace): the bytes that are signed.
std::string serializeTimestamp(const TimestampDocument& document);
// Throws ingot::Error (kVerification) naming `where` and the field.
TimestampDocument parseTimestamp(std::string_view text, std::string_view where);

// Signs and pushes a new document for the session's repository: its tags and their digests as
// the registry lists them now (signature tags and the timestamp tag left out), version
// `version` or, by default, one more than the current document's, and expiry now + validity.
TimestampDocument publishTimestamp(RegistrySession& session, const sign::MinisignSecretKey& key,
                                   std::chrono::seconds validity,
                                   std::optional<uint64_t> version = std::nullopt);

struct VerifiedTimestamp {
    TimestampDocument document;
    std::string keyId;
};
// The repository's document, verified with one of `keys`; nullopt when it has none. Throws
// ingot::Error (kVerification) for a document that does not verify or speaks for another
// repository.
std::optional<VerifiedTimestamp> fetchTimestamp(RegistrySession& session,
                                                const std::vector<sign::MinisignPublicKey>& keys);

// The highest version seen per repository, in `path` (default $XDG_STATE_HOME/ingot/
// freshness.json, or ~/.local/state/ingot/freshness.json), updated atomically.
class FreshnessState {
public:
    explicit FreshnessState(std::string path = {});
    uint64_t highest(const std::string& repository) const;
    void record(const std::string& repository, uint64_t version);
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

struct FreshnessPolicy {
    bool allowRollback = false;
    bool allowExpired = false;
};

// Refuses (kVerification, each with its own message and override) a document older than the
// highest seen, an expired one, and one whose entry for `tag` names another digest than the one
// being pulled.
void checkFreshness(const VerifiedTimestamp& timestamp, const FreshnessState& state,
                    const FreshnessPolicy& policy, const std::string& tag,
                    const std::string& digest, int64_t now);

}  // namespace ingot::registry
