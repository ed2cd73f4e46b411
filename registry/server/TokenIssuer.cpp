#include "TokenIssuer.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <nlohmann/json.hpp>

#include "ingot/core/Error.h"

namespace ingot::registry {
namespace {

using nlohmann::json;

constexpr size_t kMaxTokenBytes = 64 * 1024;

std::string base64(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(bytes.data()),
                            static_cast<int>(bytes.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

std::optional<std::string> unbase64(std::string_view text) {
    if (text.empty() || text.size() % 4) return std::nullopt;
    std::string out(text.size() / 4 * 3 + 1, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(text.data()),
                            static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    size_t padding = 0;
    for (size_t i = text.size(); i > 0 && text[i - 1] == '=' && padding < 2; --i) ++padding;
    out.resize(static_cast<size_t>(n) - std::min<size_t>(padding, static_cast<size_t>(n)));
    return out;
}

std::string hmac(const std::string& key, std::string_view message) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(message.data()), message.size(), out,
              &length))
        throw Error("OpenSSL HMAC failed");
    return std::string(reinterpret_cast<char*>(out), length);
}

}  // namespace

bool TokenGrant::grants(std::string_view repository, std::string_view action) const {
    auto it = repositories.find(std::string(repository));
    if (it == repositories.end()) return false;
    return it->second.count(std::string(action)) || it->second.count("*");
}

std::vector<TokenScope> parseTokenScopes(std::string_view text) {
    std::vector<TokenScope> scopes;
    while (!text.empty()) {
        size_t space = text.find_first_of(" +");
        std::string_view one = text.substr(0, space);
        text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
        // The name may itself hold ':' (a host:port prefix), so the actions follow the last one.
        size_t first = one.find(':'), last = one.rfind(':');
        if (first == std::string_view::npos || first == last) continue;
        TokenScope scope;
        scope.type = std::string(one.substr(0, first));
        scope.name = std::string(one.substr(first + 1, last - first - 1));
        std::string_view actions = one.substr(last + 1);
        while (!actions.empty()) {
            size_t comma = actions.find(',');
            std::string_view action = actions.substr(0, comma);
            if (!action.empty()) scope.actions.emplace(action);
            actions = comma == std::string_view::npos ? std::string_view{} : actions.substr(comma + 1);
        }
        if (!scope.name.empty()) scopes.push_back(std::move(scope));
    }
    return scopes;
}

std::string formatTokenScope(std::string_view repository, const std::set<std::string>& actions) {
    std::string scope = "repository:" + std::string(repository) + ":";
    bool first = true;
    for (const std::string& action : actions) {
        if (!first) scope += ',';
        scope += action;
        first = false;
    }
    return scope;
}

TokenIssuer::TokenIssuer() : key_(32, '\0') {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(key_.data()), static_cast<int>(key_.size())) !=
        1)
        throw Error("OpenSSL RAND_bytes failed");
}

std::string TokenIssuer::issue(const TokenGrant& grant) const {
    json access = json::object();
    for (const auto& [name, actions] : grant.repositories) access[name] = actions;
    json claims = {{"sub", grant.user ? json(*grant.user) : json(nullptr)},
                   {"access", access},
                   {"catalog", grant.catalog},
                   {"exp", grant.expires}};
    std::string payload = base64(claims.dump());
    return payload + "." + base64(hmac(key_, payload));
}

std::optional<TokenGrant> TokenIssuer::verify(std::string_view token, int64_t now) const {
    if (token.size() > kMaxTokenBytes) return std::nullopt;
    size_t dot = token.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    std::string_view payload = token.substr(0, dot);
    std::optional<std::string> signature = unbase64(token.substr(dot + 1));
    std::string expected = hmac(key_, payload);
    if (!signature || signature->size() != expected.size() ||
        CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0)
        return std::nullopt;
    // Signed by us: the claims are ours, but parse them defensively all the same.
    std::optional<std::string> text = unbase64(payload);
    if (!text) return std::nullopt;
    json claims = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (!claims.is_object() || !claims.contains("exp") || !claims["exp"].is_number_integer() ||
        !claims.contains("access") || !claims["access"].is_object())
        return std::nullopt;
    TokenGrant grant;
    grant.expires = claims["exp"].get<int64_t>();
    if (grant.expires <= now) return std::nullopt;
    if (claims.contains("sub") && claims["sub"].is_string())
        grant.user = claims["sub"].get<std::string>();
    grant.catalog = claims.contains("catalog") && claims["catalog"].is_boolean() &&
                    claims["catalog"].get<bool>();
    for (const auto& [name, actions] : claims["access"].items()) {
        if (!actions.is_array()) return std::nullopt;
        for (const json& action : actions)
            if (action.is_string()) grant.repositories[name].insert(action.get<std::string>());
    }
    return grant;
}

}  // namespace ingot::registry
