#include "Credentials.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ingot/core/Error.h"
#include "ingot/core/File.h"

namespace ingot::registry {

namespace {
nlohmann::json load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return nlohmann::json::object();
    std::stringstream text;
    text << in.rdbuf();
    nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, false);
    if (!doc.is_object() || (doc.contains("auths") && !doc["auths"].is_object()))
        throw Error(path + " is not a credentials file ({\"auths\": {HOST: {\"auth\": …}}}); "
                           "fix or remove it, then `ingot login` again",
                    ExitStatus::kUsage);
    return doc;
}
}  // namespace

std::string configDirectory() { return xdgDirectory("XDG_CONFIG_HOME", ".config"); }

Credentials::Credentials(std::string path)
    : path_(path.empty() ? configDirectory() + "/auth.json" : std::move(path)) {}

std::optional<Credential> Credentials::find(const std::string& registry) const {
    nlohmann::json doc = load(path_);
    if (!doc.contains("auths") || !doc["auths"].contains(registry)) return std::nullopt;
    const auto& entry = doc["auths"][registry];
    if (!entry.is_object() || !entry.contains("auth") || !entry["auth"].is_string())
        throw Error(path_ + ": the entry for " + registry + " has no \"auth\" string",
                    ExitStatus::kUsage);
    auto decoded = base64Decode(entry["auth"].get<std::string>());
    size_t colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos)
        throw Error(path_ + ": the \"auth\" of " + registry + " is not base64(\"user:password\")",
                    ExitStatus::kUsage);
    return Credential{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

void Credentials::store(const std::string& registry, const Credential& credential) {
    nlohmann::json doc = load(path_);
    doc["auths"][registry] = {{"auth", base64Encode(credential.username + ":" + credential.password)}};
    makeDirectories(path_.substr(0, path_.rfind('/')), 0700);
    writeFileAtomically(path_, doc.dump(2) + "\n", 0600);
}

bool Credentials::erase(const std::string& registry) {
    nlohmann::json doc = load(path_);
    if (!doc.contains("auths") || !doc["auths"].contains(registry)) return false;
    doc["auths"].erase(registry);
    writeFileAtomically(path_, doc.dump(2) + "\n", 0600);
    return true;
}

std::string base64Encode(const std::string& bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(bytes.data()),
                            static_cast<int>(bytes.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

std::optional<std::string> base64Decode(const std::string& text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out(3 * (text.size() / 4) + 1, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(text.data()),
                            static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    size_t padding = 0;
    if (!text.empty() && text.back() == '=') ++padding;
    if (text.size() > 1 && text[text.size() - 2] == '=') ++padding;
    out.resize(static_cast<size_t>(n) - padding);
    return out;
}

}  // namespace ingot::registry
