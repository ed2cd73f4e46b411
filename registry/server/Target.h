// The request target, split and checked before anything is routed: the path must be plain
// (no percent-encoding, no control characters or NUL, bounded length); query values are decoded
// but stay hostile text that the router checks against Grammar.h.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ingot::registry {

struct Target {
    std::string path;
    std::multimap<std::string, std::string, std::less<>> query;  // in the order sent

    // The first value of `key`.
    std::optional<std::string> get(std::string_view key) const;
    // Every value of `key` (a token request names one scope per `scope=`).
    std::vector<std::string> getAll(std::string_view key) const;
};

// Throws RegistryError (400) for a target that is not a plain absolute path with a query.
Target parseTarget(std::string_view target);

// Percent-encodes a query value (tags and names need none; digests have ':').
std::string encodeQueryValue(std::string_view value);

}  // namespace ingot::registry
