// A recipe operation: one edit of the in-memory tree (add a file, remove a path, apply a diff, …).
// Each kind lives in one file under patcher/src/ops/ and is listed in the registry below; the
// recipe parser (imagebuild/Recipe.h) hands it its YAML mapping, and the builder applies the
// parsed operations in recipe order. docs/recipes.md describes every kind.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ingot/imagebuild/Recipe.h"
#include "ingot/imagebuild/Tree.h"

namespace ingot::patcher {

struct OperationContext {
    std::string recipeDirectory;  // where `source:` paths start
    int64_t sourceDateEpoch = 0;  // the mtime of every entry an operation creates or changes
    bool allowDevices = false;    // recipe's allow.devices: device nodes from unpacked archives
};

class Operation {
public:
    virtual ~Operation() = default;
    Operation(const Operation&) = delete;
    Operation& operator=(const Operation&) = delete;

    // The kind's name as recipes write it: "file", "remove", …
    virtual std::string_view name() const = 0;
    // Everything that decides the operation's effect, defaults filled in and file sources
    // replaced by their sha256, so equal canonical forms on equal trees give equal trees (the
    // step cache's key). Always holds "op": name().
    virtual nlohmann::json canonical() const = 0;
    // Edits `tree`. Errors are ingot::Error (ExitStatus::kUsage) that start with the
    // operation's place in the recipe. Inodes are never changed in place, since trees share them
    // with their copies: an edited entry gets a new inode, put at every hard link of the old one.
    // A failed apply may leave `tree` partly edited; the builder then discards it.
    virtual void apply(imagebuild::Tree& tree, const OperationContext& context) const = 0;

    // Where the operation sits in the recipe, e.g. "recipe.yaml:14:5: operations[2].file".
    const std::string& where() const { return where_; }

protected:
    explicit Operation(const imagebuild::RecipeNode& body);
    [[noreturn]] void fail(const std::string& message) const;

private:
    std::string where_;
};

// One kind of operation: its name, the keys its mapping takes and its parser.
struct OperationKind {
    std::string_view name;
    std::vector<std::string_view> keys;
    std::string_view summary;
    std::shared_ptr<const Operation> (*parse)(const imagebuild::RecipeMap& body);
};

// Every kind, in the order docs/recipes.md lists them.
std::span<const OperationKind* const> operationKinds();
const OperationKind* findOperationKind(std::string_view name);

// Parses one item of a recipe's `operations:` list: a mapping with one key, the kind, whose
// value is the operation's own mapping ("- file: {path: /etc/motd, content: hi}").
std::shared_ptr<const Operation> parseOperation(const imagebuild::RecipeNode& item);

}  // namespace ingot::patcher
