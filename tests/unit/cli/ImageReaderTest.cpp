// The image reader and verifier behind `ingot verify` and `ingot inspect`: a good image passes,
// and every kind of tampering is refused with a message naming what and where.
#include "ingot/image/ImageReader.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "CliTestSupport.h"
#include "ingot/core/TempFile.h"
#include "ingot/image/BootPack.h"
#include "ingot/image/Verity.h"

namespace ingot::test {
namespace {

namespace fs = std::filesystem;
using image::ImageContents;
using image::readImage;
using image::verifyImage;

class ImageReaderTest : public ::testing::Test {
protected:
    void SetUp() override {
        key_ = sign::generateMinisignKey();
        written_ = writeTestImage(dir_, key_, "good.img");
        good_ = dir_.file("good.img");
        contents_ = readImage(good_);
    }

    // A copy of the good image to tamper with.
    std::string copy(const std::string& name = "bad.img") {
        fs::copy_file(good_, dir_.file(name), fs::copy_options::overwrite_existing);
        return dir_.file(name);
    }
    const image::ImageMember& member(const char* name) const {
        const image::ImageMember* m = contents_.member(name);
        EXPECT_NE(m, nullptr) << name;
        return *m;
    }
    void expectRefused(const std::string& path, std::initializer_list<std::string_view> parts) {
        expectError([&] { verifyImage(readImage(path), {key_.publicPart()}); },
                    ExitStatus::kVerification, parts);
    }

    TempDir dir_;
    sign::MinisignSecretKey key_;
    image::DiskImage written_;
    std::string good_;
    ImageContents contents_;
};

TEST_F(ImageReaderTest, ReadsWhatTheWriterWrote) {
    EXPECT_EQ(contents_.gpt.partitions.size(), 1u);
    EXPECT_EQ(contents_.gpt.sectorCount, written_.gpt.sectorCount);
    EXPECT_EQ(contents_.gpt.diskGuid, written_.gpt.diskGuid);
    EXPECT_EQ(contents_.bootPackBytes, written_.bootPackBytes);
    EXPECT_EQ(contents_.manifestText, written_.manifestText);
    EXPECT_EQ(contents_.signatureText, written_.signature);
    ASSERT_EQ(contents_.members.size(), 4u);
    EXPECT_EQ(contents_.members[2].name, "kernel");
    EXPECT_EQ(contents_.members[2].size, 300001u);
    EXPECT_EQ(toHex(contents_.members[2].sha256), written_.manifest.kernel.sha256);
    EXPECT_EQ(contents_.members[0].headerOffset, 2048u * 512);
    EXPECT_EQ(byteAt(good_, member("kernel").dataOffset), randomBytes(1, 1)[0]);

    image::VerifiedImage verified = verifyImage(contents_, {key_.publicPart()});
    EXPECT_EQ(verified.manifest, written_.manifest);
    EXPECT_EQ(verified.key, key_.publicPart());
    EXPECT_EQ(verified.trustedComment, "ingot image test/reader 2026.1");
    EXPECT_EQ(verified.manifestSha256, sha256(written_.manifestText));
}

TEST_F(ImageReaderTest, VerifiesAnImageWithARootPartition) {
    TempDir other;
    image::DiskImage written = writeTestImage(other, key_, "root.img", true);
    image::VerifiedImage verified =
        verifyImage(readImage(other.file("root.img")), {key_.publicPart()});
    ASSERT_EQ(verified.manifest.partitions.size(), 3u);
    EXPECT_EQ(verified.manifest, written.manifest);
    image::RootVerityCheck check =
        image::verifyRootVerity(readImage(other.file("root.img")), verified.manifest);
    EXPECT_EQ(check.dataBlocks, 256u);
    EXPECT_EQ(check.rootOffset, written.manifest.partitions[1].firstLba * 512);
    EXPECT_EQ(check.hashOffset, written.manifest.partitions[2].firstLba * 512);
    EXPECT_EQ(check.treeBytes, 3u * 4096);
}

// An image with root and root-verity partitions, and ways to break it.
class RootVerityTest : public ::testing::Test {
protected:
    void SetUp() override {
        key_ = sign::generateMinisignKey();
        written_ = writeTestImage(dir_, key_, "good.img", true);
        good_ = dir_.file("good.img");
        rootOffset_ = written_.manifest.partitions.at(1).firstLba * 512;
        hashOffset_ = written_.manifest.partitions.at(2).firstLba * 512;
    }
    std::string copy() {
        fs::copy_file(good_, dir_.file("bad.img"), fs::copy_options::overwrite_existing);
        return dir_.file("bad.img");
    }
    // Runs both stages, as `ingot verify` does.
    void verifyAll(const std::string& path) {
        ImageContents contents = readImage(path);
        image::VerifiedImage verified = verifyImage(contents, {key_.publicPart()});
        image::verifyRootVerity(contents, verified.manifest);
    }

