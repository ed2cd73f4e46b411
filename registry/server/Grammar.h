// The distribution spec's grammars for repository names, tags and digests, matched by hand
// (std::regex is slow, and a backtracking engine is a denial-of-service risk on hostile input).
// Every name, tag or digest that reaches the storage layer has passed one of these first: they
// are what makes it safe to build a path from them.
#pragma once

#include <string_view>

namespace ingot::registry {

// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*, at most 255 bytes.
// Components therefore never start with '.' or '_', so ".." and our "_" metadata directories
// can never be a component.
bool isValidRepositoryName(std::string_view name);

// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
bool isValidTag(std::string_view tag);

// "sha256:" and 64 lower-case hex digits: the only algorithm this registry stores.
bool isValidDigest(std::string_view digest);

// Whether `digest` looks like algorithm:encoded from the spec's general grammar, so that an
// unsupported algorithm ("sha512:...") can be told apart from garbage in error messages.
bool looksLikeDigest(std::string_view digest);

// Glob match where '*' matches any run of characters, '/' included: the repository patterns of
// the server's access rules and the client's trust policy.
bool matchesPattern(std::string_view pattern, std::string_view text);

}  // namespace ingot::registry
