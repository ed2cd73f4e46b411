// ingot's qcow2 overlays against QEMU's tools (Debian package qemu-utils), both directions:
// overlays created and written by us pass `qemu-img check` (no corruption, no leaks), show
// their backing file and format in `qemu-img info`, and hold the same bytes as an expected raw
// disk by `qemu-img compare`; overlays created by `qemu-img create` and written by `qemu-io`
// read back correctly through our code, and stay clean when we write to them in turn.
// Exits 77 (skipped) when qemu-img or qemu-io is missing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../../support/ShellTools.h"
#include "../../support/TempDir.h"
#include "ingot/image/Qcow2.h"

namespace ingot {
namespace {

namespace fs = std::filesystem;
using image::Qcow2Image;
using test::quote;
using Bytes = std::vector<uint8_t>;

struct Tools {
    std::string qemuImg, qemuIo;
};
Tools& tools() {
    static Tools t;
    return t;
}

using Result = test::ShellResult;

Result run(const std::string& command) {
    return test::runShell(command);
}

Bytes pattern(size_t size, uint32_t seed) {
    Bytes out(size);
    uint32_t x = seed * 2654435761u + 1;
    for (uint8_t& b : out) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        b = static_cast<uint8_t>(x);
    }
    return out;
}

void writeBytes(const std::string& path, const Bytes& bytes) {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
}

class Qcow2InteropTest : public ::testing::Test {
protected:
    static constexpr uint64_t kDiskSize = 8 << 20;

    void SetUp() override {
        basePath_ = dir_.file("base.raw");
        overlayPath_ = dir_.file("vm.qcow2");
        base_ = pattern(kDiskSize, 11);
        writeBytes(basePath_, base_);
        expected_ = base_;
        baseFd_ = ::open(basePath_.c_str(), O_RDONLY | O_CLOEXEC);
        ASSERT_GE(baseFd_, 0);
    }
    void TearDown() override { ::close(baseFd_); }

    std::unique_ptr<Qcow2Image> open(bool readOnly = false) {
        auto overlay = Qcow2Image::open(overlayPath_, readOnly);
        overlay->setBacking([this](uint64_t offset, std::span<const iovec> buffers) {
            ssize_t n = ::preadv(baseFd_, buffers.data(), static_cast<int>(buffers.size()),
                                 static_cast<off_t>(offset));
            return n < 0 ? errno : 0;
        });
        return overlay;
    }

    // Writes through our code and into the expected disk image alike.
    void write(Qcow2Image& overlay, uint64_t offset, const Bytes& data) {
        iovec v{const_cast<uint8_t*>(data.data()), data.size()};
        ASSERT_EQ(overlay.write(offset, std::span<const iovec>(&v, 1)), 0) << overlay.lastError();
        std::copy(data.begin(), data.end(), expected_.begin() + static_cast<ptrdiff_t>(offset));
    }
    void writeZeroes(Qcow2Image& overlay, uint64_t offset, uint64_t length) {
        ASSERT_EQ(overlay.writeZeroes(offset, length), 0) << overlay.lastError();
        std::fill_n(expected_.begin() + static_cast<ptrdiff_t>(offset), length, 0);
    }
    // Only the whole clusters of a discard change.
    void discard(Qcow2Image& overlay, uint64_t offset, uint64_t length) {
        ASSERT_EQ(overlay.discard(offset, length), 0) << overlay.lastError();
        uint64_t cluster = overlay.clusterSize();
        uint64_t first = (offset + cluster - 1) / cluster * cluster;
        uint64_t end = (offset + length) / cluster * cluster;
        if (first < end)
            std::fill_n(expected_.begin() + static_cast<ptrdiff_t>(first), end - first, 0);
    }

    void expectReadsExpected(Qcow2Image& overlay) {
        Bytes out(kDiskSize);
        iovec v{out.data(), out.size()};
        ASSERT_EQ(overlay.read(0, std::span<const iovec>(&v, 1)), 0) << overlay.lastError();
        EXPECT_TRUE(out == expected_);
    }

