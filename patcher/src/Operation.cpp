#include "ingot/patcher/Operation.h"

#include <algorithm>
#include <array>

#include "ingot/core/Error.h"
#include "ops/Kinds.h"

namespace ingot::patcher {

Operation::Operation(const imagebuild::RecipeNode& body)
    : where_(body.location().str() + ": " + body.context()) {}

void Operation::fail(const std::string& message) const {
    throw Error(where_ + ": " + message, ExitStatus::kUsage);
}

std::span<const OperationKind* const> operationKinds() {
    static const std::array<const OperationKind*, 9> kinds = {
        &kFileOperation,    &kRemoveOperation, &kMkdirOperation,
        &kSymlinkOperation, &kChmodOperation,  &kChownOperation,
        &kPatchOperation,   &kAppendOperation, &kUnpackOperation,
    };
    return kinds;
}

const OperationKind* findOperationKind(std::string_view name) {
    for (const auto* kind : operationKinds())
        if (kind->name == name) return kind;
    return nullptr;
}

std::shared_ptr<const Operation> parseOperation(const imagebuild::RecipeNode& item) {
    // Each item is a one-key mapping, "- file: {…}". Other keys are told apart so that the
    // common slip, fields written beside the kind instead of under it, gets its own message.
    std::vector<std::string_view> names;
    for (const auto* kind : operationKinds()) names.push_back(kind->name);
    auto map = item.asAnyMap();
    auto keys = map.keys();
    std::vector<std::string> kinds, fields;
    for (const auto& key : keys) (findOperationKind(key) ? kinds : fields).push_back(key);
    auto isField = [](const std::string& key) {
        for (const auto* kind : operationKinds())
            if (std::find(kind->keys.begin(), kind->keys.end(), key) != kind->keys.end())
                return true;
        return false;
    };
    std::string list;
    for (auto name : names) list += (list.empty() ? "" : ", ") + std::string(name);
    for (const auto& key : fields) {
        if (!kinds.empty() && isField(key))
            map.required(key).fail("'" + key + "' belongs under '" + kinds[0] +
                                   ":'; indent the operation's fields below its kind");
        if (kinds.empty() && isField(key))
            map.required(key).fail("an operation starts with its kind (" + list + "); found '" +
                                   key + "'");
        std::string message = "unknown operation '" + key.substr(0, 40) + "'";
        std::string suggestion = imagebuild::closestMatch(key, names);
        message += suggestion.empty() ? "; the operations are: " + list
                                      : "; did you mean '" + suggestion + "'?";
        item.fail(message);
    }
    if (keys.size() != 1) {
        std::string found;
        for (const auto& key : keys) found += (found.empty() ? "" : ", ") + key;
        item.fail("an operation is a mapping with one key, its kind (" + list + "); found " +
                  (keys.empty() ? std::string("none") : found) +
                  (keys.size() > 1 ? " (start a new list item with '- ' for each operation)" : ""));
    }
    const OperationKind* kind = findOperationKind(keys[0]);
    auto body = map.required(keys[0]);
    return kind->parse(body.asMap(kind->keys));
}

}  // namespace ingot::patcher
