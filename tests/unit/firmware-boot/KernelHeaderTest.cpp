#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "LinuxBootParams.h"

using namespace ingot::fw;

namespace {

// The first 1 KiB of a 6.1 x86-64 bzImage, reduced to the fields the loader reads.
std::vector<uint8_t> bzImageHead() {
    std::vector<uint8_t> b(1024, 0);
    b[0x1f1] = 27;                                      // setup_sects
    b[0x1fe] = 0x55, b[0x1ff] = 0xaa;                   // boot flag
    b[0x200] = 0xeb, b[0x201] = 0x6a;                   // jmp to 0x26c: header ends there
    std::memcpy(&b[0x202], "HdrS", 4);
    b[0x206] = 0x0f, b[0x207] = 0x02;                   // protocol 2.15
    b[0x211] = 0x01;                                    // LOADED_HIGH
    uint32_t initrdMax = 0x7fffffff, alignment = 0x200000, cmdlineSize = 2047, initSize = 0x3000000;
    std::memcpy(&b[0x22c], &initrdMax, 4);
    std::memcpy(&b[0x230], &alignment, 4);
    b[0x234] = 1;                                       // relocatable
    b[0x236] = 0x03;                                    // XLF_KERNEL_64 | CAN_BE_LOADED_ABOVE_4G
    std::memcpy(&b[0x238], &cmdlineSize, 4);
    uint64_t pref = 0x1000000;
    std::memcpy(&b[0x258], &pref, 8);
    std::memcpy(&b[0x260], &initSize, 4);
    return b;
}

}  // namespace

TEST(KernelHeader, ReadsWhatA64BitLoaderNeeds) {
    auto head = bzImageHead();
    KernelHeader h;
    BootError error;
    ASSERT_TRUE(read_kernel_header(ByteView(head.data(), head.size()), 8'000'000, &h, &error))
        << error.message.c_str();
    EXPECT_EQ(h.setup_size, 28u * 512);
    EXPECT_EQ(h.payload_size, 8'000'000u - 28 * 512);
    EXPECT_EQ(h.pref_address, 0x1000000u);
    EXPECT_EQ(h.load_size, 0x3000000u) << "init_size is larger than the payload";
    EXPECT_EQ(h.initrd_limit, 0x80000000u);
    EXPECT_EQ(h.cmdline_max, 2047u);
    EXPECT_EQ(h.header_end, 0x26cu);
}

TEST(KernelHeader, RefusesWhatItCannotBoot) {
    struct Case {
        size_t offset;
        uint8_t value;
        const char* why;
    } cases[] = {{0x1fe, 0, "boot flag"},         {0x202, 'X', "HdrS"},
                 {0x207, 0x01, "protocol 2.x old"}, {0x211, 0, "not loaded high"},
                 {0x236, 0, "no 64-bit entry"},    {0x231, 0x30, "alignment not a power of two"}};
    for (const auto& c : cases) {
        auto head = bzImageHead();
        head[c.offset] = c.value;
        KernelHeader h;
        BootError error;
        EXPECT_FALSE(read_kernel_header(ByteView(head.data(), head.size()), 8'000'000, &h, &error)) << c.why;
        EXPECT_EQ(error.reason, Refusal::kBadKernel) << c.why;
    }
    auto head = bzImageHead();
    KernelHeader h;
    BootError error;
    EXPECT_FALSE(read_kernel_header(ByteView(head.data(), head.size()), 28 * 512, &h, &error))
        << "no protected-mode code";
    EXPECT_FALSE(read_kernel_header(ByteView(head.data(), 0x200), 8'000'000, &h, &error)) << "short";
}

TEST(KernelHeader, ZeroPageCarriesHeaderCmdlineInitrdMemoryAndRsdp) {
    auto head = bzImageHead();
    KernelHeader h;
    BootError error;
    ASSERT_TRUE(read_kernel_header(ByteView(head.data(), head.size()), 8'000'000, &h, &error));
    MemoryMap map;
    ASSERT_TRUE(map.add(0, 0x9fc00, kE820Ram));
    ASSERT_TRUE(map.add(0x100000, 0x7ff00000, kE820Ram));
    std::vector<uint8_t> zp(4096, 0xcc);
    write_boot_params(zp.data(), h, {0x1'2345'6000ull, 0x7000'0000, 0x123456, 0xe0000, &map});
    EXPECT_EQ(std::memcmp(&zp[0x202], "HdrS", 4), 0);
    EXPECT_EQ(zp[0x210], 0xff) << "type_of_loader";
    EXPECT_EQ(load_le32(&zp[0x228]), 0x2345'6000u) << "cmd_line_ptr";
    EXPECT_EQ(load_le32(&zp[0x0c8]), 0x1u) << "ext_cmd_line_ptr";
    EXPECT_EQ(load_le32(&zp[0x218]), 0x7000'0000u);
    EXPECT_EQ(load_le32(&zp[0x21c]), 0x123456u);
    EXPECT_EQ(load_le64(&zp[0x070]), 0xe0000u) << "acpi_rsdp_addr";
    ASSERT_EQ(zp[0x1e8], 2) << "e820_entries";
    EXPECT_EQ(load_le64(&zp[0x2d0 + 20]), 0x100000u);
    EXPECT_EQ(load_le64(&zp[0x2d0 + 28]), 0x7ff00000u);
    EXPECT_EQ(load_le32(&zp[0x2d0 + 36]), kE820Ram);
    EXPECT_EQ(zp[0x26c], 0) << "nothing past the header is copied";
}