    // qemu-img check and compare agree with what we wrote.
    void expectQemuAgrees() {
        Result check = run(quote(tools().qemuImg) + " check -f qcow2 " + quote(overlayPath_));
        EXPECT_EQ(check.status, 0) << check.output;
        writeBytes(dir_.file("expected.raw"), expected_);
        Result compare = run(quote(tools().qemuImg) + " compare -f raw -F qcow2 " +
                             quote(dir_.file("expected.raw")) + " " + quote(overlayPath_));
        EXPECT_EQ(compare.status, 0) << compare.output;
    }

    test::TempDir dir_;
    std::string basePath_, overlayPath_;
    Bytes base_, expected_;
    int baseFd_ = -1;
};

TEST_F(Qcow2InteropTest, QemuImgInfoShowsOurHeader) {
    image::Qcow2CreateOptions options;
    options.virtualSize = kDiskSize;
    options.backingFile = basePath_;
    image::createQcow2(overlayPath_, options);
    Result info = run(quote(tools().qemuImg) + " info --output=json " + quote(overlayPath_));
    ASSERT_EQ(info.status, 0) << info.output;
    auto json = nlohmann::json::parse(info.output);
    EXPECT_EQ(json["format"], "qcow2");
    EXPECT_EQ(json["virtual-size"], kDiskSize);
    EXPECT_EQ(json["cluster-size"], 65536);
    EXPECT_EQ(json["backing-filename"], basePath_);
    EXPECT_EQ(json["backing-filename-format"], "raw");
    EXPECT_EQ(json["format-specific"]["data"]["compat"], "1.1");
    expectQemuAgrees();
}

TEST_F(Qcow2InteropTest, OurWritesPassQemuImgCheckAndCompare) {
    image::Qcow2CreateOptions options;
    options.virtualSize = kDiskSize;
    options.backingFile = basePath_;
    image::createQcow2(overlayPath_, options);
    {
        auto overlay = open();
        write(*overlay, 4096, pattern(512, 1));                 // partial: copy-on-write
        write(*overlay, 65536 - 1024, pattern(200 * 1024, 2));  // spanning clusters
        write(*overlay, 1 << 20, pattern(1 << 20, 3));          // whole clusters
        writeZeroes(*overlay, 65536, 65536);                    // frees a data cluster
        writeZeroes(*overlay, 3 << 20, 3 * 65536 + 4096);       // never written: zero flags
        discard(*overlay, (1 << 20) + 4096, 512 * 1024);        // partial ends ignored
        discard(*overlay, 5 << 20, 65536);                      // hides the backing
        write(*overlay, 6 << 20, pattern(300 * 1024, 4));       // reuses freed clusters
        write(*overlay, 65536 + 512, pattern(1024, 5));         // into a zero cluster
        writeZeroes(*overlay, kDiskSize - 65536, 65536);        // the last cluster
        ASSERT_EQ(overlay->flush(), 0);
        expectReadsExpected(*overlay);
    }
    expectQemuAgrees();
    auto overlay = open(true);
    expectReadsExpected(*overlay);
}

TEST_F(Qcow2InteropTest, SmallClustersGrowingRefcountTablePassCheck) {
    image::Qcow2CreateOptions options;
    options.virtualSize = kDiskSize;
    options.backingFile = basePath_;
    options.clusterBits = 9;
    image::createQcow2(overlayPath_, options);
    {
        auto overlay = open();
        // Past the first table's 64 blocks of 256 clusters, with discards and reuse between.
        write(*overlay, 0, pattern(kDiskSize - 4096, 6));
        discard(*overlay, 1 << 20, 1 << 20);
        write(*overlay, (6 << 20) + 512, pattern((1 << 20) + 4096, 7));
        writeZeroes(*overlay, 3 << 20, 333 * 512);
        write(*overlay, (1 << 20) + 1024, pattern(100 * 1024, 8));
    }
    Result dump = run("od -An -tx1 -j56 -N4 " + quote(overlayPath_));
    EXPECT_NE(dump.output, " 00 00 00 01\n") << "the refcount table did not grow";
    expectQemuAgrees();
    auto overlay = open(true);
    expectReadsExpected(*overlay);
}

TEST_F(Qcow2InteropTest, QemuIoWritesReadBackThroughOurs) {
    Result created =
        run(quote(tools().qemuImg) + " create -q -f qcow2 -o compat=1.1 -b " + quote(basePath_) +
            " -F raw " + quote(overlayPath_) + " " + std::to_string(kDiskSize));
    ASSERT_EQ(created.status, 0) << created.output;
    Result io = run(quote(tools().qemuIo) + " -f qcow2 -c 'write -P 0xab 65536 131072' " +
                    "-c 'write -z 0 65536' -c 'write -P 0xcd 1048576 4096' " +
                    "-c 'discard 2097152 131072' " + quote(overlayPath_));
    ASSERT_EQ(io.status, 0) << io.output;
    std::fill_n(expected_.begin() + 65536, 131072, 0xab);
    std::fill_n(expected_.begin(), 65536, 0);
    std::fill_n(expected_.begin() + 1048576, 4096, 0xcd);
    std::fill_n(expected_.begin() + 2097152, 131072, 0);

    {
        auto overlay = open(true);
        EXPECT_EQ(overlay->backingFile(), basePath_);
        EXPECT_EQ(overlay->backingFormat(), "raw");
        EXPECT_EQ(overlay->virtualSize(), kDiskSize);
        expectReadsExpected(*overlay);
    }
    // Our writes on QEMU's file keep it clean for QEMU.
    {
        auto overlay = open();
        write(*overlay, 65536 + 100 * 512, pattern(8192, 8));
        write(*overlay, 4 << 20, pattern(70000 / 512 * 512, 9));
        writeZeroes(*overlay, 65536, 65536);
        discard(*overlay, 1048576, 65536);
        expectReadsExpected(*overlay);
    }
    expectQemuAgrees();
}

// Refcount widths other than the 16 bits we create with, on small clusters so that our writes
// add refcount blocks and outgrow QEMU's refcount table.
TEST_F(Qcow2InteropTest, OurWritesKeepOtherRefcountWidthsClean) {
    for (const char* bits : {"1", "8", "64"}) {
        SCOPED_TRACE(std::string("refcount_bits=") + bits);
        fs::remove(overlayPath_);
        expected_ = base_;
        Result created = run(quote(tools().qemuImg) + " create -q -f qcow2 -o compat=1.1," +
                             "cluster_size=512,refcount_bits=" + bits + " -b " + quote(basePath_) +
                             " -F raw " + quote(overlayPath_) + " " + std::to_string(kDiskSize));
        ASSERT_EQ(created.status, 0) << created.output;
        {
            auto overlay = open();
            write(*overlay, 512, pattern(3 << 20, 12));
            discard(*overlay, 1 << 20, 256 * 1024);
            write(*overlay, 5 << 20, pattern(256 * 1024 + 1024, 13));
            writeZeroes(*overlay, 7 << 20, 4096 + 1024);
            expectReadsExpected(*overlay);
        }
        expectQemuAgrees();
    }
}

}  // namespace
}  // namespace ingot

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ingot::Tools& t = ingot::tools();
    t.qemuImg = ingot::test::findProgram("qemu-img");
    t.qemuIo = ingot::test::findProgram("qemu-io");
    if (t.qemuImg.empty() || t.qemuIo.empty()) {
        std::fprintf(stderr,
                     "qemu-img or qemu-io not found (apt-get install qemu-utils, or run "
                     "scripts/setup); skipping\n");
        return 77;
    }
    return RUN_ALL_TESTS();
}
