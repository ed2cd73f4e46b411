#pragma once

#include <string>
#include <vector>

#include "ingot/sign/Minisign.h"
#include "server/Grammar.h"

namespace ingot::registry {

// Which minisign keys may sign images from where: $XDG_CONFIG_HOME/ingot/trust.yaml,
//
//   trust:
//     - for: "localhost:5000/gold/*"     # REGISTRY/REPOSITORY pattern; * matches anything
//       key: "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3"
//
// `key` is a minisign public key (the .pub file's second line). An image is usable only when its
// signature verifies with a key whose entry matches its location.
struct TrustEntry {
    std::string pattern;
    sign::MinisignPublicKey key;
};

class TrustPolicy {
public:
    // Reads `path` (default configDirectory()/trust.yaml); a missing file is an empty policy.
    // Throws ingot::Error (kUsage) naming the file and entry for anything malformed.
    static TrustPolicy load(std::string path = {});

    // The keys trusted for "registry/repository".
    std::vector<sign::MinisignPublicKey> keysFor(const std::string& location) const;
    // Adds an entry and writes the file atomically (0644).
    void add(const std::string& pattern, const sign::MinisignPublicKey& key);

    const std::string& path() const { return path_; }
    const std::vector<TrustEntry>& entries() const { return entries_; }

private:
    std::string path_;
    std::vector<TrustEntry> entries_;
};

}  // namespace ingot::registry
