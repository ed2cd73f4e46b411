#include "RegistryError.h"

#include <nlohmann/json.hpp>

namespace ingot::registry {

std::string errorBody(const std::string& code, const std::string& message,
                      const std::string& detail) {
    nlohmann::json error = {{"code", code}, {"message", message}};
    if (!detail.empty()) error["detail"] = detail;
    // Invalid UTF-8 from a hostile request must not make dump() throw while reporting an error.
    return nlohmann::json{{"errors", nlohmann::json::array({error})}}.dump(
        -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ingot::registry
