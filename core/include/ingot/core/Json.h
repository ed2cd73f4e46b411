// Strict JSON for documents that several readers must agree on (manifests, OCI documents).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace ingot {

// Parses `text` with nlohmann-json and refuses a key repeated within one object: nlohmann keeps
// the last of duplicates while other readers (the firmware's, Go's) may keep the first, so a
// document with duplicates could mean different things to different readers. Errors are
// ingot::Error (ExitStatus::kVerification) naming `where`.
nlohmann::json parseJsonWithoutDuplicateKeys(std::string_view text, const std::string& where);

}  // namespace ingot
