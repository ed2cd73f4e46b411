// Recipe parsing over arbitrary bytes. Besides not crashing, properties: every failure is an
// ingot::Error with the usage status whose message starts with the recipe's name (so it says
// where); a recipe that parses has a canonical form that a second parse reproduces exactly; and
// applying its operations to a small tree either works or fails with an ingot::Error, leaving
// only canonical paths.
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "FuzzCheck.h"
#include "ingot/core/Error.h"
#include "ingot/imagebuild/Tree.h"
#include "ingot/patcher/Operation.h"
#include "ingot/patcher/Recipe.h"

using namespace ingot;

namespace {

std::string recipeDirectory;

// A directory with a few sources the fuzzer can name (the seeds do).
int makeRecipeDirectory() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "ingot-fuzz-recipe-XXXXXX").string();
    if (!mkdtemp(pattern.data())) abort();
    recipeDirectory = pattern;
    std::ofstream(recipeDirectory + "/motd") << "welcome\n";
    std::ofstream(recipeDirectory + "/fix.diff") << "@@ -1 +1 @@\n-a\n+b\n";
    std::atexit([] { std::filesystem::remove_all(recipeDirectory); });
    return 0;
}

std::string parseCanonical(std::string_view text, imagebuild::Recipe* out) {
    auto recipe = patcher::loadRecipeText(text, "recipe.yaml", recipeDirectory);
    std::string canonical = patcher::canonicalRecipe(recipe).dump();
    if (out) *out = std::move(recipe);
    return canonical;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static int ready = makeRecipeDirectory();
    (void)ready;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    imagebuild::Recipe recipe;
    std::string canonical;
    try {
        canonical = parseCanonical(text, &recipe);
    } catch (const Error& e) {
        FUZZ_CHECK(e.status() == ExitStatus::kUsage);
        FUZZ_CHECK(std::string_view(e.what()).substr(0, 11) == "recipe.yaml");
        return 0;
    }
    FUZZ_CHECK(parseCanonical(text, nullptr) == canonical);

    imagebuild::Tree tree;
    auto dir = std::make_shared<imagebuild::Inode>();
    dir->type = imagebuild::NodeType::kDirectory;
    tree.put("etc", dir, "seed");
    auto passwd = std::make_shared<imagebuild::Inode>();
    passwd->content = imagebuild::makeBlob("root:x:0:0::/:/bin/sh\n");
    tree.put("etc/passwd", passwd, "seed");
    patcher::OperationContext context;
    context.recipeDirectory = recipeDirectory;
    context.sourceDateEpoch = 1'700'000'000;
    for (const auto& op : recipe.operations) {
        try {
            op->apply(tree, context);
        } catch (const Error& e) {
            FUZZ_CHECK(e.status() == ExitStatus::kUsage);
            break;
        }
    }
    for (const auto& [path, inode] : tree.entries()) {
        FUZZ_CHECK(imagebuild::normalizePath(path, "fuzz") == path);
        if (!path.empty()) {
            auto parent = tree.find(imagebuild::parentPath(path));
            FUZZ_CHECK(parent && parent->type == imagebuild::NodeType::kDirectory);
        }
    }
    return 0;
}
