// The clone disk stack without KVM: a signed image served through VerifiedBaseDisk (signature at
// open, dm-verity per block on first read, zeros where nothing vouches) and a qcow2 overlay on
// top of it (Qcow2OverlayDisk).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "devices/virtio/Qcow2OverlayDisk.h"
#include "devices/virtio/VerifiedBaseDisk.h"
#include "ingot/core/Error.h"
#include "ingot/core/File.h"
#include "ingot/core/Sha256.h"
#include "ingot/image/DiskImage.h"
#include "ingot/image/Gpt.h"
#include "../../support/TempDir.h"

using namespace ingot;
using ingot::vmm::virtio::Qcow2OverlayDisk;
using ingot::vmm::virtio::VerifiedBaseDisk;
using Bytes = std::vector<uint8_t>;

namespace {

class VerifiedDisk : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        temp_ = new test::TempDir;
        dir_ = &temp_->path();
        std::mt19937 rng(7);
        std::string kernel(256 * 1024, '\0'), root(kRootBytes, '\0');
        for (auto& c : kernel) c = static_cast<char>(rng());
        for (auto& c : root) c = static_cast<char>(rng());
        writeFileAtomically((*dir_ / "kernel").string(), kernel);
        writeFileAtomically((*dir_ / "root.img").string(), root);
        key_ = new sign::MinisignSecretKey(sign::generateMinisignKey());
        image::DiskImageInput in;
        in.name = "test/verified";
        in.version = "1";
        in.cmdline = "console=ttyS0";
        in.kernelPath = (*dir_ / "kernel").string();
        in.rootPath = (*dir_ / "root.img").string();
        image_ = new image::DiskImage(image::writeDiskImage(in, *key_, (*dir_ / "disk.img").string()));
    }
    static void TearDownTestSuite() {
        delete temp_;
        delete key_;
        delete image_;
    }

    void SetUp() override {
        // Each test gets its own copy to tamper with.
        path_ = (*dir_ / (std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + ".img")).string();
        std::filesystem::copy_file(*dir_ / "disk.img", path_,
                                   std::filesystem::copy_options::overwrite_existing);
    }

    static std::vector<sign::MinisignPublicKey> trusted() { return {key_->publicPart()}; }
    static uint64_t partitionStart(const std::string& role) {
        for (const auto& p : image_->manifest.partitions)
            if (p.role == role) return p.firstLba * 512;
        return 0;
    }
    Bytes fileBytes() const {
        auto text = readWholeFile(path_, "disk", 1ull << 30);
        return Bytes(text.begin(), text.end());
    }
    void poke(uint64_t at, uint8_t value) const {
        std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(at));
        f.put(static_cast<char>(value));
    }
    static int readAt(vmm::virtio::BlockBackend& disk, uint64_t at, Bytes& out) {
        iovec v{out.data(), out.size()};
        return disk.read(at, {&v, 1});
    }

    static constexpr uint64_t kRootBytes = 3 * 1024 * 1024 + 40 * 4096;
    static test::TempDir* temp_;
    static const std::filesystem::path* dir_;
    static sign::MinisignSecretKey* key_;
    static image::DiskImage* image_;
    std::string path_;
};
test::TempDir* VerifiedDisk::temp_ = nullptr;
const std::filesystem::path* VerifiedDisk::dir_ = nullptr;
sign::MinisignSecretKey* VerifiedDisk::key_ = nullptr;
image::DiskImage* VerifiedDisk::image_ = nullptr;

TEST_F(VerifiedDisk, ServesTheWholeImageAndVerifiesEveryRootBlockOnce) {
    auto disk = VerifiedBaseDisk::open(path_, trusted());
    Bytes expected = fileBytes();
    ASSERT_EQ(disk->sizeBytes(), expected.size());
    Bytes got(expected.size());
    // Odd-sized pieces, so requests straddle blocks and regions.
    for (uint64_t at = 0; at < got.size();) {
        uint64_t n = std::min<uint64_t>(got.size() - at, 37 * 512);
        iovec v{got.data() + at, n};
        ASSERT_EQ(disk->read(at, {&v, 1}), 0) << "at " << at;
        at += n;
    }
    EXPECT_TRUE(got == expected);
    uint64_t rootBlocks = image_->manifest.verity->dataBlocks;
    EXPECT_EQ(disk->blocksVerified(), rootBlocks);
    ASSERT_EQ(readAt(*disk, 0, got), 0);  // again: nothing is verified twice
    EXPECT_EQ(disk->blocksVerified(), rootBlocks);
    EXPECT_EQ(disk->verificationFailures(), 0u);
}

TEST_F(VerifiedDisk, ATamperedRootBlockIsAnIoErrorNamingTheBlock) {
    uint64_t root = partitionStart("root");
    poke(root + 5 * 4096 + 17, 0x5a ^ fileBytes()[root + 5 * 4096 + 17]);
    auto disk = VerifiedBaseDisk::open(path_, trusted());  // the signature does not cover root
    std::vector<std::string> lines;
    disk->log().setSink([&](const std::string& line) { lines.push_back(line); });
    Bytes block(4096);
    EXPECT_EQ(readAt(*disk, root + 4 * 4096, block), 0);
    EXPECT_EQ(readAt(*disk, root + 5 * 4096, block), EIO);
    Bytes sector(512);
    EXPECT_EQ(readAt(*disk, root + 5 * 4096 + 3 * 512, sector), EIO);  // any part of it
    EXPECT_EQ(readAt(*disk, root + 6 * 4096, block), 0);
    EXPECT_EQ(disk->verificationFailures(), 2u);
    ASSERT_FALSE(lines.empty());
    EXPECT_NE(lines[0].find("root block 5 "), std::string::npos) << lines[0];
}

