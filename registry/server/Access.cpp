#include "Access.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cctype>
#include <ctime>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "RegistryError.h"
#include "ingot/core/Error.h"
#include "ingot/core/Sha256.h"

namespace ingot::registry {
namespace {

using nlohmann::json;

std::string fromHex(std::string_view hex) {
    auto value = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    std::string out;
    if (hex.size() % 2) return {};
    for (size_t i = 0; i < hex.size(); i += 2) {
        int high = value(hex[i]), low = value(hex[i + 1]);
        if (high < 0 || low < 0) return {};
        out += static_cast<char>(high * 16 + low);
    }
    return out;
}

std::string pbkdf2(std::string_view password, std::string_view salt, uint32_t iterations) {
    std::string out(32, '\0');
    if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                          reinterpret_cast<const unsigned char*>(salt.data()),
                          static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                          static_cast<int>(out.size()),
                          reinterpret_cast<unsigned char*>(out.data())) != 1)
        throw Error("OpenSSL PBKDF2 failed");
    return out;
}

RegistryError unauthorized(const std::string& detail) {
    return RegistryError(401, "UNAUTHORIZED", "authentication required", detail);
}

std::optional<Right> parseRight(const std::string& text) {
    if (text == "pull") return Right::kPull;
    if (text == "push") return Right::kPush;
    if (text == "delete") return Right::kDelete;
    if (text == "overwrite-tag") return Right::kOverwriteTag;
    return std::nullopt;
}

const char* rightName(Right right) {
    switch (right) {
        case Right::kPull:
            return "pull";
        case Right::kPush:
            return "push";
        case Right::kDelete:
            return "delete";
        case Right::kOverwriteTag:
            return "overwrite-tag";
    }
    return "?";
}

// The token action that covers a right: moving a tag is a push, as far as scopes go.
const char* tokenAction(Right right) {
    switch (right) {
        case Right::kPull:
            return "pull";
        case Right::kPush:
        case Right::kOverwriteTag:
            return "push";
        case Right::kDelete:
            return "delete";
    }
    return "?";
}

// What a challenge asks a token for: clients that push also pull, as distribution's do.
std::set<std::string> scopeActions(Right right) {
    if (right == Right::kPull) return {"pull"};
    if (right == Right::kDelete) return {"delete"};
    return {"pull", "push"};
}

std::string formatUtc(int64_t seconds) {
    time_t t = static_cast<time_t>(seconds);
    struct tm utc {};
    gmtime_r(&t, &utc);
    char text[32];
    strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

}  // namespace

std::string hashPassword(std::string_view password, uint32_t iterations) {
    unsigned char salt[16];
    if (RAND_bytes(salt, sizeof salt) != 1) throw Error("OpenSSL RAND_bytes failed");
    std::string saltText(reinterpret_cast<char*>(salt), sizeof salt);
    std::string hash = pbkdf2(password, saltText, iterations);
    return "pbkdf2-sha256$" + std::to_string(iterations) + "$" + toHex(salt, sizeof salt) + "$" +
           toHex(reinterpret_cast<const uint8_t*>(hash.data()), hash.size());
}

std::unique_ptr<Access> Access::load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("cannot read auth file " + path, ExitStatus::kUsage);
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    return parse(text, path);
}

