#include "ingot/patcher/Recipe.h"

#include "ingot/patcher/Operation.h"

namespace ingot::patcher {

imagebuild::Recipe loadRecipe(const std::string& path) {
    return imagebuild::parseRecipe(path, parseOperation);
}

imagebuild::Recipe loadRecipeText(std::string_view text, const std::string& file,
                                  const std::string& directory) {
    return imagebuild::parseRecipeText(text, file, directory, parseOperation);
}

nlohmann::json canonicalRecipe(const imagebuild::Recipe& recipe) {
    nlohmann::json out = imagebuild::canonicalHeader(recipe);
    out["operations"] = nlohmann::json::array();
    for (const auto& operation : recipe.operations)
        out["operations"].push_back(operation->canonical());
    return out;
}

}  // namespace ingot::patcher
