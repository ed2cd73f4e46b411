# libFuzzer target for the OCI documents a layout reader parses (core/src/oci/Manifests.cpp):
# index.json, ingot image manifests and signature referrers, which arrive from registries and
# shared stores. Compiled again here with coverage instrumentation, with the core files it
# needs.
find_package(nlohmann_json REQUIRED)
find_package(OpenSSL REQUIRED)
set(ingot_oci_core_root "${CMAKE_CURRENT_SOURCE_DIR}/../../core")
add_library(ingot_oci_fuzz_lib STATIC
  ${ingot_oci_core_root}/src/Error.cpp
  ${ingot_oci_core_root}/src/Sha256.cpp
  ${ingot_oci_core_root}/src/Json.cpp
  ${ingot_oci_core_root}/src/oci/Manifests.cpp
)
target_include_directories(ingot_oci_fuzz_lib PUBLIC "${ingot_oci_core_root}/include")
target_compile_options(ingot_oci_fuzz_lib PRIVATE
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -g -O1)
target_link_libraries(ingot_oci_fuzz_lib
  PUBLIC nlohmann_json::nlohmann_json OpenSSL::Crypto
  PRIVATE ingot_warnings)

# The first input byte picks the document type; manifests of a few hundred layers fit.
ingot_fuzz_targets(ingot_oci_fuzz_lib oci_manifests:131072)
