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

foreach(entry fw_cmdline:1024 fw_manifest:16384 fw_kernel_header:2048 fw_boot_pack:65536)
  string(REPLACE ":" ";" parts "${entry}")
  list(GET parts 0 target)
  list(GET parts 1 max_len)
  set(executable fuzz_${target})
  add_executable(${executable} ${executable}.cpp)
  target_compile_options(${executable} PRIVATE ${ingot_fuzz_flags})
  target_link_options(${executable} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(${executable} PRIVATE ingot_fw_boot_fuzz ingot_warnings)
  set(work_corpus "${CMAKE_CURRENT_BINARY_DIR}/corpus/${target}")
  set(artifacts "${CMAKE_CURRENT_BINARY_DIR}/artifacts")
  file(MAKE_DIRECTORY "${work_corpus}" "${artifacts}")
  add_test(NAME fuzz.${target}
           COMMAND ${executable}
                   -max_total_time=${INGOT_FUZZ_SECONDS} -runs=${INGOT_FUZZ_RUNS}
                   -max_len=${max_len} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
                   -artifact_prefix=${artifacts}/${target}-
                   "${work_corpus}" "${CMAKE_CURRENT_SOURCE_DIR}/corpus/${target}")
  math(EXPR timeout "${INGOT_FUZZ_SECONDS} + 120")
  set_tests_properties(fuzz.${target} PROPERTIES LABELS fuzz TIMEOUT ${timeout})
endforeach()
