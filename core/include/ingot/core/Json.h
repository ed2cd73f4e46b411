// Strict JSON for documents that several readers must agree on (manifests, OCI documents).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace ingot {

// Parses `text` with nlohmann-json and refuses a key repeated within one object: nlohmann keeps
// the last of duplicates while other readers (the firmware's, Go's) may keep the first, so a
// document with duplicates could mean different things to different readers. Errors are
// ingot::Error (ExitStatus::kVerification) naming `where`.
nlohmann::json parseJsonWithoutDuplicateKeys(std::string_view text, const std::string& where);

// Field-by-field validation of a parsed document: every error names the document (`where`) and
// the field's path, as an ingot::Error with ExitStatus::kVerification. Readers of particular
// documents derive from it and add their own field kinds.
class JsonFieldReader {
public:
    using json = nlohmann::json;
    explicit JsonFieldReader(std::string where) : where_(std::move(where)) {}

    [[noreturn]] void fail(const std::string& path, const std::string& problem) const;

    const json* optional(const json& object, const char* key) const {
        auto it = object.find(key);
        return it == object.end() ? nullptr : &*it;
    }
    const json& member(const json& object, const std::string& path, const char* key) const;
    const json& object(const json& parent, const std::string& path, const char* key) const;
    uint64_t number(const json& parent, const std::string& path, const char* key) const;
    std::string string(const json& parent, const std::string& path, const char* key) const;

private:
    std::string where_;
};

}  // namespace ingot
