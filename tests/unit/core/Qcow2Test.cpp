// qcow2 overlays: what createQcow2 records, copy-on-write from the backing, zero clusters that
// hide the backing, space reuse, persistence, refcount table growth, and hostile files refused
// at open (ingot::Error naming the field) or failing the request with EIO at run time.
// tests/interop/qcow2 checks the same files with qemu-img and qemu-io.
#include "ingot/image/Qcow2.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>

#include "../../support/TempDir.h"
#include "ingot/core/Error.h"

namespace ingot::image {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes pattern(size_t size, uint32_t seed) {
    Bytes out(size);
    uint32_t x = seed * 2654435761u + 1;
    for (uint8_t& b : out) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        b = static_cast<uint8_t>(x);
    }
    return out;
}

uint64_t loadBe(const uint8_t* p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = v << 8 | p[i];
    return v;
}

// Big-endian field access in a file, for hostile-header tests.
uint64_t readField(const std::string& path, uint64_t offset, size_t size) {
    int fd = ::open(path.c_str(), O_RDONLY);
    uint8_t bytes[8] = {};
    EXPECT_EQ(::pread(fd, bytes, size, static_cast<off_t>(offset)), static_cast<ssize_t>(size));
    ::close(fd);
    return loadBe(bytes, size);
}

void writeField(const std::string& path, uint64_t offset, size_t size, uint64_t value) {
    int fd = ::open(path.c_str(), O_WRONLY);
    uint8_t bytes[8];
    for (size_t i = 0; i < size; ++i) bytes[size - 1 - i] = static_cast<uint8_t>(value >> (8 * i));
    EXPECT_EQ(::pwrite(fd, bytes, size, static_cast<off_t>(offset)), static_cast<ssize_t>(size));
    ::close(fd);
}

class Qcow2Test : public ::testing::Test {
protected:
    static constexpr uint64_t kCluster = 65536;
    static constexpr uint64_t kDiskSize = 4 << 20;

    void SetUp() override {
        base_ = pattern(kDiskSize, 1);
        path_ = dir_.file("vm.qcow2");
    }

    void create(unsigned clusterBits = 16, uint64_t size = kDiskSize) {
        Qcow2CreateOptions options;
        options.virtualSize = size;
        options.backingFile = "/store/base.raw";
        options.clusterBits = clusterBits;
        createQcow2(path_, options);
    }

    std::unique_ptr<Qcow2Image> open(bool readOnly = false) {
        auto image = Qcow2Image::open(path_, readOnly);
        image->setBacking([this](uint64_t offset, std::span<const iovec> buffers) {
            for (const iovec& v : buffers) {
                if (offset + v.iov_len > base_.size()) return EIO;
                std::memcpy(v.iov_base, base_.data() + offset, v.iov_len);
                offset += v.iov_len;
            }
            return 0;
        });
        return image;
    }

    static Bytes read(Qcow2Image& image, uint64_t offset, size_t size) {
        Bytes out(size, 0xee);
        iovec v{out.data(), out.size()};
        EXPECT_EQ(image.read(offset, std::span<const iovec>(&v, 1)), 0) << image.lastError();
        return out;
    }

    static int write(Qcow2Image& image, uint64_t offset, const Bytes& data) {
        iovec v{const_cast<uint8_t*>(data.data()), data.size()};
        return image.write(offset, std::span<const iovec>(&v, 1));
    }

    Bytes baseAt(uint64_t offset, size_t size) const {
        return Bytes(base_.begin() + static_cast<ptrdiff_t>(offset),
                     base_.begin() + static_cast<ptrdiff_t>(offset + size));
    }

    // The open error for the file as it is now.
    std::string openError() {
        try {
            Qcow2Image::open(path_, false);
        } catch (const Error& e) {
            EXPECT_EQ(e.status(), ExitStatus::kVerification) << e.what();
            return e.what();
        }
        ADD_FAILURE() << "open accepted the file";
        return {};
    }

