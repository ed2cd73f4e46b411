// The bzImage setup-header reader and zero-page writer on arbitrary bytes. Properties: an
// accepted header describes a payload inside the file, a power-of-two alignment, and a header
// that fits the bytes read; writing the zero page never reaches outside its 4 KiB.
#include <cstdint>
#include <vector>

#include "FuzzCheck.h"
#include "LinuxBootParams.h"

using namespace ingot::fw;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 8) return 0;
    uint64_t file_size = load_le64(data);
    KernelHeader header;
    BootError error;
    ByteView head(data + 8, size - 8);
    if (!read_kernel_header(head, file_size, &header, &error)) {
        FUZZ_CHECK(error.reason == Refusal::kBadKernel);
        return 0;
    }
    FUZZ_CHECK(header.setup_size < file_size && header.setup_size + header.payload_size == file_size);
    FUZZ_CHECK(header.alignment && !(header.alignment & (header.alignment - 1)));
    FUZZ_CHECK(header.header_end <= head.size && header.header_end <= KernelHeader::kHeaderBytes);
    FUZZ_CHECK(header.load_size >= header.payload_size);
    MemoryMap map;
    FUZZ_CHECK(map.add(0, 0x9fc00, kE820Ram));
    std::vector<uint8_t> zero_page(4096);  // ASan catches a write past it
    write_boot_params(zero_page.data(), header, {0x20000, 0x7000000, 1234, 0xe0000, &map});
    return 0;
}
