# The firmware library's sources, listed once: firmware/lib/CMakeLists.txt builds them for the
# firmware and for the host, and tests/fuzz/CMakeLists.txt builds them again with coverage
# instrumentation (a fuzzer learns nothing from uninstrumented code).
set(INGOT_FW_LIB_DIR "${CMAKE_CURRENT_LIST_DIR}")
set(INGOT_FW_LIB_INCLUDE_DIR "${INGOT_FW_LIB_DIR}/include")
set(INGOT_FW_LIB_SOURCES
  "${INGOT_FW_LIB_DIR}/src/Base64.cpp"
  "${INGOT_FW_LIB_DIR}/src/Blake2b.cpp"
  "${INGOT_FW_LIB_DIR}/src/Bytes.cpp"
  "${INGOT_FW_LIB_DIR}/src/Cpio.cpp"
  "${INGOT_FW_LIB_DIR}/src/Crc32.cpp"
  "${INGOT_FW_LIB_DIR}/src/Ed25519.cpp"
  "${INGOT_FW_LIB_DIR}/src/Gpt.cpp"
  "${INGOT_FW_LIB_DIR}/src/Json.cpp"
  "${INGOT_FW_LIB_DIR}/src/Minisign.cpp"
  "${INGOT_FW_LIB_DIR}/src/Sha256.cpp"
  "${INGOT_FW_LIB_DIR}/src/Sha512.cpp"
)
