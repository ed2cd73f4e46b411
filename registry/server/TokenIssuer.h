// Bearer tokens of the distribution token flow (docs/registry.md, "Access control"): the token
// endpoint hands a client a short-lived token naming its user and the repository actions it was
// granted; later requests present it instead of the password. Tokens are HMAC-SHA256 signed with
// a key drawn at start-up, so they need no server-side state and die with the process.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ingot::registry {

struct TokenGrant {
    std::optional<std::string> user;                          // nullopt: anonymous
    std::map<std::string, std::set<std::string>> repositories;  // name -> "pull", "push", "delete"
    bool catalog = false;                                     // registry:catalog:*
    int64_t expires = 0;                                      // Unix seconds

    bool grants(std::string_view repository, std::string_view action) const;
};

// One scope of a token request: "repository:NAME:pull,push" or "registry:catalog:*".
struct TokenScope {
    std::string type;
    std::string name;
    std::set<std::string> actions;
};

// Splits a `scope=` value (several scopes may be separated by spaces); malformed scopes are
// skipped, as distribution's token servers do, so they simply grant nothing.
std::vector<TokenScope> parseTokenScopes(std::string_view text);
// "repository:NAME:a,b": the scope a challenge asks for.
std::string formatTokenScope(std::string_view repository, const std::set<std::string>& actions);

class TokenIssuer {
public:
    TokenIssuer();  // a fresh random key

    std::string issue(const TokenGrant& grant) const;
    // The grant a token carries, or nullopt when it is malformed, forged or expired at `now`.
    std::optional<TokenGrant> verify(std::string_view token, int64_t now) const;

private:
    std::string key_;
};

}  // namespace ingot::registry
