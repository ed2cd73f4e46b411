#pragma once

#include <map>
#include <string>
#include <string_view>

namespace ingot::registry {

// The parameters of a WWW-Authenticate challenge: scheme ("bearer", "basic"; lower case) and
// its auth-params (realm, service, scope…). Empty scheme when the header is not one.
struct AuthChallenge {
    std::string scheme;
    std::map<std::string, std::string> params;
};
AuthChallenge parseAuthChallenge(std::string_view header);

}  // namespace ingot::registry
