// Who may do what (`ingot registry serve --auth FILE`, docs/registry.md "Access control"): users
// with PBKDF2-SHA256 password hashes, and rules that grant rights on repositories matching a
// pattern. Requests authenticate with HTTP Basic; a request without valid credentials that needs
// them gets 401 and a Basic challenge, one whose user lacks the right gets 403 DENIED.
#pragma once

#include "Grammar.h"

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

class Access {
public:
    // Parses the auth file; throws ingot::Error (kUsage) naming the file and what is wrong.
    static std::unique_ptr<Access> load(const std::string& path);
    static std::unique_ptr<Access> parse(std::string_view text, const std::string& where);

    // The user an Authorization header names, after checking the password; nullopt for no
    // header. Throws RegistryError 401 for wrong credentials.
    std::optional<std::string> authenticate(const std::optional<std::string>& authorization);
    bool allows(const std::optional<std::string>& user, std::string_view repository,
                Right right) const;
    // Throws 401 (no user) or 403 (a user without the right).
    void require(const std::optional<std::string>& user, std::string_view repository,
                 Right right) const;

private:
    struct User {
        uint32_t iterations = 0;
        std::string salt;
        std::string hash;
    };
    std::map<std::string, User> users_;
    std::vector<AccessRule> rules_;
    std::mutex cacheMutex_;
    std::set<std::string> verified_;  // sha256 of "user:password" that passed PBKDF2 already
};

// "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>" for `password`, with a fresh random salt.
std::string hashPassword(std::string_view password, uint32_t iterations = 200000);

}  // namespace ingot::registry