std::unique_ptr<Access> Access::parse(std::string_view text, const std::string& where) {
    auto fail = [&](const std::string& what) {
        return Error(where + ": " + what, ExitStatus::kUsage);
    };
    json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!document.is_object()) throw fail("not a JSON object");
    auto result = std::make_unique<Access>();
    Access& access = *result;
    const json& users = document.contains("users") ? document["users"] : json::object();
    if (!users.is_object()) throw fail("\"users\" must be an object of user: password hash");
    for (const auto& [name, value] : users.items()) {
        if (!value.is_string()) throw fail("user " + name + ": the password hash is not a string");
        std::string hash = value.get<std::string>();
        // pbkdf2-sha256$iterations$salt$hash
        std::vector<std::string> parts;
        size_t start = 0;
        while (true) {
            size_t dollar = hash.find('$', start);
            parts.push_back(hash.substr(start, dollar - start));
            if (dollar == std::string::npos) break;
            start = dollar + 1;
        }
        User user;
        if (parts.size() == 4 && parts[0] == "pbkdf2-sha256") {
            try {
                user.iterations = static_cast<uint32_t>(std::stoul(parts[1]));
            } catch (const std::exception&) {
            }
            user.salt = fromHex(parts[2]);
            user.hash = fromHex(parts[3]);
        }
        if (user.iterations < 1000 || user.iterations > 10000000 || user.salt.size() < 8 ||
            user.hash.size() != 32)
            throw fail("user " + name +
                       ": expected pbkdf2-sha256$ITERATIONS$SALT$HASH (see `ingot registry "
                       "passwd`), with at least 1000 iterations");
        if (name == "anonymous" || name == "*" || name.find(':') != std::string::npos)
            throw fail("user name \"" + name + "\" is reserved or contains ':'");
        access.users_[name] = user;
    }
    const json& rules = document.contains("rules") ? document["rules"] : json::array();
    if (!rules.is_array()) throw fail("\"rules\" must be an array");
    for (size_t i = 0; i < rules.size(); ++i) {
        const json& r = rules[i];
        std::string at = "rules[" + std::to_string(i) + "]";
        if (!r.is_object() || !r.contains("repository") || !r["repository"].is_string() ||
            !r.contains("users") || !r["users"].is_array() || !r.contains("rights") ||
            !r["rights"].is_array())
            throw fail(at + ": needs \"repository\" (pattern), \"users\" and \"rights\" arrays");
        AccessRule rule;
        rule.repository = r["repository"].get<std::string>();
        for (const json& u : r["users"]) {
            if (!u.is_string()) throw fail(at + ": users must be strings");
            std::string name = u.get<std::string>();
            if (name != "*" && name != "anonymous" && !access.users_.count(name))
                throw fail(at + ": unknown user \"" + name + "\"");
            rule.users.insert(name);
        }
        for (const json& right : r["rights"]) {
            std::optional<Right> parsed =
                right.is_string() ? parseRight(right.get<std::string>()) : std::nullopt;
            if (!parsed) throw fail(at + ": rights are pull, push, delete and overwrite-tag");
            rule.rights.insert(*parsed);
        }
        access.rules_.push_back(std::move(rule));
    }
    if (document.contains("challenge")) {
        const json& c = document["challenge"];
        if (c == "basic")
            access.challenge_ = Challenge::kBasic;
        else if (c == "bearer")
            access.challenge_ = Challenge::kBearer;
        else
            throw fail("\"challenge\" is \"basic\" or \"bearer\"");
    }
    if (document.contains("realm")) {
        const json& r = document["realm"];
        if (!r.is_string() ||
            !(r.get<std::string>().starts_with("https://") ||
              r.get<std::string>().starts_with("http://")) ||
            r.get<std::string>().find_first_of("\"\\ \r\n") != std::string::npos)
            throw fail("\"realm\" must be the token endpoint's http(s) URL");
        access.realm_ = r.get<std::string>();
    }
    if (document.contains("service")) {
        const json& v = document["service"];
        if (!v.is_string() || v.get<std::string>().empty() ||
            v.get<std::string>().find_first_of("\"\\\r\n") != std::string::npos)
            throw fail("\"service\" must be a plain string");
        access.service_ = v.get<std::string>();
    }
    if (document.contains("token-seconds")) {
        const json& v = document["token-seconds"];
        if (!v.is_number_integer() || v.get<int64_t>() < 10 || v.get<int64_t>() > 86400)
            throw fail("\"token-seconds\" must be a whole number from 10 to 86400");
        access.tokenSeconds_ = v.get<int64_t>();
    }
    return result;
}

Identity Access::authenticate(const std::optional<std::string>& authorization) {
    if (!authorization) return {};
    std::string_view value = *authorization;
    auto scheme = [&](std::string_view name) {
        if (value.size() <= name.size() || value[name.size()] != ' ') return false;
        for (size_t i = 0; i < name.size(); ++i)
            if (std::tolower(static_cast<unsigned char>(value[i])) != name[i]) return false;
        return true;
    };
    if (scheme("basic")) return Identity{authenticateBasic(value.substr(6)), std::nullopt};
    if (scheme("bearer")) {
        std::string_view token = value.substr(7);
        while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
        std::optional<TokenGrant> grant = issuer_.verify(token, static_cast<int64_t>(time(nullptr)));
        if (!grant) throw unauthorized("the bearer token is invalid or expired; get a new one");
        // A token outlives nothing: a user removed from the file loses access on restart, and
        // the key is new then, so a token's user is always one this file knows.
        return Identity{grant->user, grant};
    }
    throw unauthorized("only Basic and Bearer authentication are supported");
}

