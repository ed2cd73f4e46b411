#include "Target.h"

#include "RegistryError.h"

namespace ingot::registry {
namespace {

constexpr size_t kMaxTargetBytes = 4096;

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

RegistryError badTarget(const std::string& why) {
    return RegistryError(400, "NAME_INVALID", "invalid request target", why);
}

std::string decode(std::string_view text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '%') {
            bool whole = i + 2 < text.size();
            int high = whole ? hexValue(text[i + 1]) : -1;
            int low = whole ? hexValue(text[i + 2]) : -1;
            if (high < 0 || low < 0) throw badTarget("malformed percent-encoding in the query");
            char decoded = static_cast<char>(high * 16 + low);
            if (decoded == '\0') throw badTarget("NUL in the query");
            out += decoded;
            i += 2;
        } else if (c == '+') {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace

std::optional<std::string> Target::get(std::string_view key) const {
    auto it = query.lower_bound(key);
    if (it == query.end() || it->first != key) return std::nullopt;
    return it->second;
}

std::vector<std::string> Target::getAll(std::string_view key) const {
    std::vector<std::string> values;
    for (auto it = query.lower_bound(key); it != query.end() && it->first == key; ++it)
        values.push_back(it->second);
    return values;
}

Target parseTarget(std::string_view target) {
    if (target.empty() || target[0] != '/') throw badTarget("the target is not an absolute path");
    if (target.size() > kMaxTargetBytes) throw badTarget("the target is too long");
    for (char c : target) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u < 0x21 || u == 0x7f || u >= 0x80) throw badTarget("control or non-ASCII characters");
    }
    Target result;
    size_t question = target.find('?');
    result.path = std::string(target.substr(0, question));
    // Encoded characters in the path could smuggle '/', '.' or NUL past the name grammar; the
    // spec's names, tags and digests never need them.
    if (result.path.find('%') != std::string::npos)
        throw badTarget("percent-encoded characters in the path are refused");
    if (result.path.find('#') != std::string::npos) throw badTarget("fragment in the path");
    if (question == std::string_view::npos) return result;
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
        size_t amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (pair.empty()) continue;
        size_t eq = pair.find('=');
        std::string key = decode(pair.substr(0, eq));
        std::string value = eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1));
        result.query.emplace(std::move(key), std::move(value));
    }
    return result;
}

std::string encodeQueryValue(std::string_view value) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (char c : value) {
        unsigned char u = static_cast<unsigned char>(c);
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 15];
        }
    }
    return out;
}

}  // namespace ingot::registry
