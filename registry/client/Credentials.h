#pragma once

#include <optional>
#include <string>

namespace ingot::registry {

// $XDG_CONFIG_HOME/ingot, or ~/.config/ingot: where auth.json and trust.yaml live.
std::string configDirectory();

struct Credential {
    std::string username;
    std::string password;
};

// Registry logins in `path` (default configDirectory()/auth.json), in Docker's config.json
// form so existing tooling reads it: {"auths": {"HOST[:PORT]": {"auth": base64("user:pass")}}}.
// The file is written atomically with mode 0600.
class Credentials {
public:
    explicit Credentials(std::string path = {});
    // Throws ingot::Error (kUsage) naming the file when it exists but is not such a document.
    std::optional<Credential> find(const std::string& registry) const;
    void store(const std::string& registry, const Credential& credential);
    bool erase(const std::string& registry);
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

std::string base64Encode(const std::string& bytes);
// Empty optional when `text` is not base64.
std::optional<std::string> base64Decode(const std::string& text);

}  // namespace ingot::registry
