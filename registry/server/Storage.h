// The registry's files under ROOT (docs/registry.md, "Storage"):
//
//   blobs/sha256/<hex>                         content, shared by every repository
//   repositories/<name>/_blobs/<hex>           empty: the blob belongs to the repository
//   repositories/<name>/_manifests/<hex>       the manifest's media type; bytes are a blob
//   repositories/<name>/_tags/<tag>            "sha256:<hex>", replaced by rename
//   repositories/<name>/_referrers/<subject>/<hex>  the referrer's descriptor (JSON)
//   uploads/<uuid>/{data,state}                uploads in progress (Uploads.h)
//   tmp/                                       files being written, renamed into place when whole
//
// Every name, tag and digest passed in must already have passed Grammar.h: this class builds
// paths from them. Nothing is ever written in place: a crash leaves whole files or leftovers in
// tmp/ and uploads/, which are never read as content. A blob is renamed into blobs/ only once
// its digest matched.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ingot::registry {

struct StoredManifest {
    std::string digest;
    std::string mediaType;
    std::string bytes;
};

// What makes a manifest a referrer: the digest of its subject and its descriptor in a
// referrers response.
struct ReferrerLink {
    std::string subjectDigest;
    std::string descriptorJson;
};

class Storage {
public:
    // Creates ROOT's directories and empties tmp/ (leftovers of a crash).
    explicit Storage(std::string root);

    const std::string& root() const { return root_; }
    std::string blobPath(std::string_view digest) const;
    std::string uploadsDirectory() const { return root_ + "/uploads"; }
    // A fresh path under tmp/ for a file to be renamed into place later.
    std::string temporaryPath() const;

    // Size of a committed blob, whichever repository pushed it.
    std::optional<uint64_t> blobSize(std::string_view digest) const;
    // Size of the blob if `name` may serve it: linked to the repository and present.
    std::optional<uint64_t> repositoryBlobSize(std::string_view name,
                                               std::string_view digest) const;
    // Links an already committed blob to `name` (cross-repository mount, manifest blobs) and
    // marks it as just used, so that a collection running now keeps it. False when the blob
    // is not in the store (or was just collected).
    bool linkExistingBlob(std::string_view name, std::string_view digest);
    // Moves the complete, verified file at `path` (under uploads/ or tmp/) to blobs/ unless the
    // content is already there, and links it to `name`.
    void commitBlob(const std::string& path, std::string_view name, std::string_view digest);
    // Removes the repository's link; the content stays for other repositories until collected.
    bool unlinkBlob(std::string_view name, std::string_view digest);

    // A tag or digest to the digest of a manifest in the repository.
    std::optional<std::string> resolve(std::string_view name, std::string_view reference) const;
    std::optional<StoredManifest> readManifest(std::string_view name,
                                               std::string_view digest) const;
    // The manifest's blobs must already have been checked. `tag` may be empty.
    void putManifest(std::string_view name, std::string_view digest, std::string_view mediaType,
                     std::string_view bytes, std::string_view tag,
                     const std::optional<ReferrerLink>& referrer);
    // Removes the manifest, every tag pointing at it and its referrer entry.
    bool deleteManifest(std::string_view name, std::string_view digest);
    bool deleteTag(std::string_view name, std::string_view tag);
    std::vector<std::string> tags(std::string_view name) const;
    bool repositoryExists(std::string_view name) const;
    // Descriptors (JSON text) of the manifests in `name` whose subject is `digest`.
    std::vector<std::string> referrers(std::string_view name, std::string_view digest) const;
    // Every repository, sorted.
    std::vector<std::string> repositories() const;
    // Every manifest digest of a repository.
    std::vector<std::string> manifestDigests(std::string_view name) const;

    // Held while deciding whether a blob exists and linking or deleting it, so a collection and
    // a push never interleave on the same blob (GarbageCollector.h).
    std::mutex& blobLock(std::string_view digest);

private:
    std::string repositoryPath(std::string_view name) const;
    void writeAtomically(const std::string& path, std::string_view bytes) const;

    std::string root_;
    std::array<std::mutex, 64> blobLocks_;
};

}  // namespace ingot::registry