    TempDir dir_;
    sign::MinisignSecretKey key_;
    image::DiskImage written_;
    std::string good_;
    uint64_t rootOffset_ = 0, hashOffset_ = 0;
};

TEST_F(RootVerityTest, AGoodImagePasses) {
    verifyAll(good_);
}

TEST_F(RootVerityTest, AChangedRootByteNamesItsBlockAndFileByte) {
    std::string bad = copy();
    flipByte(bad, rootOffset_ + 77 * 4096 + 1000);
    ImageContents contents = readImage(bad);
    image::VerifiedImage verified = verifyImage(contents, {key_.publicPart()});
    try {
        image::verifyRootVerity(contents, verified.manifest);
        ADD_FAILURE() << "a changed root block passed";
    } catch (const image::VerityError& e) {
        EXPECT_EQ(e.kind(), image::VerityError::Kind::kDataBlock);
        EXPECT_EQ(e.block(), 77u);
        EXPECT_EQ(e.offset(), rootOffset_ + 77 * 4096);
        EXPECT_EQ(e.status(), ExitStatus::kVerification);
        std::string message = e.what();
        for (std::string part : {bad + ": root partition: block 77 ",
                                 "(file byte " + std::to_string(rootOffset_ + 77 * 4096) + ")",
                                 std::string("does not match")})
            EXPECT_NE(message.find(part), std::string::npos) << part << "\n" << message;
    }
}

TEST_F(RootVerityTest, AChangedHashBlockIsNamed) {
    std::string bad = copy();
    flipByte(bad, hashOffset_ + 2 * 4096 + 64);  // level 0, data block 2's digest
    expectError(
        [&] { verifyAll(bad); }, ExitStatus::kVerification,
        {"root-verity partition: hash block 2", "file byte " + std::to_string(hashOffset_ + 8192)});
    std::string top = copy();
    flipByte(top, hashOffset_ + 4096 + 4000);  // the top block's zero padding
    expectError([&] { verifyAll(top); }, ExitStatus::kVerification,
                {"hash block 1", "the root hash"});
}

TEST_F(RootVerityTest, TheSuperblockAndEveryUnhashedByteAreChecked) {
    std::string bad = copy();
    flipByte(bad, hashOffset_ + 88);  // the salt
    expectError([&] { verifyImage(readImage(bad), {key_.publicPart()}); },
                ExitStatus::kVerification,
                {"root-verity partition (superblock at file byte " + std::to_string(hashOffset_),
                 "salt differs from the signed manifest"});
    bad = copy();
    flipByte(bad, hashOffset_);
    expectError([&] { verifyImage(readImage(bad), {key_.publicPart()}); },
                ExitStatus::kVerification, {"no \"verity\" signature"});
    bad = copy();
    flipByte(bad, hashOffset_ + 600);  // between the superblock and the tree
    expectError([&] { verifyImage(readImage(bad), {key_.publicPart()}); },
                ExitStatus::kVerification,
                {"byte at file offset " + std::to_string(hashOffset_ + 600),
                 "after the verity superblock"});
    bad = copy();
    uint64_t tail = hashOffset_ + written_.verity->layout.areaBytes + 12345;
    flipByte(bad, tail);
    expectError([&] { verifyImage(readImage(bad), {key_.publicPart()}); },
                ExitStatus::kVerification,
                {"byte at file offset " + std::to_string(tail), "after the verity tree"});
}

TEST_F(ImageReaderTest, PicksTheSigningKeyAmongSeveral) {
    sign::MinisignSecretKey other = sign::generateMinisignKey();
    image::VerifiedImage verified = verifyImage(contents_, {other.publicPart(), key_.publicPart()});
    EXPECT_EQ(verified.key, key_.publicPart());
}

TEST_F(ImageReaderTest, RefusesAnUnknownKey) {
    sign::MinisignSecretKey other = sign::generateMinisignKey();
    expectError([&] { verifyImage(contents_, {other.publicPart()}); }, ExitStatus::kVerification,
                {"manifest.json.minisig", "signed by key " + sign::formatKeyId(key_.keyId),
                 "not a trusted key", sign::formatKeyId(other.keyId)});
}

TEST_F(ImageReaderTest, RefusesAChangedManifestByte) {
    std::string bad = copy();
    // Inside the "name" value, so the pack stays canonical and only the signature can tell.
    size_t at = written_.manifestText.find("test/reader");
    ASSERT_NE(at, std::string::npos);
    patchFile(bad, member("manifest.json").dataOffset + at, "T");
    expectRefused(bad, {"manifest.json.minisig", "signature does not match"});
}

TEST_F(ImageReaderTest, RefusesAChangedSignature) {
    std::string bad = copy();
    size_t line = written_.signature.find('\n') + 1;  // the signature's base64 line
    uint64_t offset = member("manifest.json.minisig").dataOffset + line + 40;
    patchFile(bad, offset, byteAt(bad, offset) == 'A' ? "B" : "A");
    expectRefused(bad, {"manifest.json.minisig", "does not match"});
}

TEST_F(ImageReaderTest, RefusesAChangedKernelByte) {
    std::string bad = copy();
    flipByte(bad, member("kernel").dataOffset + 12345);
    expectRefused(bad, {"boot pack member 'kernel'",
                        "data at file byte " + std::to_string(member("kernel").dataOffset),
                        "SHA-256", written_.manifest.kernel.sha256});
}

TEST_F(ImageReaderTest, RefusesAChangedInitrdByte) {
    std::string bad = copy();
    flipByte(bad, member("initrd").dataOffset + member("initrd").size - 1);
    expectRefused(bad, {"boot pack member 'initrd'", "SHA-256", written_.manifest.initrd->sha256});
}

TEST_F(ImageReaderTest, RefusesACorruptGptEntry) {
    std::string bad = copy();
    flipByte(bad, 2 * 512 + 40);  // the boot partition's last LBA
    expectRefused(bad, {"primary GPT entry array", "byte 1024", "CRC32"});
}

TEST_F(ImageReaderTest, RefusesACorruptGptHeader) {
    std::string bad = copy();
    flipByte(bad, 512 + 56);  // disk GUID
    expectRefused(bad, {"primary GPT header", "LBA 1", "CRC32"});
    std::string backup = copy("backup.img");
    flipByte(backup, fs::file_size(backup) - 512 + 56);
    expectRefused(backup, {"backup GPT header", "CRC32"});
    std::string mbr = copy("mbr.img");
    flipByte(mbr, 100);  // boot code: nothing reads it, so it must not carry anything either
    expectRefused(mbr, {"protective MBR byte 100"});
}

TEST_F(ImageReaderTest, RefusesAGptEntryThatDisagreesWithTheManifest) {
    // A consistent GPT (CRCs recomputed) whose entry no longer matches the signed manifest.
    std::string bad = copy();
    image::GptDisk disk = written_.gpt;
    disk.partitions[0].name = "ingot-other";
    int fd = ::open(bad.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    image::writeGpt(fd, disk, bad);
    ::close(fd);
    expectRefused(bad, {"GPT entry 1 (byte 1024)", "partition 'boot'", "name is 'ingot-other'",
                        "'ingot-boot'"});

    disk = written_.gpt;
    disk.partitions[0].unique = image::deterministicGuid("elsewhere", "boot");
    fd = ::open(bad.c_str(), O_RDWR | O_CLOEXEC);
    image::writeGpt(fd, disk, bad);
    ::close(fd);
    expectRefused(bad, {"GPT entry 1", "unique GUID"});
}

TEST_F(ImageReaderTest, RefusesTruncatedFiles) {
    std::string bad = copy();
    uint64_t size = fs::file_size(bad);
    fs::resize_file(bad, size - 512);
    expectRefused(bad, {"backup header at LBA", "truncated"});
    fs::resize_file(bad, 3 * 1024 * 1024 + 100);
    expectRefused(bad, {"not a whole number of 512-byte sectors"});
    fs::resize_file(bad, 1000 * 512);
    expectRefused(bad, {"truncated"});
    fs::resize_file(bad, 512);
    expectRefused(bad, {"too small to hold a GPT"});
    fs::resize_file(bad, 0);
    expectRefused(bad, {"too small"});
}

TEST_F(ImageReaderTest, RefusesANonCanonicalHeader) {
    std::string bad = copy();
    // The mtime field of the manifest's header: libarchive accepts any value, the format not.
    uint64_t header = member("manifest.json").headerOffset;
    patchFile(bad, header + 6 + 5 * 8 + 7, "1");
    expectRefused(bad, {"boot pack byte 0", "canonical cpio newc",
                        "byte " + std::to_string(header + 6 + 5 * 8 + 7)});
    std::string upper = copy("upper.img");
    // Upper-case hex digits in the kernel's size field.
    uint64_t kernel = member("kernel").headerOffset;
    char digits[9];
    std::snprintf(digits, sizeof digits, "%08X", 300001u);
    patchFile(upper, kernel + 6 + 6 * 8, digits);
    expectRefused(upper, {"boot pack member 'kernel'", "not in canonical form"});
}

TEST_F(ImageReaderTest, RefusesAnOversizedManifestBeforeReadingIt) {
    std::string bad = copy();
    patchFile(bad, member("manifest.json").headerOffset + 6 + 6 * 8, "00100000");
    expectRefused(bad, {"boot pack member 'manifest.json'", "1048576 bytes", "65536"});
    std::string sig = copy("sig.img");
    patchFile(sig, member("manifest.json.minisig").headerOffset + 6 + 6 * 8, "00001001");
    expectRefused(sig, {"manifest.json.minisig", "4097 bytes", "4096"});
}

TEST_F(ImageReaderTest, RefusesBytesAfterTheTrailer) {
    std::string bad = copy();
    uint64_t end = 2048 * 512 + contents_.bootPackBytes;
    patchFile(bad, end + 100, "x");
    expectRefused(bad,
                  {"file offset " + std::to_string(end + 100), "after the boot pack's trailer"});
}

TEST_F(ImageReaderTest, RefusesAMissingOrExtraInitrd) {
    std::string bad = copy();
    // Renaming the member breaks the canonical order check before the manifest matters.
    patchFile(bad, member("initrd").headerOffset + 110, "INITRD");
    expectRefused(bad, {"expected the header of 'initrd' or the header of 'TRAILER!!!'"});
}

TEST_F(ImageReaderTest, RefusesGarbage) {
    writeText(dir_.file("garbage.img"), randomBytes(3 << 20, 7));
    expectRefused(dir_.file("garbage.img"), {"protective MBR"});
    expectError([&] { readImage(dir_.file("missing.img")); }, ExitStatus::kUsage,
                {"cannot read image", "missing.img"});
    expectError([&] { readImage(dir_.path().string()); }, ExitStatus::kUsage,
                {"not a regular file"});
}

TEST_F(ImageReaderTest, RefusesAPackThatIsNotCpio) {
    std::string bad = copy();
    patchFile(bad, 2048 * 512, std::string(512, 'Z'));
    expectRefused(bad, {"boot pack byte 0", "manifest.json", "canonical cpio newc"});
}

TEST(ImageReaderCanonicalHeader, MatchesTheWriter) {
    std::vector<uint8_t> pack =
        image::buildBootPack({image::BootPackMember::fromBytes("abc", "hello")});
    std::string bytes(pack.begin(), pack.end());
    std::string header = image::canonicalEntryHeader("abc", 5, 1);
    EXPECT_EQ(bytes.substr(0, header.size()), header);
    std::string trailer = image::canonicalEntryHeader("TRAILER!!!", 0, 0);
    EXPECT_EQ(bytes.substr(bytes.size() - trailer.size()), trailer);
    EXPECT_EQ(bytes.size(), header.size() + 8 + trailer.size());
}

TEST(ImageReaderKeyFiles, RefuseToReplaceAnExistingKey) {
    TempDir dir;
    sign::MinisignSecretKey first = sign::generateMinisignKey(),
                            second = sign::generateMinisignKey();
    sign::writeSecretKeyFile(dir.file("k.key"), first, sign::KeyFileReplace::kRefuse);
    sign::writePublicKeyFile(dir.file("k.pub"), first.publicPart(), sign::KeyFileReplace::kRefuse);
    expectError(
        [&] { sign::writeSecretKeyFile(dir.file("k.key"), second, sign::KeyFileReplace::kRefuse); },
        ExitStatus::kUsage, {"k.key already exists"});
    expectError(
        [&] {
            sign::writePublicKeyFile(dir.file("k.pub"), second.publicPart(),
                                     sign::KeyFileReplace::kRefuse);
        },
        ExitStatus::kUsage, {"k.pub already exists"});
    EXPECT_EQ(sign::readSecretKeyFile(dir.file("k.key")).publicPart(), first.publicPart());
    EXPECT_EQ(sign::readPublicKeyFile(dir.file("k.pub")), first.publicPart());
    EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 2)
        << "no temporary file left behind";
    struct stat st {};
    ASSERT_EQ(::stat(dir.file("k.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

}  // namespace
}  // namespace ingot::test
