// The rollout file: what `ingot rollout` publishes every night, where, signed with what, and
// how a candidate proves it boots. One strict YAML schema (an unknown key is an error with a
// "did you mean"), read with the recipe's node reader so errors name file, line and field.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ingot::rollout {

// How a candidate proves it boots: a clone of it must print something matching `expect` (a
// shell prompt by default) on its console within `deadline`, then each command, typed at that
// prompt, must exit 0 within `commandTimeout`. An image that boots to a login prompt sets
// `expect: 'login: $'` and lists no commands; a login prompt is not the default because an
// autologin getty prints one just before it logs in, and typing then would race it.
struct SmokeSpec {
    std::chrono::seconds deadline{600};
    std::string expect = "[#$] $";
    std::vector<std::string> commands;
    std::chrono::seconds commandTimeout{120};
};

struct ImageSpec {
    std::string repository;  // in the registry, e.g. gold/debian
    std::string recipe;      // absolute: what the first night builds when the channel is empty
    std::string channel;     // the tag clients follow, e.g. stable
    SmokeSpec smoke;
};

struct RolloutConfig {
    std::string path;      // of the rollout file
    std::string registry;  // host[:port]
    std::optional<bool> plainHttp;
    bool insecure = false;
    std::string stateDir;  // absolute: candidates, logs, reports, the rollout's own client state
    std::string cacheDir;  // absolute, or empty for ingot's default build cache
    std::string signKey;       // minisign secret key that signs images
    std::string publicKey;     // its public half: published images are verified before use
    std::string timestampKey;  // signs the freshness documents (default: signKey)
    std::chrono::seconds timestampValidity{7 * 86400};
    std::string securitySources = "/etc/apt";  // apt directory naming the security suites
    std::vector<ImageSpec> images;
};

inline constexpr const char* kDefaultRolloutConfig = "/etc/ingot/rollout.yaml";
inline constexpr uint64_t kMaxRolloutConfigBytes = 1 << 20;

// Relative paths are taken from the rollout file's directory. Throws ingot::Error (kUsage)
// naming the file, line and field of anything wrong.
RolloutConfig parseRolloutConfig(std::string_view text, const std::string& path);
RolloutConfig loadRolloutConfig(const std::string& path);

// The repository's name as one directory name under the state directory: "gold/debian" →
// "gold+debian" ('+' is never part of a repository name, so no two names meet).
std::string repositorySlug(const std::string& repository);

}  // namespace ingot::rollout
