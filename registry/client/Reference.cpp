#include "Reference.h"

#include <cctype>

#include "ingot/core/Error.h"
#include "ingot/oci/Manifests.h"
#include "server/Grammar.h"

namespace ingot::registry {

namespace {
bool isRegistryHost(std::string_view host) {
    if (host.empty() || host.size() > 253) return false;
    for (char c : host)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != ':' &&
            c != '[' && c != ']')
            return false;
    return true;
}
}  // namespace

Reference parseReference(std::string_view text) {
    const std::string quoted = "\"" + std::string(text) + "\"";
    Reference ref;
    size_t slash = text.find('/');
    if (slash == std::string_view::npos || slash == 0)
        throw Error(quoted + " names no registry: write REGISTRY/REPOSITORY:TAG, e.g. "
                             "localhost:5000/gold/debian:12",
                    ExitStatus::kUsage);
    ref.registry = std::string(text.substr(0, slash));
    if (!isRegistryHost(ref.registry))
        throw Error(quoted + ": \"" + ref.registry + "\" is not a registry host[:port]",
                    ExitStatus::kUsage);
    std::string_view rest = text.substr(slash + 1);
    if (auto at = rest.find('@'); at != std::string_view::npos) {
        ref.digest = std::string(rest.substr(at + 1));
        if (!oci::isSha256Digest(ref.digest))
            throw Error(quoted + ": \"" + ref.digest +
                            "\" is not \"sha256:\" and 64 lower-case hex digits",
                        ExitStatus::kUsage);
        rest = rest.substr(0, at);
    }
    // A tag's colon comes after the last slash; one before it belongs to nothing valid.
    if (auto colon = rest.rfind(':'); colon != std::string_view::npos &&
                                      rest.find('/', colon) == std::string_view::npos) {
        ref.tag = std::string(rest.substr(colon + 1));
        oci::checkTag(ref.tag);
        rest = rest.substr(0, colon);
    }
    ref.repository = std::string(rest);
    if (!isValidRepositoryName(ref.repository))
        throw Error(quoted + ": \"" + ref.repository +
                        "\" is not a repository name (lower-case letters and digits in "
                        "components joined by '/', separators '.', '_', '__' or '-')",
                    ExitStatus::kUsage);
    if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
    return ref;
}

std::string Reference::str() const {
    std::string s = registry + "/" + repository;
    if (!tag.empty()) s += ":" + tag;
    if (!digest.empty()) s += "@" + digest;
    return s;
}

}  // namespace ingot::registry
