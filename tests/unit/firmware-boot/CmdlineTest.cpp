#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "Cmdline.h"

using ingot::fw::ByteView;
using ingot::fw::parse_virtio_mmio_device;
using ingot::fw::VirtioMmioDeviceWord;

namespace {

bool parse(const std::string& word, VirtioMmioDeviceWord* d) {
    return parse_virtio_mmio_device(ByteView(word.data(), word.size()), d);
}

}  // namespace

TEST(Cmdline, ReadsTheFormsQemuAndTheMonitorWrite) {
    VirtioMmioDeviceWord d{};
    ASSERT_TRUE(parse("virtio_mmio.device=512@0xfeb02e00:23", &d));
    EXPECT_EQ(d.size, 512u);
    EXPECT_EQ(d.base, 0xfeb02e00u);
    EXPECT_EQ(d.irq, 23u);
    ASSERT_TRUE(parse("virtio_mmio.device=4K@0xd0000000:5:3", &d));
    EXPECT_EQ(d.size, 4096u);
    EXPECT_EQ(d.base, 0xd0000000u);
    EXPECT_EQ(d.irq, 5u);
    ASSERT_TRUE(parse("virtio_mmio.device=1M@4096:12", &d));
    EXPECT_EQ(d.size, 1u << 20);
    EXPECT_EQ(d.base, 4096u);
}

TEST(Cmdline, RejectsMalformedWords) {
    VirtioMmioDeviceWord d{};
    for (const char* bad : {"virtio_mmio.device=", "virtio_mmio.device=512", "virtio_mmio.device=512@",
                            "virtio_mmio.device=512@0x:5", "virtio_mmio.device=@0x1000:5",
                            "virtio_mmio.device=512@0x1000", "virtio_mmio.device=512@0x1000:",
                            "virtio_mmio.device=512@0x1000:5x", "virtio_mmio.device=512@0x1000:5:",
                            "virtio_mmio.device=0@0x1000:5",
                            "virtio_mmio.device=99999999999999999999@0x1000:5",
                            "virtio_mmio.device=512@0xffffffffffffffff:5",
                            "virtio_mmio.device=512@0x1000:99999999999", "console=ttyS0"})
        EXPECT_FALSE(parse(bad, &d)) << bad;
}

TEST(Cmdline, SplitsWordsOnWhitespace) {
    std::string line = "  console=ttyS0\tquiet\n virtio_mmio.device=512@0x1000:5  ";
    std::vector<std::string> words;
    ingot::fw::for_each_word(ByteView(line.data(), line.size()), [&](ByteView w) {
        words.emplace_back(reinterpret_cast<const char*>(w.data), w.size);
    });
    EXPECT_EQ(words, (std::vector<std::string>{"console=ttyS0", "quiet", "virtio_mmio.device=512@0x1000:5"}));
}
