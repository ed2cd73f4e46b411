// Who may do what (`ingot registry serve --auth FILE`, docs/registry.md "Access control"): users
// with PBKDF2-SHA256 password hashes, and rules that grant rights on repositories matching a
// pattern. Requests authenticate with HTTP Basic, or with a Bearer token from the token endpoint
// (TokenIssuer.h) when the file asks for distribution's token flow; a request without valid
// credentials that needs them gets 401 and a challenge, one whose user lacks the right gets 403
// DENIED.
#pragma once

#include "Grammar.h"
#include "TokenIssuer.h"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ingot::registry {

enum class Right { kPull, kPush, kDelete, kOverwriteTag };

struct AccessRule {
    std::string repository;       // pattern: '*' matches any run of characters, '/' included
    std::set<std::string> users;  // user names; "*" any authenticated user; "anonymous"
    std::set<Right> rights;
};

// Who a request is: a user (or anonymous), and when it came with a Bearer token, what the token
// grants. A token narrows the user's rights to the actions it names; it never widens them.
struct Identity {
    std::optional<std::string> user;
    std::optional<TokenGrant> token;
};

enum class Challenge { kBasic, kBearer };

class Access {
public:
    // Parses the auth file; throws ingot::Error (kUsage) naming the file and what is wrong.
    static std::unique_ptr<Access> load(const std::string& path);
    static std::unique_ptr<Access> parse(std::string_view text, const std::string& where);

    // Who an Authorization header (Basic or Bearer) names, after checking the password or the
    // token; anonymous for no header. Throws RegistryError 401 for wrong credentials.
    Identity authenticate(const std::optional<std::string>& authorization);
    bool allows(const Identity& who, std::string_view repository, Right right) const;
    // Throws 401 (anonymous, or a token lacking the action; the error carries the scope a new
    // token needs) or 403 (a user without the right).
    void require(const Identity& who, std::string_view repository, Right right) const;
    // The catalog is listed to token holders only when their token names registry:catalog:*.
    bool mayListCatalog(const Identity& who) const;

    // The WWW-Authenticate value of a 401. `host` is the request's Host header (the token
    // endpoint's default realm is on the same host); `scope` what a token must grant.
    std::string challenge(const std::optional<std::string>& host, const std::string& scope) const;
    // GET /token?service=…&scope=…: the JSON body of a token answer. Throws 401 for wrong
    // credentials; scopes the user has no right to are left out of the token, not refused.
    std::string issueToken(const std::optional<std::string>& authorization,
                           const std::vector<std::string>& scopes, int64_t now);
    void setTls(bool tls) { tls_ = tls; }
    Challenge challengeKind() const { return challenge_; }

private:
    std::optional<std::string> authenticateBasic(std::string_view credentials);

    struct User {
        uint32_t iterations = 0;
        std::string salt;
        std::string hash;
    };
    std::map<std::string, User> users_;
    std::vector<AccessRule> rules_;
    Challenge challenge_ = Challenge::kBasic;
    std::string realm_;  // the token endpoint's URL; empty: http(s)://HOST/token
    std::string service_ = "ingot";
    int64_t tokenSeconds_ = 300;
    bool tls_ = false;
    TokenIssuer issuer_;
    std::mutex cacheMutex_;
    std::set<std::string> verified_;  // sha256 of "user:password" that passed PBKDF2 already
};

// "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>" for `password`, with a fresh random salt.
std::string hashPassword(std::string_view password, uint32_t iterations = 200000);

}  // namespace ingot::registry
