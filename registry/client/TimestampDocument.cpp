#include <nlohmann/json.hpp>

#include "Freshness.h"
#include "ingot/core/Error.h"
#include "ingot/oci/Manifests.h"

namespace ingot::registry {

namespace {
using nlohmann::json;

[[noreturn]] void bad(std::string_view where, const std::string& why) {
    throw Error(std::string(where) + ": " + why, ExitStatus::kVerification);
}
}  // namespace

std::string serializeTimestamp(const TimestampDocument& d) {
    json tags = json::object();
    for (const auto& [tag, digest] : d.tags) tags[tag] = digest;
    return json{{"repository", d.repository},
                {"version", d.version},
                {"expires", d.expires},
                {"tags", tags}}
        .dump();
}

TimestampDocument parseTimestamp(std::string_view text, std::string_view where) {
    json j = json::parse(text, nullptr, false);
    if (!j.is_object()) bad(where, "not a JSON object");
    for (const auto& [key, value] : j.items())
        if (key != "repository" && key != "version" && key != "expires" && key != "tags")
            bad(where, "unknown field \"" + key.substr(0, 40) + "\"");
    if (!j.contains("repository") || !j["repository"].is_string())
        bad(where, "\"repository\" must be a string");
    if (!j.contains("version") || !j["version"].is_number_unsigned())
        bad(where, "\"version\" must be a non-negative integer");
    if (!j.contains("expires") || !j["expires"].is_number_integer())
        bad(where, "\"expires\" must be an integer (Unix seconds)");
    if (!j.contains("tags") || !j["tags"].is_object()) bad(where, "\"tags\" must be an object");
    TimestampDocument d;
    d.repository = j["repository"];
    d.version = j["version"].get<uint64_t>();
    d.expires = j["expires"].get<int64_t>();
    for (const auto& [tag, digest] : j["tags"].items()) {
        if (!digest.is_string() || !oci::isSha256Digest(digest.get<std::string>()))
            bad(where, "tag \"" + tag.substr(0, 128) + "\" does not name a sha256 digest");
        d.tags[tag] = digest.get<std::string>();
    }
    return d;
}

}  // namespace ingot::registry
