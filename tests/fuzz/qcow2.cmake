# libFuzzer target for the qcow2 overlay reader and writer (core/src/image/Qcow2.cpp): a clone's
# overlay is a file on the host that anything with access to the store may have changed. Included
# by CMakeLists.txt after the compiler checks; the core files it needs are compiled again here
# with coverage instrumentation. Seeds (corpus/qcow2/) are small-cluster images written by
# qemu-img and qemu-io: corpus/make_qcow2_seeds.sh.
set(ingot_qcow2_core "${CMAKE_CURRENT_SOURCE_DIR}/../../core")
add_library(ingot_qcow2_fuzz_lib STATIC
  ${ingot_qcow2_core}/src/Error.cpp
  ${ingot_qcow2_core}/src/TempFile.cpp
  ${ingot_qcow2_core}/src/image/Qcow2.cpp
)
target_include_directories(ingot_qcow2_fuzz_lib PUBLIC "${ingot_qcow2_core}/include")
target_compile_options(ingot_qcow2_fuzz_lib PRIVATE
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -g -O1)
target_link_libraries(ingot_qcow2_fuzz_lib PRIVATE ingot_warnings)

# Seeds use 512-byte clusters, so whole images with data fit in a few KiB.
ingot_fuzz_targets(ingot_qcow2_fuzz_lib qcow2:65536)
