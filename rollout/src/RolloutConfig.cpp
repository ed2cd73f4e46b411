#include "ingot/rollout/RolloutConfig.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>
#include <set>

#include "ingot/core/Error.h"
#include "ingot/core/File.h"
#include "ingot/core/Size.h"
#include "ingot/imagebuild/Recipe.h"
#include "ingot/rollout/ConsolePattern.h"
#include "server/Grammar.h"

namespace ingot::rollout {
namespace {

using imagebuild::RecipeMap;
using imagebuild::RecipeNode;

std::chrono::seconds asDuration(const RecipeNode& node) {
    try {
        return parseDuration(node.asNonEmptyString(), node.context());
    } catch (const Error& e) {
        node.fail(e.what());
    }
}

// Registry host[:port], as references name it; no scheme, no path.
std::string asRegistry(const RecipeNode& node) {
    const std::string text = node.asNonEmptyString();
    const auto hostChar = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
               c == '[' || c == ']';
    };
    if (text.size() > 255 || !std::all_of(text.begin(), text.end(), hostChar) ||
        text.find("://") != std::string::npos)
        node.fail("'" + text + "' is not a registry host[:port] (e.g. registry.example:5000)");
    return text;
}

std::string asRepository(const RecipeNode& node) {
    const std::string text = node.asNonEmptyString();
    if (!registry::isValidRepositoryName(text))
        node.fail("'" + text + "' is not a repository name (lower-case path such as gold/debian)");
    return text;
}

std::string asTag(const RecipeNode& node) {
    const std::string text = node.asNonEmptyString();
    if (!registry::isValidTag(text) || text.rfind("sha256-", 0) == 0 || text == "ingot.timestamp")
        node.fail("'" + text + "' cannot be a channel tag (a tag name, not a signature or the " +
                  "freshness tag)");
    return text;
}

SmokeSpec parseSmoke(const RecipeNode& node, SmokeSpec smoke) {
    RecipeMap m = node.asMap({"deadline", "expect", "commands", "command-timeout"});
    if (auto n = m.optional("deadline")) smoke.deadline = asDuration(*n);
    if (auto n = m.optional("command-timeout")) smoke.commandTimeout = asDuration(*n);
    if (auto n = m.optional("expect")) {
        smoke.expect = n->asNonEmptyString();
        try {
            ConsolePattern check(smoke.expect);
        } catch (const Error& e) {
            n->fail(e.what());
        }
    }
    if (auto n = m.optional("commands")) {
        smoke.commands.clear();
        for (const RecipeNode& item : n->asList()) {
            std::string command = item.asNonEmptyString();
            // Typed at the guest's shell prompt: one line, printable.
            if (std::any_of(command.begin(), command.end(), [](unsigned char c) {
                    return c < 0x20 || c == 0x7f;
                }))
                item.fail("a smoke command is one line typed at the guest's prompt: no newlines "
                          "or control characters");
            if (command.size() > 1024) item.fail("a smoke command may be at most 1024 bytes");
            smoke.commands.push_back(std::move(command));
        }
    }
    return smoke;
}

}  // namespace

std::string repositorySlug(const std::string& repository) {
    std::string slug = repository;
    std::replace(slug.begin(), slug.end(), '/', '+');
    return slug;
}

RolloutConfig parseRolloutConfig(std::string_view text, const std::string& path) {
    if (text.size() > kMaxRolloutConfigBytes)
        throw Error(path + ": a rollout file of " + formatSize(text.size()) + " is more than the " +
                        formatSize(kMaxRolloutConfigBytes) + " accepted",
                    ExitStatus::kUsage);
    YAML::Node document;
    try {
        document = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
        throw Error(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                        std::to_string(e.mark.column + 1) + ": not YAML: " + e.msg,
                    ExitStatus::kUsage);
    }
    auto state = std::make_shared<imagebuild::RecipeParseState>();
    state->file = path;
    state->directory = std::filesystem::absolute(path).parent_path().string();
    const RecipeNode root(document, "", state, {path, 0, 0});
    if (root.isNull()) root.fail("the rollout file is empty");
    RecipeMap m = root.asMap({"registry", "plain-http", "insecure", "state", "cache", "keys",
                              "timestamp", "security", "channel", "smoke", "images"});
    RolloutConfig config;
    config.path = path;
    config.registry = asRegistry(m.required("registry"));
    if (auto n = m.optional("plain-http")) config.plainHttp = n->asBool();
    if (auto n = m.optional("insecure")) config.insecure = n->asBool();
    config.stateDir = m.optional("state") ? m.required("state").asHostPath()
                                          : std::string("/var/lib/ingot/rollout");
    if (auto n = m.optional("cache")) config.cacheDir = n->asHostPath();

    RecipeMap keys = m.required("keys").asMap({"sign", "public", "timestamp"});
    config.signKey = keys.required("sign").asHostPath();
    config.publicKey = keys.required("public").asHostPath();
    config.timestampKey =
        keys.optional("timestamp") ? keys.required("timestamp").asHostPath() : config.signKey;
    if (auto n = m.optional("timestamp"))
        if (auto valid = n->asMap({"valid"}).optional("valid"))
            config.timestampValidity = asDuration(*valid);
    if (auto n = m.optional("security"))
        if (auto sources = n->asMap({"sources"}).optional("sources"))
            config.securitySources = sources->asHostPath();

    std::string channel = "stable";
    if (auto n = m.optional("channel")) channel = asTag(*n);
    SmokeSpec smoke;
    if (auto n = m.optional("smoke")) smoke = parseSmoke(*n, smoke);

    const RecipeNode images = m.required("images");
    std::set<std::string> repositories;
    for (const RecipeNode& item : images.asList()) {
        RecipeMap im = item.asMap({"repository", "recipe", "channel", "smoke"});
        ImageSpec image;
        const RecipeNode repository = im.required("repository");
        image.repository = asRepository(repository);
        if (!repositories.insert(image.repository).second)
            repository.fail("repository " + image.repository + " is listed twice");
        image.recipe = im.required("recipe").asHostPath();
        image.channel = im.optional("channel") ? asTag(im.required("channel")) : channel;
        image.smoke = im.optional("smoke") ? parseSmoke(im.required("smoke"), smoke) : smoke;
        config.images.push_back(std::move(image));
    }
    if (config.images.empty()) images.fail("no images: list at least one");
    return config;
}

RolloutConfig loadRolloutConfig(const std::string& path) {
    const std::vector<uint8_t> bytes =
        readWholeFile(path, "rollout file", kMaxRolloutConfigBytes);
    return parseRolloutConfig(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                              path);
}

}  // namespace ingot::rollout
