#pragma once

#include <string>
#include <string_view>

namespace ingot::registry {

// An image reference: REGISTRY/REPOSITORY[:TAG][@sha256:HEX], e.g.
// localhost:5000/gold/debian:12. The registry part is required (it is where credentials and
// trust apply; there is no default registry), the repository follows the distribution spec's
// name grammar, and the tag defaults to "latest" when neither tag nor digest is given.
struct Reference {
    std::string registry;    // host[:port]
    std::string repository;  // gold/debian
    std::string tag;         // may be empty when digest is set
    std::string digest;      // sha256:…, or empty

    // What to ask the registry for: the digest when there is one, else the tag.
    std::string manifestReference() const { return digest.empty() ? tag : digest; }
    std::string str() const;
    // "registry/repository", what trust patterns match.
    std::string location() const { return registry + "/" + repository; }
};

// Throws ingot::Error (kUsage) naming the part that is wrong.
Reference parseReference(std::string_view text);

}  // namespace ingot::registry