    // The host offset of guest cluster `index`'s L2 entry (cluster size 64 KiB, one L2 table).
    uint64_t l2EntryOffset(uint64_t index) {
        uint64_t l1 = readField(path_, 40, 8);
        uint64_t l2 = readField(path_, l1, 8) & 0x00fffffffffffe00ull;
        EXPECT_NE(l2, 0u);
        return l2 + index * 8;
    }

    test::TempDir dir_;
    std::string path_;
    Bytes base_;
};

TEST_F(Qcow2Test, CreateRecordsSizeAndBacking) {
    create();
    auto image = Qcow2Image::open(path_, true);
    EXPECT_EQ(image->virtualSize(), kDiskSize);
    EXPECT_EQ(image->clusterSize(), kCluster);
    EXPECT_EQ(image->backingFile(), "/store/base.raw");
    EXPECT_EQ(image->backingFormat(), "raw");
    EXPECT_EQ(image->stats().allocatedClusters, 0u);
    EXPECT_EQ(image->stats().fileBytes, 4 * kCluster);  // header, refcounts (2), L1
    EXPECT_EQ(readField(path_, 0, 4), 0x514649fbu);
    EXPECT_EQ(readField(path_, 4, 4), 3u);
}

TEST_F(Qcow2Test, CreateWithoutBackingReadsZeros) {
    Qcow2CreateOptions options;
    options.virtualSize = 1 << 20;
    createQcow2(path_, options);
    auto image = Qcow2Image::open(path_, false);
    EXPECT_EQ(image->backingFile(), "");
    EXPECT_EQ(read(*image, 0, 8192), Bytes(8192, 0));
}

TEST_F(Qcow2Test, CreateRefusesExistingFileAndBadOptions) {
    create();
    try {
        create();
        FAIL() << "an existing overlay was replaced";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(path_), std::string::npos) << e.what();
        EXPECT_EQ(e.status(), ExitStatus::kUsage);
    }
    path_ = dir_.file("other.qcow2");
    EXPECT_THROW(create(16, 1000), Error);
    EXPECT_THROW(create(8), Error);
    EXPECT_THROW(create(22), Error);
    Qcow2CreateOptions options;
    options.virtualSize = 1 << 20;
    options.backingFile = std::string(1024, 'a');
    EXPECT_THROW(createQcow2(path_, options), Error);
    EXPECT_EQ(dir_.list(), std::vector<std::string>{"vm.qcow2"});
}

TEST_F(Qcow2Test, UnallocatedClustersReadFromBacking) {
    create();
    auto image = open();
    EXPECT_EQ(read(*image, 0, 4096), baseAt(0, 4096));
    EXPECT_EQ(read(*image, kCluster - 512, 3 * kCluster), baseAt(kCluster - 512, 3 * kCluster));
    image->setBacking(nullptr);
    EXPECT_EQ(read(*image, 512, 1024), Bytes(1024, 0));
}

TEST_F(Qcow2Test, PartialWriteCopiesTheRestOfTheClusterFromBacking) {
    create();
    auto image = open();
    Bytes data = pattern(1024, 7);
    ASSERT_EQ(write(*image, kCluster + 4096, data), 0) << image->lastError();
    Bytes expected = baseAt(kCluster, kCluster);
    std::copy(data.begin(), data.end(), expected.begin() + 4096);
    EXPECT_EQ(read(*image, kCluster, kCluster), expected);
    EXPECT_EQ(image->stats().allocatedClusters, 1u);
    // The base changing afterwards no longer shows in the copied cluster, but does elsewhere.
    base_.assign(base_.size(), 0x55);
    EXPECT_EQ(read(*image, kCluster, kCluster), expected);
    EXPECT_EQ(read(*image, 0, 512), Bytes(512, 0x55));
}

