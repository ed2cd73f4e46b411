# libFuzzer target for base ingestion (imagebuild/src/ArchiveReader.cpp): every tarball, cpio
# archive and .deb a recipe names is untrusted input. Included by CMakeLists.txt after the
# compiler checks. The tree model, the reader, the tar writer (the target round-trips what it
# read) and the core files they need are compiled again here with coverage instrumentation;
# libarchive itself is the system's, uninstrumented.
find_package(OpenSSL REQUIRED)
find_package(LibArchive REQUIRED)
set(ingot_imagebuild_fuzz_root "${CMAKE_CURRENT_SOURCE_DIR}/../..")
add_library(ingot_imagebuild_fuzz_lib STATIC
  ${ingot_imagebuild_fuzz_root}/core/src/Error.cpp
  ${ingot_imagebuild_fuzz_root}/core/src/Sha256.cpp
  ${ingot_imagebuild_fuzz_root}/core/src/TempFile.cpp
  ${ingot_imagebuild_fuzz_root}/imagebuild/src/Tree.cpp
  ${ingot_imagebuild_fuzz_root}/imagebuild/src/ArchiveReader.cpp
  ${ingot_imagebuild_fuzz_root}/imagebuild/src/TarWriter.cpp
)
target_include_directories(ingot_imagebuild_fuzz_lib PUBLIC
  "${ingot_imagebuild_fuzz_root}/core/include" "${ingot_imagebuild_fuzz_root}/imagebuild/include")
target_compile_options(ingot_imagebuild_fuzz_lib PRIVATE
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -g -O1)
target_link_libraries(ingot_imagebuild_fuzz_lib
  PUBLIC OpenSSL::Crypto LibArchive::LibArchive
  PRIVATE ingot_warnings)

# Compressed seeds expand; 64 KiB of input is plenty to reach every format and filter.
ingot_fuzz_targets(ingot_imagebuild_fuzz_lib imagebuild_archive:65536)
