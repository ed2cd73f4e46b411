// Fields that several operations share, read from a recipe with the checks docs/recipes.md
// promises: tree paths, octal modes, owners, and file sources beside the recipe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ingot/imagebuild/Recipe.h"
#include "ingot/imagebuild/Tree.h"

namespace ingot::patcher {

// A canonical tree path below the root ("etc/motd" for "/etc/motd").
std::string readTreePath(const imagebuild::RecipeNode& node);

// Permission bits, always read as octal ("0644", "755", "0o4755"), at most 07777.
uint32_t readMode(const imagebuild::RecipeNode& node);
std::string formatMode(uint32_t mode);  // "0644"

// "UID:GID" or "USER:GROUP" (names looked up in the tree's etc/passwd and etc/group when the
// operation runs, since the tree decides what they mean), or a mix ("root:101").
struct Owner {
    std::string user = "0";
    std::string group = "0";
    std::string str() const { return user + ":" + group; }
};
Owner readOwner(const imagebuild::RecipeNode& node);

// A file beside the recipe, read when the recipe is: its content becomes part of the
// operation (and of its canonical form, by digest), so a later change to the file cannot slip
// into a build whose key was computed before.
struct SourceFile {
    std::string relative;  // as the recipe names it, normalised
    std::shared_ptr<const imagebuild::Blob> content;
};
SourceFile readSourceFile(const imagebuild::RecipeNode& node, uint64_t maxBytes = 1ull << 30);

}  // namespace ingot::patcher
