#include "AuthChallenge.h"

#include <algorithm>
#include <cctype>

namespace ingot::registry {

AuthChallenge parseAuthChallenge(std::string_view header) {
    AuthChallenge c;
    size_t i = 0;
    while (i < header.size() && header[i] == ' ') ++i;
    size_t start = i;
    while (i < header.size() && header[i] != ' ') ++i;
    c.scheme = std::string(header.substr(start, i - start));
    std::transform(c.scheme.begin(), c.scheme.end(), c.scheme.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    // auth-param = token "=" ( token / quoted-string ), separated by commas (RFC 7235).
    while (i < header.size()) {
        while (i < header.size() && (header[i] == ' ' || header[i] == ',')) ++i;
        size_t keyStart = i;
        while (i < header.size() && header[i] != '=' && header[i] != ',' && header[i] != ' ') ++i;
        std::string key(header.substr(keyStart, i - keyStart));
        if (i >= header.size() || header[i] != '=') continue;
        ++i;
        std::string value;
        if (i < header.size() && header[i] == '"') {
            for (++i; i < header.size() && header[i] != '"'; ++i) {
                if (header[i] == '\\' && i + 1 < header.size()) ++i;
                value += header[i];
            }
            ++i;
        } else {
            size_t valueStart = i;
            while (i < header.size() && header[i] != ',') ++i;
            value = std::string(header.substr(valueStart, i - valueStart));
        }
        std::transform(key.begin(), key.end(), key.begin(),
                       [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
        if (!key.empty()) c.params[key] = value;
    }
    return c;
}

}  // namespace ingot::registry