TEST_F(Qcow2Test, WritesSpanningClustersThroughManyBuffers) {
    create(12);  // 4 KiB clusters
    auto image = open();
    Bytes data = pattern(5 * 4096 + 1024, 9);
    // Uneven buffers that do not line up with clusters.
    std::vector<iovec> buffers;
    for (size_t at = 0; at < data.size();) {
        size_t size = std::min<size_t>(data.size() - at, 1000 + at % 3000);
        buffers.push_back({data.data() + at, size});
        at += size;
    }
    uint64_t offset = 3 * 4096 - 512;
    ASSERT_EQ(image->write(offset, buffers), 0) << image->lastError();
    Bytes expected = baseAt(0, 16 * 4096);
    std::copy(data.begin(), data.end(), expected.begin() + static_cast<ptrdiff_t>(offset));
    EXPECT_EQ(read(*image, 0, 16 * 4096), expected);
    EXPECT_EQ(image->stats().allocatedClusters, 7u);

    // Reading into many small buffers gives the same bytes.
    Bytes out(16 * 4096);
    std::vector<iovec> outBuffers;
    for (size_t at = 0; at < out.size(); at += 512) outBuffers.push_back({out.data() + at, 512});
    ASSERT_EQ(image->read(0, outBuffers), 0);
    EXPECT_EQ(out, expected);
    // Rewriting allocated clusters happens in place.
    uint64_t fileBytes = image->stats().fileBytes;
    ASSERT_EQ(write(*image, offset, Bytes(data.size(), 1)), 0);
    EXPECT_EQ(image->stats().fileBytes, fileBytes);
    EXPECT_EQ(read(*image, offset, data.size()), Bytes(data.size(), 1));
}

TEST_F(Qcow2Test, ZeroedAndDiscardedClustersReadZerosNotBacking) {
    create();
    auto image = open();
    ASSERT_EQ(write(*image, 0, pattern(2 * kCluster, 3)), 0);
    ASSERT_EQ(image->stats().allocatedClusters, 2u);

    ASSERT_EQ(image->writeZeroes(0, kCluster), 0) << image->lastError();
    EXPECT_EQ(read(*image, 0, kCluster), Bytes(kCluster, 0));
    ASSERT_EQ(image->discard(kCluster, kCluster), 0) << image->lastError();
    EXPECT_EQ(read(*image, kCluster, kCluster), Bytes(kCluster, 0));
    EXPECT_EQ(image->stats().allocatedClusters, 0u);

    // Clusters never written: zeroing and discarding both hide the backing.
    ASSERT_EQ(image->discard(2 * kCluster, kCluster), 0);
    ASSERT_EQ(image->writeZeroes(3 * kCluster, kCluster), 0);
    EXPECT_EQ(read(*image, 2 * kCluster, 2 * kCluster), Bytes(2 * kCluster, 0));

    // Partial clusters: a discard leaves them alone, zeroing writes zero bytes.
    ASSERT_EQ(image->discard(4 * kCluster + 512, 4096), 0);
    EXPECT_EQ(read(*image, 4 * kCluster, kCluster), baseAt(4 * kCluster, kCluster));
    ASSERT_EQ(image->writeZeroes(5 * kCluster + 512, 4096), 0);
    Bytes expected = baseAt(5 * kCluster, kCluster);
    std::fill(expected.begin() + 512, expected.begin() + 512 + 4096, 0);
    EXPECT_EQ(read(*image, 5 * kCluster, kCluster), expected);

    // A range with partial ends and whole clusters between.
    ASSERT_EQ(image->writeZeroes(6 * kCluster + 1024, 2 * kCluster), 0);
    expected = baseAt(6 * kCluster, 3 * kCluster);
    std::fill(expected.begin() + 1024, expected.begin() + 1024 + 2 * kCluster, 0);
    EXPECT_EQ(read(*image, 6 * kCluster, 3 * kCluster), expected);

    // Zeros persist, and writing into a zero cluster starts from zeros, not the backing.
    image.reset();
    image = open();
    EXPECT_EQ(read(*image, 0, 4 * kCluster), Bytes(4 * kCluster, 0));
    ASSERT_EQ(write(*image, 2 * kCluster + 512, Bytes(512, 9)), 0);
    expected.assign(kCluster, 0);
    std::fill(expected.begin() + 512, expected.begin() + 1024, 9);
    EXPECT_EQ(read(*image, 2 * kCluster, kCluster), expected);
}

