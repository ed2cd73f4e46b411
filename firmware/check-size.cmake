# Fails the build when ingot-fw.elf's file grows past LIMIT bytes.
file(SIZE "${ELF}" size)
if(size GREATER LIMIT)
  message(FATAL_ERROR "ingot-fw.elf is ${size} bytes, over the ${LIMIT}-byte budget")
endif()
