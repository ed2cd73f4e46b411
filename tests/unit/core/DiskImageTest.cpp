// Whole images, read back the way the firmware will: GPT, then the boot pack, then the
// signature over the manifest, then the manifest's claims about the GPT and the files.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "CoreTestSupport.h"
#include "Manifest.h"  // the firmware's manifest reader (firmware/src)
#include "ingot/fw/Cpio.h"
#include "ingot/fw/Gpt.h"
#include "ingot/fw/Minisign.h"
#include "ingot/image/BootPack.h"
#include "ingot/image/DiskImage.h"
#include "ingot/image/Verity.h"

namespace ingot::image {
namespace {

using test::Bytes;

class DiskImageTest : public ::testing::Test {
protected:
    void SetUp() override {
        kernel_ = test::randomBytes(1500000, 11);
        initrd_ = test::randomBytes(700001, 12);
        test::writeFile(dir_.file("vmlinuz"), kernel_);
        test::writeFile(dir_.file("initrd.img"), initrd_);
        input_.name = "test/image";
        input_.version = "1.0";
        input_.created = 1700000000;
        input_.cmdline = "console=ttyS0";
        input_.kernelPath = dir_.file("vmlinuz");
        input_.initrdPath = dir_.file("initrd.img");
    }

    std::string disk() const { return dir_.file("disk.img"); }

    // Reads the image as the firmware does and checks every cross-reference.
    void checkImage(const DiskImage& written, const Bytes& bytes) {
        fw::GptTable table;
        ASSERT_EQ(fw::parse_gpt_disk(test::view(bytes), 512, &table), fw::GptStatus::kOk);
        ASSERT_EQ(bytes.size(), written.gpt.sectorCount * 512);

        fw::Guid bootType;
        ASSERT_TRUE(
            fw::parse_guid(test::view(std::string_view(kPartitionRoles[0].type)), &bootType));
        fw::GptEntry boot;
        ASSERT_EQ(fw::gpt_find_partition(table, bootType, &boot), fw::GptStatus::kOk);
        fw::ByteView partition;
        ASSERT_TRUE(test::view(bytes).slice(
            boot.first_lba * 512, (boot.last_lba - boot.first_lba + 1) * 512, &partition));

        fw::CpioEntry manifestEntry, signatureEntry, kernelEntry, initrdEntry;
        ASSERT_EQ(
            fw::cpio_find(partition, test::view(std::string_view("manifest.json")), &manifestEntry),
            fw::CpioStatus::kOk);
        ASSERT_EQ(fw::cpio_find(partition, test::view(std::string_view("manifest.json.minisig")),
                                &signatureEntry),
                  fw::CpioStatus::kOk);
        ASSERT_EQ(fw::cpio_find(partition, test::view(std::string_view("kernel")), &kernelEntry),
                  fw::CpioStatus::kOk);
        EXPECT_EQ(test::asString(manifestEntry.data), written.manifestText);
        EXPECT_EQ(test::asString(signatureEntry.data), written.signature);
        EXPECT_EQ(test::asString(kernelEntry.data), kernel_);
        fw::CpioStatus initrdStatus =
            fw::cpio_find(partition, test::view(std::string_view("initrd")), &initrdEntry);
        if (input_.initrdPath) {
            ASSERT_EQ(initrdStatus, fw::CpioStatus::kOk);
            EXPECT_EQ(test::asString(initrdEntry.data), initrd_);
        } else {
            EXPECT_EQ(initrdStatus, fw::CpioStatus::kNotFound);
        }

        // The pack, then only zeros to the end of the partition, which is the pack rounded up
        // to 1 MiB.
        fw::CpioReader reader(partition);
        fw::CpioEntry entry;
        while (reader.next(&entry) == fw::CpioStatus::kOk) {
        }
        EXPECT_EQ((reader.offset() + 3) & ~size_t{3}, written.bootPackBytes);
        EXPECT_TRUE(std::all_of(partition.begin() + reader.offset(), partition.end(),
                                [](uint8_t b) { return b == 0; }));
        EXPECT_EQ(partition.size, (written.bootPackBytes + (1 << 20) - 1) >> 20 << 20);

        // The signature, checked by the firmware's verifier with the public key.
        std::string publicText = sign::formatPublicKey(key_.publicPart());
        fw::MinisignPublicKey publicKey;
        ASSERT_EQ(fw::parse_minisign_public_key(test::view(publicText), &publicKey),
                  fw::MinisignStatus::kOk);
        fw::MinisignSignature signature;
        ASSERT_EQ(fw::parse_minisign_signature(signatureEntry.data, &signature),
                  fw::MinisignStatus::kOk);
        EXPECT_EQ(fw::verify_minisign(signature, publicKey, manifestEntry.data,
                                      fw::MinisignLegacyPolicy::kReject),
                  fw::MinisignStatus::kOk);
        EXPECT_EQ(test::asString(signature.trusted_comment),
                  "ingot image " + input_.name + " " + input_.version);

        // The manifest describes exactly the GPT's used entries.
        Manifest manifest = parseManifest(test::asString(manifestEntry.data));
        EXPECT_EQ(manifest, written.manifest);
        EXPECT_EQ(manifest.kernel.sha256, toHex(sha256(kernel_)));
        EXPECT_EQ(manifest.kernel.size, kernel_.size());
        size_t used = 0;
        for (uint32_t i = 0; i < 128; ++i) {
            fw::GptEntry e;
            ASSERT_EQ(fw::gpt_entry(table, i, &e), fw::GptStatus::kOk);
            if (!fw::is_used(e)) continue;
            ASSERT_LT(i, manifest.partitions.size());
            const ManifestPartition& p = manifest.partitions[i];
            char type[fw::kGuidTextSize], unique[fw::kGuidTextSize];
            fw::format_guid(e.type, type);
            fw::format_guid(e.unique, unique);
            EXPECT_EQ(std::string(type, sizeof type), p.type);
            EXPECT_EQ(std::string(unique, sizeof unique), p.uuid);
            EXPECT_EQ(e.first_lba, p.firstLba);
            EXPECT_EQ(e.last_lba, p.lastLba);
            EXPECT_TRUE(fw::gpt_name_equals(e, test::view(p.name)));
            ++used;
        }
        EXPECT_EQ(used, manifest.partitions.size());
    }

