# libFuzzer targets for recipes: the YAML schema (imagebuild/src/Recipe*.cpp with every operation's
# parser in patcher/) and the unified-diff applier behind the `patch` operation. Included by
# CMakeLists.txt after the compiler checks. Our sources are compiled again here with coverage
# instrumentation; yaml-cpp and libarchive are the system's, uninstrumented.
find_package(OpenSSL REQUIRED)
find_package(LibArchive REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json REQUIRED)
set(ingot_recipe_fuzz_root "${CMAKE_CURRENT_SOURCE_DIR}/../..")
file(GLOB ingot_recipe_fuzz_ops "${ingot_recipe_fuzz_root}/patcher/src/ops/*.cpp")
add_library(ingot_recipe_fuzz_lib STATIC
  ${ingot_recipe_fuzz_root}/core/src/Error.cpp
  ${ingot_recipe_fuzz_root}/core/src/File.cpp
  ${ingot_recipe_fuzz_root}/core/src/Sha256.cpp
  ${ingot_recipe_fuzz_root}/core/src/Size.cpp
  ${ingot_recipe_fuzz_root}/core/src/TempFile.cpp
  ${ingot_recipe_fuzz_root}/imagebuild/src/Tree.cpp
  ${ingot_recipe_fuzz_root}/imagebuild/src/ArchiveReader.cpp
  ${ingot_recipe_fuzz_root}/imagebuild/src/Recipe.cpp
  ${ingot_recipe_fuzz_root}/imagebuild/src/RecipeNode.cpp
  ${ingot_recipe_fuzz_root}/patcher/src/Operation.cpp
  ${ingot_recipe_fuzz_root}/patcher/src/Recipe.cpp
  ${ingot_recipe_fuzz_root}/patcher/src/UnifiedDiff.cpp
  ${ingot_recipe_fuzz_ops}
)
target_include_directories(ingot_recipe_fuzz_lib PUBLIC
  "${ingot_recipe_fuzz_root}/core/include" "${ingot_recipe_fuzz_root}/imagebuild/include"
  "${ingot_recipe_fuzz_root}/patcher/include"
  PRIVATE "${ingot_recipe_fuzz_root}/patcher/src")
target_compile_options(ingot_recipe_fuzz_lib PRIVATE
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -g -O1)
target_link_libraries(ingot_recipe_fuzz_lib
  PUBLIC OpenSSL::Crypto LibArchive::LibArchive yaml-cpp nlohmann_json::nlohmann_json
  PRIVATE ingot_warnings)

# A recipe worth fuzzing is a few KiB; diffs carry their file (original NUL diff).
ingot_fuzz_targets(ingot_recipe_fuzz_lib recipe:16384 unified_diff:16384)
