// Recipes with their operations: the recipe parser of imagebuild/ wired to the operation
// registry of patcher/. This is what `ingot build` calls.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "ingot/imagebuild/Recipe.h"

namespace ingot::patcher {

imagebuild::Recipe loadRecipe(const std::string& path);
imagebuild::Recipe loadRecipeText(std::string_view text, const std::string& file,
                                  const std::string& directory);

// The whole recipe in canonical form: imagebuild::canonicalHeader plus "operations", each
// operation's canonical() in order.
nlohmann::json canonicalRecipe(const imagebuild::Recipe& recipe);

}  // namespace ingot::patcher
