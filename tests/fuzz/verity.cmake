# libFuzzer target for the dm-verity superblock reader and tree verifier (core/src/image/
# Verity.cpp), which the monitor runs on hash blocks read from an untrusted disk. Included by
# CMakeLists.txt after the compiler checks. The core files it needs are compiled again here with
# coverage instrumentation; OpenSSL supplies SHA-256, as in the real build.
find_package(OpenSSL REQUIRED)
find_package(nlohmann_json REQUIRED)
set(ingot_verity_core "${CMAKE_CURRENT_SOURCE_DIR}/../../core")
add_library(ingot_verity_fuzz_lib STATIC
  ${ingot_verity_core}/src/Error.cpp
  ${ingot_verity_core}/src/Sha256.cpp
  ${ingot_verity_core}/src/TempFile.cpp
  ${ingot_verity_core}/src/image/Verity.cpp
)
target_include_directories(ingot_verity_fuzz_lib PUBLIC "${ingot_verity_core}/include")
target_compile_options(ingot_verity_fuzz_lib PRIVATE
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -g -O1)
target_link_libraries(ingot_verity_fuzz_lib
  PUBLIC nlohmann_json::nlohmann_json OpenSSL::Crypto
  PRIVATE ingot_warnings)

# A superblock is 512 bytes; trees over a few small blocks need a few KiB more.
ingot_fuzz_targets(ingot_verity_fuzz_lib verity:16384)
