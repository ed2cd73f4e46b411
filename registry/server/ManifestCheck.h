// What the registry needs to know about a pushed manifest before it stores it: that it is a JSON
// manifest or index of the type it claims, which blobs and manifests it names (they must already
// be in the repository), and its subject and artifact type if it is a referrer. The bytes
// themselves are stored untouched.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ingot::registry {

struct ManifestFacts {
    std::string mediaType;
    bool isIndex = false;
    std::vector<std::string> blobs;      // config and layers: blobs of the repository
    std::vector<std::string> manifests;  // index entries: manifests of the repository
    // The size each descriptor of blobs and manifests declares; they must match what is stored,
    // since clients bound their downloads by them.
    std::map<std::string, uint64_t> sizes;
    std::optional<std::string> subject;  // digest of the subject, for referrers
    std::string artifactType;            // as the referrers API reports it; may be empty
    std::string annotationsJson;         // "" when the manifest has none
};

bool isManifestMediaType(std::string_view mediaType);

// `contentType` is the request's Content-Type (parameters allowed). Throws RegistryError
// (400 MANIFEST_INVALID) naming what is wrong.
ManifestFacts checkManifest(std::string_view bytes, std::string_view contentType);

// The descriptor of a stored manifest in a referrers response.
std::string referrerDescriptor(const ManifestFacts& facts, std::string_view digest, uint64_t size);

}  // namespace ingot::registry
