#include "OperationFields.h"

#include <algorithm>
#include <cstdio>

#include "ingot/core/Error.h"
#include "ingot/core/File.h"

namespace ingot::patcher {

using imagebuild::RecipeNode;

std::string readTreePath(const RecipeNode& node) {
    std::string text = node.asNonEmptyString();
    std::string path;
    try {
        path = imagebuild::normalizePath(text, node.location().str() + ": " + node.context());
    } catch (const Error& e) {
        throw Error(e.what(), ExitStatus::kUsage);
    }
    if (path.empty()) node.fail("expected a path below the tree's root, not the root itself");
    return path;
}

uint32_t readMode(const RecipeNode& node) {
    std::string text = node.asString();
    std::string_view digits = text;
    if (digits.substr(0, 2) == "0o" || digits.substr(0, 2) == "0O") digits.remove_prefix(2);
    uint32_t mode = 0;
    bool ok = !digits.empty() && digits.size() <= 5;
    for (char c : digits) {
        if (c < '0' || c > '7')
            ok = false;
        else
            mode = mode * 8 + static_cast<uint32_t>(c - '0');
    }
    if (!ok || mode > 07777)
        node.fail(
            "expected an octal mode from 0000 to 7777 such as 0644 (modes are always "
            "octal), found '" +
            text.substr(0, 20) + "'");
    return mode;
}

std::string formatMode(uint32_t mode) {
    char buffer[8];
    std::snprintf(buffer, sizeof buffer, "%04o", mode & 07777);
    return buffer;
}

Owner readOwner(const RecipeNode& node) {
    std::string text = node.asString();
    auto colon = text.find(':');
    auto validPart = [](std::string_view part) {
        if (part.empty() || part.size() > 32) return false;
        bool numeric =
            std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (numeric) return part.size() <= 10 && std::stoull(std::string(part)) <= 0xfffffffeull;
        // The portable user name set, plus what Debian's adduser accepts in practice.
        char first = part[0];
        if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') || first == '_'))
            return false;
        return std::all_of(part.begin(), part.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '-' || c == '.';
        });
    };
    if (colon == std::string::npos || !validPart(text.substr(0, colon)) ||
        !validPart(text.substr(colon + 1)))
        node.fail("expected an owner as UID:GID (0:0) or USER:GROUP (root:adm), found '" +
                  text.substr(0, 40) + "'");
    Owner owner;
    owner.user = text.substr(0, colon);
    owner.group = text.substr(colon + 1);
    return owner;
}

SourceFile readSourceFile(const RecipeNode& node, uint64_t maxBytes) {
    SourceFile source;
    source.relative = node.asRecipePath();
    std::string where = node.location().str() + ": " + node.context();
    std::string host;
    try {
        host = imagebuild::recipeSourcePath(node.recipeDirectory(), source.relative, where);
        auto bytes = readWholeFile(host, "source " + source.relative, maxBytes);
        source.content = imagebuild::makeBlob(std::string(bytes.begin(), bytes.end()));
    } catch (const Error& e) {
        // File errors name the host path; the recipe's place is what the user edits.
        std::string message = e.what();
        if (message.rfind(where, 0) != 0) message = where + ": " + message;
        throw Error(message, ExitStatus::kUsage);
    }
    return source;
}

}  // namespace ingot::patcher
