# libFuzzer targets for the monitor's guest-facing parsers (vmm/devices/virtio), included by
# CMakeLists.txt once the compiler checks there have passed. The monitor code is C++ with
# exceptions; it is compiled again here with coverage instrumentation, together with the two
# core files it needs.
set(ingot_vmm_root "${CMAKE_CURRENT_SOURCE_DIR}/../../vmm")
set(ingot_core_root "${CMAKE_CURRENT_SOURCE_DIR}/../../core")
add_library(ingot_vmm_fuzz_lib STATIC
  ${ingot_core_root}/src/Error.cpp
  ${ingot_core_root}/src/Size.cpp
  ${ingot_vmm_root}/GuestMemory.cpp
  ${ingot_vmm_root}/devices/virtio/RawFileBackend.cpp
  ${ingot_vmm_root}/devices/virtio/VirtQueue.cpp
  ${ingot_vmm_root}/devices/virtio/VirtioBalloon.cpp
  ${ingot_vmm_root}/devices/virtio/VirtioBlk.cpp
  ${ingot_vmm_root}/devices/virtio/VirtioConsole.cpp
  ${ingot_vmm_root}/devices/virtio/VirtioNet.cpp
  ${ingot_vmm_root}/devices/virtio/VirtioRng.cpp
  ${ingot_vmm_root}/devices/virtio/RateLimiter.cpp
)
target_include_directories(ingot_vmm_fuzz_lib PUBLIC "${ingot_vmm_root}" "${ingot_core_root}/include")
target_compile_options(ingot_vmm_fuzz_lib PRIVATE
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -g -O1)
target_link_libraries(ingot_vmm_fuzz_lib PRIVATE ingot_warnings)
# VirtioConsole.h has the agent's stats document (statsJson) in its interface.
find_package(nlohmann_json REQUIRED)
target_link_libraries(ingot_vmm_fuzz_lib PUBLIC nlohmann_json::nlohmann_json)

# target name -> largest input worth trying (a queue of 256 needs 6 KiB of rings alone).
set(ingot_vmm_fuzz_targets
  virtio_blk:16384
  virtio_rng:16384
  virtio_net:16384
  virtio_console:16384
  virtio_balloon:16384
)
ingot_fuzz_targets(ingot_vmm_fuzz_lib ${ingot_vmm_fuzz_targets})
