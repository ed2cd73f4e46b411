# libFuzzer target for what the registry client parses from a registry it does not trust
# (registry/client): image references, WWW-Authenticate challenges and freshness documents.
# Reuses the OCI fuzz library (Manifests.cpp and its core files) from oci.cmake.
set(ingot_registry_client_root "${CMAKE_CURRENT_SOURCE_DIR}/../../registry/client")
add_library(ingot_registry_client_fuzz_lib STATIC
  ${ingot_registry_client_root}/AuthChallenge.cpp
  ${ingot_registry_client_root}/Reference.cpp
  ${ingot_registry_client_root}/TimestampDocument.cpp
  ${ingot_registry_client_root}/../server/Grammar.cpp
)
target_include_directories(ingot_registry_client_fuzz_lib PUBLIC "${ingot_registry_client_root}"
                                                                 "${ingot_registry_client_root}/..")
target_compile_options(ingot_registry_client_fuzz_lib PRIVATE
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -g -O1)
target_link_libraries(ingot_registry_client_fuzz_lib PUBLIC ingot_oci_fuzz_lib PRIVATE ingot_warnings)

ingot_fuzz_targets(ingot_registry_client_fuzz_lib registry_client:8192)