std::optional<std::string> Access::authenticateBasic(std::string_view credentials) {
    std::string encoded(credentials);
    while (!encoded.empty() && encoded.back() == ' ') encoded.pop_back();
    if (encoded.empty() || encoded.size() > 4096 || encoded.size() % 4)
        throw unauthorized("malformed Basic credentials");
    std::string decoded(encoded.size() / 4 * 3 + 1, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                            reinterpret_cast<const unsigned char*>(encoded.data()),
                            static_cast<int>(encoded.size()));
    if (n < 0) throw unauthorized("malformed Basic credentials");
    size_t padding = 0;
    for (size_t i = encoded.size(); i > 0 && encoded[i - 1] == '='; --i) ++padding;
    decoded.resize(static_cast<size_t>(n) - std::min<size_t>(padding, static_cast<size_t>(n)));
    size_t colon = decoded.find(':');
    if (colon == std::string::npos) throw unauthorized("malformed Basic credentials");
    std::string name = decoded.substr(0, colon);
    auto user = users_.find(name);
    if (user == users_.end()) throw unauthorized("unknown user or wrong password");
    std::string key = toHex(sha256(decoded));
    {
        std::lock_guard lock(cacheMutex_);
        if (verified_.count(key)) return name;
    }
    std::string hash = pbkdf2(std::string_view(decoded).substr(colon + 1), user->second.salt,
                              user->second.iterations);
    if (CRYPTO_memcmp(hash.data(), user->second.hash.data(), hash.size()) != 0)
        throw unauthorized("unknown user or wrong password");
    std::lock_guard lock(cacheMutex_);
    if (verified_.size() > 10000) verified_.clear();
    verified_.insert(key);
    return name;
}

bool Access::allows(const Identity& who, std::string_view repository, Right right) const {
    if (who.token && !who.token->grants(repository, tokenAction(right))) return false;
    for (const AccessRule& rule : rules_) {
        if (!rule.rights.count(right) || !matchesPattern(rule.repository, repository)) continue;
        if (!who.user && rule.users.count("anonymous")) return true;
        if (who.user && (rule.users.count("*") || rule.users.count(*who.user))) return true;
    }
    return false;
}

void Access::require(const Identity& who, std::string_view repository, Right right) const {
    if (allows(who, repository, right)) return;
    std::string scope = formatTokenScope(repository, scopeActions(right));
    if (who.token && allows(Identity{who.user, std::nullopt}, repository, right))
        throw unauthorized("the bearer token does not grant " + std::string(rightName(right)) +
                           " on " + std::string(repository))
            .withScope(scope);
    if (!who.user)
        throw unauthorized(std::string(rightName(right)) + " on " + std::string(repository) +
                           " needs credentials")
            .withScope(scope);
    throw RegistryError(403, "DENIED", "requested access to the resource is denied",
                        *who.user + " may not " + rightName(right) + " " + std::string(repository));
}

bool Access::mayListCatalog(const Identity& who) const {
    return !who.token || who.token->catalog;
}

std::string Access::challenge(const std::optional<std::string>& host,
                              const std::string& scope) const {
    if (challenge_ == Challenge::kBasic) return "Basic realm=\"ingot\"";
    std::string realm = realm_;
    if (realm.empty()) {
        // The Host header is the client's own claim of where it is talking, so a realm built from
        // it only ever sends the client back to itself; still, nothing that could end the quoted
        // string or the header gets through.
        std::string h = host.value_or("");
        bool plain = !h.empty() && h.size() <= 255 &&
                     h.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789.-:[]") == std::string::npos;
        realm = std::string(tls_ ? "https://" : "http://") + (plain ? h : "localhost") + "/token";
    }
    std::string value = "Bearer realm=\"" + realm + "\",service=\"" + service_ + "\"";
    if (!scope.empty()) value += ",scope=\"" + scope + "\"";
    return value;
}

std::string Access::issueToken(const std::optional<std::string>& authorization,
                               const std::vector<std::string>& scopes, int64_t now) {
    Identity who;
    if (authorization) {
        std::string_view value = *authorization;
        if (value.size() < 6 || (value.substr(0, 6) != "Basic " && value.substr(0, 6) != "basic "))
            throw unauthorized("the token endpoint takes Basic credentials");
        who.user = authenticateBasic(value.substr(6));
    }
    TokenGrant grant;
    grant.user = who.user;
    grant.expires = now + tokenSeconds_;
    size_t counted = 0;
    for (const std::string& text : scopes) {
        for (const TokenScope& scope : parseTokenScopes(text)) {
            // Bounded so a request cannot mint an arbitrarily large token.
            if (++counted > 64) break;
            if (scope.type == "registry" && scope.name == "catalog") {
                grant.catalog = true;
                continue;
            }
            if (scope.type != "repository" || !isValidRepositoryName(scope.name)) continue;
            for (const std::string& action : scope.actions) {
                std::vector<Right> rights;
                if (action == "pull") rights = {Right::kPull};
                if (action == "push") rights = {Right::kPush};
                if (action == "delete") rights = {Right::kDelete};
                if (action == "*") rights = {Right::kPull, Right::kPush, Right::kDelete};
                for (Right right : rights)
                    if (allows(who, scope.name, right))
                        grant.repositories[scope.name].insert(tokenAction(right));
            }
        }
    }
    std::string token = issuer_.issue(grant);
    json answer = {{"token", token},
                   {"access_token", token},
                   {"expires_in", tokenSeconds_},
                   {"issued_at", formatUtc(now)}};
    return answer.dump();
}

}  // namespace ingot::registry
