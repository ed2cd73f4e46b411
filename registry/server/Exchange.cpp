#include "Exchange.h"

#include "RegistryError.h"

namespace ingot::registry {

Response errorResponse(int status, const std::string& code, const std::string& message,
                       const std::string& detail) {
    Response r;
    r.status = status;
    r.body = errorBody(code, message, detail);
    r.set("Content-Type", "application/json");
    return r;
}

}  // namespace ingot::registry
