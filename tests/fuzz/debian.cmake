# libFuzzer target for what `ingot patch` parses from the network and from images: deb822
# stanzas, dpkg's status file (and its editable form), versions, Release and Packages files,
# changelogs and apt sources. Included by CMakeLists.txt after the compiler checks; our sources
# are compiled again here with coverage instrumentation.
find_package(OpenSSL REQUIRED)
set(ingot_debian_fuzz_root "${CMAKE_CURRENT_SOURCE_DIR}/../..")
add_library(ingot_debian_fuzz_lib STATIC
  ${ingot_debian_fuzz_root}/core/src/Error.cpp
  ${ingot_debian_fuzz_root}/core/src/File.cpp
  ${ingot_debian_fuzz_root}/core/src/Process.cpp
  ${ingot_debian_fuzz_root}/core/src/TempFile.cpp
  ${ingot_debian_fuzz_root}/core/src/Size.cpp
  ${ingot_debian_fuzz_root}/core/src/Sha256.cpp
  ${ingot_debian_fuzz_root}/imagebuild/src/Tree.cpp
  ${ingot_debian_fuzz_root}/patcher/archive/src/Version.cpp
  ${ingot_debian_fuzz_root}/patcher/archive/src/Deb822.cpp
  ${ingot_debian_fuzz_root}/patcher/archive/src/Release.cpp
  ${ingot_debian_fuzz_root}/patcher/archive/src/PackagesIndex.cpp
  ${ingot_debian_fuzz_root}/patcher/archive/src/Decompress.cpp
  ${ingot_debian_fuzz_root}/patcher/archive/src/Changelog.cpp
  ${ingot_debian_fuzz_root}/patcher/archive/src/DpkgStatus.cpp
  ${ingot_debian_fuzz_root}/patcher/plan/src/AptSources.cpp
  ${ingot_debian_fuzz_root}/patcher/apply/src/DpkgDatabase.cpp
)
target_include_directories(ingot_debian_fuzz_lib PUBLIC
  "${ingot_debian_fuzz_root}/core/include" "${ingot_debian_fuzz_root}/imagebuild/include"
  "${ingot_debian_fuzz_root}/patcher/archive/include" "${ingot_debian_fuzz_root}/patcher/plan/include"
  "${ingot_debian_fuzz_root}/patcher/apply/include")
target_compile_options(ingot_debian_fuzz_lib PRIVATE
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -g -O1)
target_link_libraries(ingot_debian_fuzz_lib
  PUBLIC OpenSSL::Crypto LibArchive::LibArchive nlohmann_json::nlohmann_json
  PRIVATE ingot_warnings)

# Status files and Packages stanzas worth fuzzing are a few KiB.
ingot_fuzz_targets(ingot_debian_fuzz_lib debian:16384)