TEST_F(VerifiedDisk, ATamperedTreeBlockFailsWhatItCovers) {
    // Level 0's first block holds the digests of the first 128 root blocks.
    const auto& layout = image_->verity->layout;
    ASSERT_GE(layout.levels(), 2u);  // so that the block is itself checked against a parent
    uint64_t level0 = partitionStart("root-verity") + layout.levelFirstBlock[0] * 4096;
    poke(level0 + 100, static_cast<uint8_t>(fileBytes()[level0 + 100] ^ 1));
    auto disk = VerifiedBaseDisk::open(path_, trusted());
    disk->log().setSink([](const std::string&) {});
    Bytes block(4096);
    EXPECT_EQ(readAt(*disk, partitionStart("root"), block), EIO);
    EXPECT_EQ(readAt(*disk, level0, block), EIO);
}

TEST_F(VerifiedDisk, BytesNothingVouchesForReadAsZeros) {
    // Between the GPT and the first partition: nobody signs these bytes.
    uint64_t gap = image::kGptFirstUsableLba * 512 + 1000;
    poke(gap, 0xee);
    auto disk = VerifiedBaseDisk::open(path_, trusted());
    Bytes sector(512, 0xff);
    ASSERT_EQ(readAt(*disk, gap / 512 * 512, sector), 0);
    EXPECT_TRUE(std::all_of(sector.begin(), sector.end(), [](uint8_t b) { return b == 0; }));
}

TEST_F(VerifiedDisk, AnUntrustedOrAlteredImageDoesNotOpen) {
    auto other = sign::generateMinisignKey();
    try {
        VerifiedBaseDisk::open(path_, {other.publicPart()});
        FAIL() << "opened with the wrong key";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), ExitStatus::kVerification) << e.what();
    }
    poke(partitionStart("boot") + 600, 0x41);  // inside the signed boot pack
    EXPECT_THROW(VerifiedBaseDisk::open(path_, trusted()), Error);
}

TEST_F(VerifiedDisk, OverlayTakesWritesAndLeavesTheBaseAlone) {
    std::string overlay = path_ + ".qcow2";
    Bytes before = fileBytes();
    uint64_t root = partitionStart("root");
    Bytes data(8192, 0xab), got(8192);
    {
        auto clone = Qcow2OverlayDisk::open(overlay, path_, VerifiedBaseDisk::open(path_, trusted()));
        EXPECT_EQ(clone->sizeBytes(), before.size());
        EXPECT_GT(clone->discardGranularity(), 0u);
        iovec v{data.data(), data.size()};
        ASSERT_EQ(clone->write(root + 512, {&v, 1}), 0);
        ASSERT_EQ(clone->flush(), 0);
        ASSERT_EQ(readAt(*clone, root + 512, got), 0);
        EXPECT_TRUE(got == data);
        // Unwritten bytes still come from the (verified) base.
        Bytes head(512);
        ASSERT_EQ(readAt(*clone, root, head), 0);
        EXPECT_TRUE(std::equal(head.begin(), head.end(), before.begin() + static_cast<long>(root)));
        // A second VM cannot attach the same overlay.
        EXPECT_THROW(Qcow2OverlayDisk::open(overlay, path_, VerifiedBaseDisk::open(path_, trusted())),
                     Error);
    }
    EXPECT_TRUE(fileBytes() == before);
    // Reopened, the writes are still there; a discard reads zeros, not the base.
    auto clone = Qcow2OverlayDisk::open(overlay, path_, VerifiedBaseDisk::open(path_, trusted()));
    ASSERT_EQ(readAt(*clone, root + 512, got), 0);
    EXPECT_TRUE(got == data);
    uint64_t cluster = clone->discardGranularity();
    ASSERT_EQ(clone->discard(root / cluster * cluster + 4 * cluster, cluster), 0);
    Bytes zeros(cluster, 0xff);
    ASSERT_EQ(readAt(*clone, root / cluster * cluster + 4 * cluster, zeros), 0);
    EXPECT_TRUE(std::all_of(zeros.begin(), zeros.end(), [](uint8_t b) { return b == 0; }));
}

TEST_F(VerifiedDisk, AnOverlayOfAnotherBaseIsRefused) {
    std::string otherBase = path_ + ".other";
    std::filesystem::copy_file(path_, otherBase);
    std::string overlay = path_ + ".qcow2";
    Qcow2OverlayDisk::open(overlay, otherBase, VerifiedBaseDisk::open(otherBase, trusted()));
    try {
        Qcow2OverlayDisk::open(overlay, path_, VerifiedBaseDisk::open(path_, trusted()));
        FAIL() << "attached an overlay to the wrong base";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("wrong disk"), std::string::npos) << e.what();
    }
}

}  // namespace