TEST_F(Qcow2Test, RewriteAfterDiscardReusesSpace) {
    create();
    auto image = open();
    ASSERT_EQ(write(*image, 0, pattern(16 * kCluster, 4)), 0);
    Qcow2Image::Stats full = image->stats();
    ASSERT_EQ(image->discard(0, 16 * kCluster), 0);
    Qcow2Image::Stats discarded = image->stats();
    EXPECT_EQ(discarded.fileBytes, full.fileBytes);
    EXPECT_LE(discarded.hostBytes + 16 * kCluster, full.hostBytes);  // punched
    Bytes data = pattern(16 * kCluster, 5);
    ASSERT_EQ(write(*image, 32 * kCluster, data), 0);
    EXPECT_EQ(image->stats().fileBytes, full.fileBytes);
    EXPECT_EQ(read(*image, 32 * kCluster, data.size()), data);

    // Freed clusters are found again after reopening.
    ASSERT_EQ(image->discard(32 * kCluster, 16 * kCluster), 0);
    image.reset();
    image = open();
    ASSERT_EQ(write(*image, 0, data), 0);
    EXPECT_EQ(image->stats().fileBytes, full.fileBytes);
}

TEST_F(Qcow2Test, ReopenPersistsWrites) {
    create();
    Bytes data = pattern(3 * kCluster, 6);
    {
        auto image = open();
        ASSERT_EQ(write(*image, kCluster / 2, data), 0);
        ASSERT_EQ(image->flush(), 0);
    }
    auto image = open(true);
    Bytes expected = baseAt(0, 4 * kCluster);
    std::copy(data.begin(), data.end(), expected.begin() + kCluster / 2);
    EXPECT_EQ(read(*image, 0, 4 * kCluster), expected);
    EXPECT_EQ(image->stats().allocatedClusters, 4u);
    EXPECT_EQ(write(*image, 0, Bytes(512, 1)), EROFS);
}

TEST_F(Qcow2Test, RefcountTableGrowsWithSmallClusters) {
    // 512-byte clusters: one refcount block counts 256 clusters and the first table holds 64
    // blocks, so 24 MiB of writes outgrow both several times.
    base_ = pattern(32 << 20, 2);
    create(9, 32 << 20);
    Bytes data = pattern(24 << 20, 8);
    {
        auto image = open();
        for (uint64_t at = 0; at < data.size(); at += 256 << 10) {
            Bytes chunk(data.begin() + static_cast<ptrdiff_t>(at),
                        data.begin() + static_cast<ptrdiff_t>(at + (256 << 10)));
            ASSERT_EQ(write(*image, at, chunk), 0) << image->lastError();
        }
    }
    EXPECT_GT(readField(path_, 56, 4), 1u);  // refcount_table_clusters
    auto image = open(true);
    EXPECT_EQ(read(*image, 0, data.size()), data);
    EXPECT_EQ(image->stats().allocatedClusters, data.size() / 512);
}

TEST_F(Qcow2Test, RequestsOutsideTheDiskFail) {
    create();
    auto image = open();
    EXPECT_EQ(write(*image, kDiskSize - 512, Bytes(1024, 1)), EINVAL);
    Bytes out(1024);
    iovec v{out.data(), out.size()};
    EXPECT_EQ(image->read(kDiskSize, std::span<const iovec>(&v, 1)), EINVAL);
    EXPECT_EQ(image->discard(kDiskSize, 512), EINVAL);
}

