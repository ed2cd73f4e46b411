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

# libFuzzer target for what the registry server parses from clients it does not trust
# (registry/server): request routing with and without access control, pushed manifests, and the
# name/tag/digest grammar. Storage and Uploads are compiled in too: the router is driven against
# a real store in a temporary directory.
set(ingot_registry_server_root "${CMAKE_CURRENT_SOURCE_DIR}/../../registry/server")
add_library(ingot_registry_server_fuzz_lib STATIC
  ${ingot_registry_server_root}/Access.cpp
  ${ingot_registry_server_root}/Exchange.cpp
  ${ingot_registry_server_root}/Grammar.cpp
  ${ingot_registry_server_root}/ManifestCheck.cpp
  ${ingot_registry_server_root}/RegistryError.cpp
  ${ingot_registry_server_root}/Router.cpp
  ${ingot_registry_server_root}/Storage.cpp
  ${ingot_registry_server_root}/Target.cpp
  ${ingot_registry_server_root}/TokenIssuer.cpp
  ${ingot_registry_server_root}/Uploads.cpp
)
target_include_directories(ingot_registry_server_fuzz_lib PUBLIC "${ingot_registry_server_root}")
target_compile_options(ingot_registry_server_fuzz_lib PRIVATE
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -g -O1)
target_link_libraries(ingot_registry_server_fuzz_lib PUBLIC ingot_oci_fuzz_lib PRIVATE ingot_warnings)

# Inputs carry several requests, a manifest body among them.
ingot_fuzz_targets(ingot_registry_server_fuzz_lib registry_server:65536)
