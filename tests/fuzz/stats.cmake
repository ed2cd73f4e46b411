# libFuzzer target for the parsers of what the guest agent reports (cli/stats), included by
# CMakeLists.txt once the compiler checks there have passed. Compiled again with coverage
# instrumentation, with the core files they throw and format through.
set(ingot_stats_root "${CMAKE_CURRENT_SOURCE_DIR}/../../cli/stats")
set(ingot_stats_core_root "${CMAKE_CURRENT_SOURCE_DIR}/../../core")
add_library(ingot_stats_fuzz_lib STATIC
  ${ingot_stats_core_root}/src/Error.cpp
  ${ingot_stats_core_root}/src/Size.cpp
  ${ingot_stats_root}/GuestProcStat.cpp
)
target_include_directories(ingot_stats_fuzz_lib PUBLIC
  "${ingot_stats_root}" "${ingot_stats_core_root}/include")
target_compile_options(ingot_stats_fuzz_lib PRIVATE
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -g -O1)
target_link_libraries(ingot_stats_fuzz_lib PRIVATE ingot_warnings)

# target name -> largest input worth trying (past kMaxProcStatLines of empty lines, and a
# 64-vCPU guest's /proc/stat).
set(ingot_stats_fuzz_targets
  guest_proc_stat:65536
)
ingot_fuzz_targets(ingot_stats_fuzz_lib ${ingot_stats_fuzz_targets})