// --- hostile files ---

TEST_F(Qcow2Test, RefusesTruncatedFile) {
    test::TempDir other;
    path_ = other.file("short.qcow2");
    int fd = ::open(path_.c_str(), O_CREAT | O_WRONLY, 0600);
    ASSERT_EQ(::write(fd, "QFI\xfb\0\0\0\3", 8), 8);
    ::close(fd);
    EXPECT_NE(openError().find("shorter than a qcow2 version 3 header"), std::string::npos);
    path_ = dir_.file("vm.qcow2");
    create();  // then the L1 table cut off
    ASSERT_EQ(::truncate(path_.c_str(), 3 * kCluster), 0);
    EXPECT_NE(openError().find("L1 table"), std::string::npos);
}

TEST_F(Qcow2Test, RefusesBadMagicAndVersion) {
    create();
    writeField(path_, 0, 4, 0x514649fa);
    EXPECT_NE(openError().find("magic"), std::string::npos);
    writeField(path_, 0, 4, 0x514649fb);
    writeField(path_, 4, 4, 2);
    EXPECT_NE(openError().find("version 2"), std::string::npos);
    writeField(path_, 4, 4, 4);
    EXPECT_NE(openError().find("version 4"), std::string::npos);
}

TEST_F(Qcow2Test, RefusesBadClusterBitsAndHeaderLength) {
    create();
    writeField(path_, 20, 4, 22);
    EXPECT_NE(openError().find("cluster_bits 22"), std::string::npos);
    writeField(path_, 20, 4, 16);
    writeField(path_, 100, 4, 96);
    EXPECT_NE(openError().find("header_length"), std::string::npos);
}

TEST_F(Qcow2Test, RefusesHugeOrMisplacedL1) {
    create();
    writeField(path_, 36, 4, 0x7fffffff);
    EXPECT_NE(openError().find("l1_size"), std::string::npos);
    writeField(path_, 36, 4, 100000);  // within the limit, but not the file
    EXPECT_NE(openError().find("outside the file"), std::string::npos);
    writeField(path_, 36, 4, 1);
    writeField(path_, 40, 8, 3 * kCluster + 512);
    EXPECT_NE(openError().find("multiple of the cluster size"), std::string::npos);
    writeField(path_, 40, 8, 1ull << 40);
    EXPECT_NE(openError().find("outside the file"), std::string::npos);
    writeField(path_, 40, 8, 3 * kCluster);
    writeField(path_, 24, 8, 1ull << 40);  // the virtual size outgrows l1_size
    EXPECT_NE(openError().find("too small"), std::string::npos);
}

TEST_F(Qcow2Test, RefusesMisplacedRefcountTable) {
    create();
    writeField(path_, 48, 8, 1ull << 30);
    EXPECT_NE(openError().find("refcount table"), std::string::npos);
    writeField(path_, 48, 8, kCluster + 8);
    EXPECT_NE(openError().find("refcount_table_offset"), std::string::npos);
    writeField(path_, 48, 8, kCluster);
    writeField(path_, 56, 4, 1000000);
    EXPECT_NE(openError().find("refcount_table_clusters"), std::string::npos);
}

TEST_F(Qcow2Test, RefusesIncompatibleFeatures) {
    create();
    writeField(path_, 72, 8, 1);
    EXPECT_NE(openError().find("dirty"), std::string::npos);
    writeField(path_, 72, 8, 2);
    EXPECT_NE(openError().find("corrupt"), std::string::npos);
    writeField(path_, 72, 8, 1u << 5);
    EXPECT_NE(openError().find("incompatible feature bit 5"), std::string::npos);
    writeField(path_, 72, 8, 0);
    writeField(path_, 32, 4, 1);
    EXPECT_NE(openError().find("encrypted"), std::string::npos);
}

