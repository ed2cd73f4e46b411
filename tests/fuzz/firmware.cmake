# libFuzzer targets for the firmware's boot path (firmware/src): the command-line device words,
# the manifest reader, the kernel's setup header and the canonical boot pack reader. Included by
# CMakeLists.txt after the firmware library targets exist.
include("${CMAKE_CURRENT_SOURCE_DIR}/../../firmware/src/sources.cmake")

add_library(ingot_fw_boot_fuzz STATIC ${INGOT_FW_BOOT_SOURCES})
target_include_directories(ingot_fw_boot_fuzz PUBLIC "${INGOT_FW_BOOT_DIR}")
target_compile_options(ingot_fw_boot_fuzz PRIVATE
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -g -O1
  -fno-exceptions -fno-rtti)
target_link_libraries(ingot_fw_boot_fuzz PUBLIC ingot_fw_lib_fuzz PRIVATE ingot_warnings)

ingot_fuzz_targets(ingot_fw_boot_fuzz fw_cmdline:1024 fw_manifest:16384 fw_kernel_header:2048 fw_boot_pack:65536)
