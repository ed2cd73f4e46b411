# The firmware's boot logic that touches no hardware, listed once: firmware/CMakeLists.txt builds
# it into ingot-fw.elf and a host library for tests, tests/fuzz/firmware.cmake with coverage.
set(INGOT_FW_BOOT_DIR "${CMAKE_CURRENT_LIST_DIR}")
set(INGOT_FW_BOOT_SOURCES
  "${INGOT_FW_BOOT_DIR}/BootPackReader.cpp"
  "${INGOT_FW_BOOT_DIR}/Cmdline.cpp"
  "${INGOT_FW_BOOT_DIR}/DiskReader.cpp"
  "${INGOT_FW_BOOT_DIR}/LinuxBootParams.cpp"
  "${INGOT_FW_BOOT_DIR}/Manifest.cpp"
  "${INGOT_FW_BOOT_DIR}/MemoryMap.cpp"
  "${INGOT_FW_BOOT_DIR}/Refusal.cpp"
  "${INGOT_FW_BOOT_DIR}/VerifiedBoot.cpp"
)
