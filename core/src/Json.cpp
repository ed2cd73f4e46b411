#include "ingot/core/Json.h"

#include <set>
#include <vector>

#include "ingot/core/Error.h"

namespace ingot {

nlohmann::json parseJsonWithoutDuplicateKeys(std::string_view text, const std::string& where) {
    using json = nlohmann::json;
    std::vector<std::set<std::string>> keys;
    std::string duplicate;
    json::parser_callback_t callback = [&](int, json::parse_event_t event, json& value) {
        if (event == json::parse_event_t::object_start) keys.emplace_back();
        if (event == json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
        if (event == json::parse_event_t::key && !keys.empty() &&
            !keys.back().insert(value.get<std::string>()).second && duplicate.empty())
            duplicate = value.get<std::string>();
        return true;
    };
    json document;
    try {
        document = json::parse(text.begin(), text.end(), callback);
    } catch (const json::exception& e) {
        throw Error(where + ": not valid JSON: " + e.what(), ExitStatus::kVerification);
    }
    if (!duplicate.empty())
        throw Error(where + ": key '" + duplicate + "' appears twice in one object",
                    ExitStatus::kVerification);
    return document;
}

void JsonFieldReader::fail(const std::string& path, const std::string& problem) const {
    throw Error(where_ + ": field '" + path + "' " + problem, ExitStatus::kVerification);
}

const nlohmann::json& JsonFieldReader::member(const json& object, const std::string& path,
                                              const char* key) const {
    const json* value = optional(object, key);
    if (!value) fail(path, "is missing");
    return *value;
}

const nlohmann::json& JsonFieldReader::object(const json& parent, const std::string& path,
                                              const char* key) const {
    const json& value = member(parent, path, key);
    if (!value.is_object()) fail(path, "must be an object");
    return value;
}

uint64_t JsonFieldReader::number(const json& parent, const std::string& path, const char* key) const {
    const json& value = member(parent, path, key);
    if (!value.is_number_unsigned()) fail(path, "must be a non-negative integer");
    return value.get<uint64_t>();
}

std::string JsonFieldReader::string(const json& parent, const std::string& path, const char* key) const {
    const json& value = member(parent, path, key);
    if (!value.is_string()) fail(path, "must be a string");
    return value.get<std::string>();
}

}  // namespace ingot