TEST_F(Qcow2Test, RefusesLongOrMisplacedBackingName) {
    create();
    writeField(path_, 16, 4, 2000);
    EXPECT_NE(openError().find("exceeds 1023"), std::string::npos);
    writeField(path_, 16, 4, 15);
    writeField(path_, 8, 8, kCluster - 4);
    EXPECT_NE(openError().find("outside the header cluster"), std::string::npos);
}

TEST_F(Qcow2Test, RefusesOverlongHeaderExtension) {
    create();
    // The first extension, right after the 112-byte header, is the backing format name.
    EXPECT_EQ(readField(path_, 112, 4), 0xe2792acau);
    writeField(path_, 116, 4, 0x10000);
    EXPECT_NE(openError().find("header extension"), std::string::npos);
    writeField(path_, 116, 4, 0);
    EXPECT_NE(openError().find("backing format"), std::string::npos);
}

TEST_F(Qcow2Test, L2EntryPastTheEndFailsReadsWithEio) {
    create();
    {
        auto image = open();
        ASSERT_EQ(write(*image, 0, Bytes(kCluster, 1)), 0);
    }
    writeField(path_, l2EntryOffset(0), 8, 0x8000000100000000ull);
    auto image = open();
    Bytes out(512);
    iovec v{out.data(), out.size()};
    EXPECT_EQ(image->read(0, std::span<const iovec>(&v, 1)), EIO);
    EXPECT_NE(image->lastError().find("past the end of the file"), std::string::npos)
        << image->lastError();
    EXPECT_EQ(write(*image, 0, Bytes(512, 1)), EIO);
    // Other clusters still work.
    EXPECT_EQ(read(*image, kCluster, 512), baseAt(kCluster, 512));
}

TEST_F(Qcow2Test, CompressedAndReservedBitsFailWithEio) {
    create();
    {
        auto image = open();
        ASSERT_EQ(write(*image, 0, Bytes(2 * kCluster, 1)), 0);
    }
    uint64_t entry = readField(path_, l2EntryOffset(0), 8);
    writeField(path_, l2EntryOffset(0), 8, entry | 1ull << 62);
    writeField(path_, l2EntryOffset(1), 8, readField(path_, l2EntryOffset(1), 8) | 2);
    auto image = open();
    Bytes out(512);
    iovec v{out.data(), out.size()};
    EXPECT_EQ(image->read(0, std::span<const iovec>(&v, 1)), EIO);
    EXPECT_NE(image->lastError().find("compressed"), std::string::npos) << image->lastError();
    EXPECT_EQ(image->read(kCluster, std::span<const iovec>(&v, 1)), EIO);
    EXPECT_NE(image->lastError().find("reserved"), std::string::npos) << image->lastError();
}

TEST_F(Qcow2Test, RefusesBadL1AndRefcountTableEntries) {
    create();
    uint64_t l1 = readField(path_, 40, 8);
    writeField(path_, l1, 8, 0x8000000000000000ull | 1ull << 36);
    EXPECT_NE(openError().find("L1 entry 0"), std::string::npos);
    writeField(path_, l1, 8, 0x8000000000000000ull | 4 * kCluster | 1);
    EXPECT_NE(openError().find("reserved bits"), std::string::npos);
    writeField(path_, l1, 8, 0);
    writeField(path_, kCluster + 8, 8, 1ull << 36);
    EXPECT_NE(openError().find("refcount table entry 1"), std::string::npos);
}

// Found by fuzz_qcow2: with no refcount block for cluster 0, allocation once picked the header
// cluster for a block that then described nothing, and looped forever. Whatever a hostile
// refcount table says, requests must finish.
TEST_F(Qcow2Test, MissingRefcountBlocksDoNotHangWrites) {
    create();
    writeField(path_, kCluster, 8, 0);  // refcount table entry 0
    auto image = open();
    int error = write(*image, 0, Bytes(4096, 1));
    EXPECT_TRUE(error == 0 || error == EIO) << error;
}

}  // namespace
}  // namespace ingot::image