    test::TempDir dir_;
    sign::MinisignSecretKey key_ = sign::generateMinisignKey();
    DiskImageInput input_;
    std::string kernel_, initrd_;
};

TEST_F(DiskImageTest, KernelAndInitrd) {
    DiskImage written = writeDiskImage(input_, key_, disk());
    ASSERT_EQ(written.manifest.partitions.size(), 1u);
    EXPECT_EQ(written.manifest.partitions[0].firstLba, 2048u);
    EXPECT_EQ(written.manifest.partitions[0].uuid,
              deterministicGuid("test/image", "boot").toString());
    ASSERT_TRUE(written.manifest.initrd);
    EXPECT_EQ(written.manifest.initrd->size, initrd_.size());
    checkImage(written, test::readFile(disk()));
    struct stat st {};
    ASSERT_EQ(::stat(disk().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(DiskImageTest, KernelOnly) {
    input_.initrdPath.reset();
    DiskImage written = writeDiskImage(input_, key_, disk());
    EXPECT_FALSE(written.manifest.initrd);
    EXPECT_NE(written.manifestText.find(R"("initrd":null)"), std::string::npos);
    checkImage(written, test::readFile(disk()));
}

TEST_F(DiskImageTest, RootPartitionIsCopiedSparsely) {
    // 3 MiB + 5 bytes with data only at both ends.
    std::string root(3 * 1024 * 1024 + 5, '\0');
    std::string head = test::randomBytes(8192, 13);
    std::copy(head.begin(), head.end(), root.begin());
    root.back() = 'x';
    test::writeFile(dir_.file("root.ext4"), root);
    input_.rootPath = dir_.file("root.ext4");

    DiskImage written = writeDiskImage(input_, key_, disk());
    ASSERT_EQ(written.manifest.partitions.size(), 3u);
    const ManifestPartition& p = written.manifest.partitions[1];
    EXPECT_EQ(p.role, "root");
    EXPECT_EQ(p.firstLba, written.manifest.partitions[0].lastLba + 1);
    EXPECT_EQ((p.lastLba - p.firstLba + 1) * 512, 4u << 20);
    Bytes bytes = test::readFile(disk());
    checkImage(written, bytes);
    std::string stored(bytes.begin() + p.firstLba * 512, bytes.begin() + (p.lastLba + 1) * 512);
    EXPECT_EQ(stored.substr(0, root.size()), root);
    EXPECT_TRUE(std::all_of(stored.begin() + root.size(), stored.end(), [](char c) { return !c; }));

    struct stat st {};
    ASSERT_EQ(::stat(disk().c_str(), &st), 0);
    EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512,
              static_cast<uint64_t>(st.st_size) - (2u << 20))
        << "the zero middle of the root file stays a hole";
}

// The bytes of partition `index` of a disk image.
Bytes partitionBytes(const Bytes& disk, const ManifestPartition& p) {
    return Bytes(disk.begin() + static_cast<long>(p.firstLba * 512),
                 disk.begin() + static_cast<long>((p.lastLba + 1) * 512));
}

TEST_F(DiskImageTest, RootGetsAVerityPartitionAndTheManifestItsParameters) {
    // 2 MiB + 5 bytes: the tree covers the whole 3 MiB partition, the zero tail included.
    std::string root = test::randomBytes(2 * 1024 * 1024 + 5, 15);
    test::writeFile(dir_.file("root.ext4"), root);
    input_.rootPath = dir_.file("root.ext4");
    DiskImage written = writeDiskImage(input_, key_, disk());
    Bytes bytes = test::readFile(disk());
    checkImage(written, bytes);

    const std::vector<ManifestPartition>& parts = written.manifest.partitions;
    ASSERT_EQ(parts.size(), 3u);
    EXPECT_EQ(parts[2].role, "root-verity");
    EXPECT_EQ(parts[2].name, "ingot-root-verity");
    EXPECT_EQ(parts[2].type, "2c7357ed-ebd2-46d9-aec1-23d437ec2bf5");
    EXPECT_EQ(parts[2].firstLba, parts[1].lastLba + 1) << "right after root";
    EXPECT_EQ(parts[2].firstLba % 2048, 0u);
    EXPECT_EQ((parts[2].lastLba - parts[2].firstLba + 1) * 512, 1u << 20)
        << "superblock block and 7 tree blocks, rounded up to 1 MiB";

    ASSERT_TRUE(written.manifest.verity);
    ASSERT_TRUE(written.verity);
    const ManifestVerity& v = *written.manifest.verity;
    EXPECT_EQ(v, written.verity->manifestVerity());
    EXPECT_EQ(v.algorithm, "sha256");
    EXPECT_EQ(v.format, 1u);
    EXPECT_EQ(v.dataBlockSize, 4096u);
    EXPECT_EQ(v.hashBlockSize, 4096u);
    EXPECT_EQ(v.dataBlocks, (3u << 20) / 4096);
    EXPECT_EQ(v.hashOffset, 4096u);
    EXPECT_EQ(v.salt, toHex(veritySalt("test/image").data(), 32));
    EXPECT_EQ(v.uuid, parts[2].uuid) << "the superblock carries the partition's GUID";
    EXPECT_NE(v.rootHash, std::string(64, '0'));
    EXPECT_NE(written.manifestText.find(v.rootHash), std::string::npos);

    // The tree, read back from the disk, proves every root block.
    Bytes rootPartition = partitionBytes(bytes, parts[1]);
    Bytes hashPartition = partitionBytes(bytes, parts[2]);
    VerityTarget target = verityTarget(v);
    VerityVerifier verifier(target.params, target.rootHash, hashPartition, "root-verity");
    for (uint64_t i = 0; i < v.dataBlocks; ++i)
        verifier.verifyBlock(i, rootPartition.data() + i * 4096);
    auto superblock = veritySuperblock(target.params);
    EXPECT_TRUE(std::equal(superblock.begin(), superblock.end(), hashPartition.begin()));
    uint64_t area = written.verity->layout.areaBytes;
    EXPECT_EQ(area, 8u * 4096);
    EXPECT_TRUE(std::all_of(hashPartition.begin() + static_cast<long>(area), hashPartition.end(),
                            [](uint8_t b) { return b == 0; }));

    // The same tree as over the partition's bytes on their own.
    test::writeFile(dir_.file("root.part"), rootPartition);
    VerityParams params = target.params;
    VerityTree alone = writeVerityHashFile(dir_.file("root.part"), dir_.file("root.hash"), params);
    EXPECT_EQ(alone.rootHash, target.rootHash);
    EXPECT_EQ(test::readFile(dir_.file("root.hash")),
              Bytes(hashPartition.begin(), hashPartition.begin() + static_cast<long>(area)));
}

TEST_F(DiskImageTest, FirmwareManifestReaderAcceptsTheVerityManifest) {
    test::writeFile(dir_.file("root.ext4"), test::randomBytes(5000, 16));
    input_.rootPath = dir_.file("root.ext4");
    DiskImage written = writeDiskImage(input_, key_, disk());
    ASSERT_TRUE(written.manifest.verity);
    fw::Manifest parsed;
    fw::BootError error;
    ASSERT_TRUE(fw::read_manifest(test::view(written.manifestText), &parsed, &error))
        << error.message.c_str();
    ASSERT_EQ(parsed.partition_count, 3u);
    EXPECT_STREQ(parsed.partitions[2].role, "root-verity");
    EXPECT_STREQ(parsed.partitions[2].name, "ingot-root-verity");
    EXPECT_EQ(parsed.partitions[2].first_lba, written.manifest.partitions[2].firstLba);
    ASSERT_NE(parsed.find_role("root"), nullptr);
    EXPECT_TRUE(parsed.kernel.present);
}

TEST_F(DiskImageTest, VerityImagesAreReproducibleAndSaltedByName) {
    test::writeFile(dir_.file("root.ext4"), test::randomBytes(300000, 17));
    input_.rootPath = dir_.file("root.ext4");
    DiskImage first = writeDiskImage(input_, key_, disk());
    DiskImage second = writeDiskImage(input_, key_, dir_.file("again.img"));
    EXPECT_EQ(test::readFile(disk()), test::readFile(dir_.file("again.img")));
    EXPECT_EQ(first.manifest.verity, second.manifest.verity);

    // A new version keeps the salt, hence the tree; a new name changes both.
    input_.version = "2.0";
    DiskImage next = writeDiskImage(input_, key_, dir_.file("next.img"));
    EXPECT_EQ(next.manifest.verity->rootHash, first.manifest.verity->rootHash);
    input_.name = "test/other";
    DiskImage other = writeDiskImage(input_, key_, dir_.file("other.img"));
    EXPECT_NE(other.manifest.verity->salt, first.manifest.verity->salt);
    EXPECT_NE(other.manifest.verity->rootHash, first.manifest.verity->rootHash);
}

TEST_F(DiskImageTest, BuildsAreReproducible) {
    DiskImage first = writeDiskImage(input_, key_, disk());
    Bytes a = test::readFile(disk());
    DiskImage second = writeDiskImage(input_, key_, dir_.file("again.img"));
    EXPECT_EQ(a, test::readFile(dir_.file("again.img")));
    EXPECT_EQ(first.manifestText, second.manifestText);
}

TEST_F(DiskImageTest, BootPartitionGrowsWithThePack) {
    // A kernel that nearly fills 2 MiB pushes the pack (and the LBAs in the manifest) across a
    // MiB boundary; the writer must settle on a partition that still holds the pack.
    kernel_ = test::randomBytes(2 * 1024 * 1024 - 600, 14);
    test::writeFile(dir_.file("vmlinuz"), kernel_);
    input_.initrdPath.reset();
    DiskImage written = writeDiskImage(input_, key_, disk());
    EXPECT_EQ(written.manifest.partitions[0].lastLba, 2048u + 3 * 2048 - 1);
    checkImage(written, test::readFile(disk()));
}

TEST_F(DiskImageTest, FailuresLeaveNothingBehind) {
    input_.kernelPath = dir_.file("missing");
    test::expectError([&] { writeDiskImage(input_, key_, disk()); },
                      {"cannot read kernel", dir_.file("missing")});
    EXPECT_EQ(dir_.list(), (std::vector<std::string>{"initrd.img", "vmlinuz"}));

    input_.kernelPath = dir_.file("vmlinuz");
    input_.rootPath = dir_.file("vmlinuz.d");
    ::mkdir(input_.rootPath->c_str(), 0755);
    test::expectError([&] { writeDiskImage(input_, key_, disk()); }, {"not a regular file"});
    input_.rootPath.reset();

    test::expectError([&] { writeDiskImage(input_, key_, dir_.file("no/such/dir/disk.img")); },
                      {"cannot create"});
}

TEST_F(DiskImageTest, FailureMidWriteKeepsTheOldImage) {
    test::writeFile(disk(), "previous image");
    // In a child, a file-size limit below the disk size makes writing fail after the temporary
    // file exists; the old image must survive and the temporary file must be gone.
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::signal(SIGXFSZ, SIG_IGN);
        struct rlimit limit = {1 << 20, 1 << 20};
        ::setrlimit(RLIMIT_FSIZE, &limit);
        try {
            writeDiskImage(input_, key_, disk());
        } catch (const Error&) {
            _exit(0);
        }
        _exit(1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the write did not fail";
    Bytes old = test::readFile(disk());
    EXPECT_EQ(std::string(old.begin(), old.end()), "previous image");
    EXPECT_EQ(dir_.list(), (std::vector<std::string>{"disk.img", "initrd.img", "vmlinuz"}));
}

TEST_F(DiskImageTest, RefusesEmptyFiles) {
    test::writeFile(dir_.file("empty"), "");
    input_.initrdPath = dir_.file("empty");
    test::expectError([&] { writeDiskImage(input_, key_, disk()); }, {"initrd", "is empty"});
    input_.initrdPath.reset();
    input_.rootPath = dir_.file("empty");
    test::expectError([&] { writeDiskImage(input_, key_, disk()); }, {"root partition", "empty"});
}

}  // namespace
}  // namespace ingot::image
