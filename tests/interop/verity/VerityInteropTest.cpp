// ingot's dm-verity trees against veritysetup, the reference implementation the kernel's
// dm-verity target is tested with: both write the same bytes for the same data, salt and uuid;
// `veritysetup verify` accepts ours and our verifier accepts theirs; a corrupted data block is
// caught by both, and ours names it. Finally the root-verity partition of an image written by
// make-test-image is verified by veritysetup alone, against the root hash in its manifest.
// Exits 77 (skipped) when veritysetup is missing.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../../support/ShellTools.h"
#include "ingot/core/Error.h"
#include "ingot/image/ImageReader.h"
#include "ingot/image/Verity.h"

namespace ingot {
namespace {

namespace fs = std::filesystem;
using test::quote;

struct Tools {
    std::string veritysetup, makeTestImage;
};
Tools& tools() {
    static Tools t;
    return t;
}

using Result = test::ShellResult;

Result run(const fs::path& directory, const std::string& command) {
    return test::runShell(command, directory.string());
}

std::string readText(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void writeText(const fs::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

std::string randomBytes(size_t size, unsigned seed) {
    std::string bytes(size, '\0');
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (char& c : bytes) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        c = static_cast<char>(x);
    }
    return bytes;
}

// The value veritysetup prints after "Root hash:" (format) or "<label>:" (dump).
std::string field(const std::string& output, const std::string& label) {
    size_t at = output.find(label + ":");
    if (at == std::string::npos) return {};
    size_t start = output.find_first_not_of(" \t", at + label.size() + 1);
    size_t end = output.find('\n', start);
    return output.substr(start, end - start);
}

class VerityInterop : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "ingot-verity-interop-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
    }
    void TearDown() override {
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }

    image::VerityParams params() const {
        image::VerityParams p;
        p.salt = image::veritySalt("gold/interop");
        p.uuid = {0x6b, 0x1c, 0x2d, 0x3e, 0x4f, 0x50, 0x41, 0x32,
                  0x93, 0x84, 0x75, 0x66, 0x57, 0x48, 0x39, 0x2a};
        return p;
    }
    std::string veritysetup(const std::string& arguments) const {
        return quote(tools().veritysetup) + " " + arguments;
    }

    fs::path dir_;
};

TEST_F(VerityInterop, SameTreeAsVeritysetupAndEachVerifiesTheOther) {
    for (uint64_t blocks : {1, 2, 128, 129, 16385}) {
        SCOPED_TRACE(blocks);
        // Mostly zero, with random blocks spread through it, so that the file stays cheap but
        // no two trees coincide.
        std::string data(blocks * 4096, '\0');
        for (uint64_t i = 0; i < blocks; i += 97)
            data.replace(i * 4096, 4096, randomBytes(4096, static_cast<unsigned>(i + blocks)));
        writeText(dir_ / "data", data);

        image::VerityParams p = params();
        image::VerityTree ours =
            image::writeVerityHashFile((dir_ / "data").string(), (dir_ / "ours.hash").string(), p);
        std::string salt = toHex(p.salt.data(), p.salt.size());
        std::string rootHash = toHex(ours.rootHash);
        Result format = run(
            dir_, veritysetup("format --salt=" + salt + " --uuid=" + ours.manifestVerity().uuid +
                              " --data-block-size 4096 --hash-block-size 4096"
                              " data theirs.hash"));
        ASSERT_EQ(format.status, 0) << format.output;
        EXPECT_EQ(field(format.output, "Root hash"), rootHash) << format.output;
        EXPECT_EQ(readText(dir_ / "ours.hash"), readText(dir_ / "theirs.hash"))
            << "hash files differ";

        Result verify = run(dir_, veritysetup("verify data ours.hash " + rootHash));
        EXPECT_EQ(verify.status, 0) << verify.output;
        Result dump = run(dir_, veritysetup("dump ours.hash"));
        EXPECT_EQ(dump.status, 0) << dump.output;
        EXPECT_EQ(field(dump.output, "Data blocks"), std::to_string(blocks)) << dump.output;
        EXPECT_EQ(field(dump.output, "Salt"), salt) << dump.output;

        std::string theirs = readText(dir_ / "theirs.hash");
        image::VerityVerifier verifier(ours.params, ours.rootHash,
                                       std::vector<uint8_t>(theirs.begin(), theirs.end()),
                                       "theirs.hash");
        EXPECT_EQ(verifier.verifyAll((dir_ / "data").string()), blocks);

        // One byte of the last block: both refuse, ours by number.
        uint64_t bad = blocks - 1;
        data[bad * 4096 + 100] ^= 0x40;
        writeText(dir_ / "data", data);
        Result refused = run(dir_, veritysetup("verify data ours.hash " + rootHash));
        EXPECT_NE(refused.status, 0) << refused.output;
        try {
            verifier.verifyAll((dir_ / "data").string());
            ADD_FAILURE() << "corrupt data passed our verifier";
        } catch (const image::VerityError& e) {
            EXPECT_EQ(e.block(), bad);
            EXPECT_NE(std::string(e.what()).find("block " + std::to_string(bad) + " (file byte " +
                                                 std::to_string(bad * 4096) + ")"),
                      std::string::npos)
                << e.what();
        }
    }
}

TEST_F(VerityInterop, VeritysetupRefusesOurTreeWithAFlippedHashByte) {
    writeText(dir_ / "data", randomBytes(300 * 4096, 5));
    image::VerityTree ours = image::writeVerityHashFile((dir_ / "data").string(),
                                                        (dir_ / "ours.hash").string(), params());
    std::string hash = readText(dir_ / "ours.hash");
    hash[ours.layout.levelFirstBlock[0] * 4096 + 5] ^= 1;
    writeText(dir_ / "ours.hash", hash);
    Result refused = run(dir_, veritysetup("verify data ours.hash " + toHex(ours.rootHash)));
    EXPECT_NE(refused.status, 0) << refused.output;
}

TEST_F(VerityInterop, VeritysetupVerifiesTheRootOfAnImage) {
    // 3 MiB + 1 byte of mostly zeros with some random ranges: the partition is 4 MiB.
    std::string root((3 << 20) + 1, '\0');
    root.replace(0, 65536, randomBytes(65536, 7));
    root.replace(2 << 20, 12345, randomBytes(12345, 8));
    root.back() = 'z';
    writeText(dir_ / "root.ext4", root);
    writeText(dir_ / "vmlinuz", randomBytes(100000, 9));
    const std::string tool = quote(tools().makeTestImage);
    Result keygen = run(dir_, tool + " keygen --public key.pub --secret key.sec");
    ASSERT_EQ(keygen.status, 0) << keygen.output;
    Result build = run(dir_, tool +
                                 " --kernel vmlinuz --root root.ext4 --secret-key key.sec"
                                 " --out disk.img --name gold/interop --version 1");
    ASSERT_EQ(build.status, 0) << build.output;

    image::ImageContents contents = image::readImage((dir_ / "disk.img").string());
    image::VerifiedImage verified =
        image::verifyImage(contents, {sign::readPublicKeyFile((dir_ / "key.pub").string())});
    const image::Manifest& manifest = verified.manifest;
    ASSERT_EQ(manifest.partitions.size(), 3u);
    ASSERT_TRUE(manifest.verity);
    for (size_t i : {1, 2}) {
        const image::ManifestPartition& p = manifest.partitions[i];
        Result cut = run(dir_, "dd if=disk.img of=" + p.role +
                                   ".part bs=512 skip=" + std::to_string(p.firstLba) + " count=" +
                                   std::to_string(p.lastLba - p.firstLba + 1) + " status=none");
        ASSERT_EQ(cut.status, 0) << cut.output;
    }
    EXPECT_EQ(manifest.verity->dataBlocks, (4u << 20) / 4096);

    Result verify =
        run(dir_, veritysetup("verify root.part root-verity.part " + manifest.verity->rootHash));
    EXPECT_EQ(verify.status, 0) << verify.output;
    Result dump = run(dir_, veritysetup("dump root-verity.part"));
    ASSERT_EQ(dump.status, 0) << dump.output;
    EXPECT_EQ(field(dump.output, "UUID"), manifest.verity->uuid) << dump.output;
    EXPECT_EQ(field(dump.output, "Hash type"), "1") << dump.output;
    EXPECT_EQ(field(dump.output, "Data blocks"), "1024") << dump.output;
    EXPECT_EQ(field(dump.output, "Hash algorithm"), "sha256") << dump.output;
    EXPECT_EQ(field(dump.output, "Salt"), manifest.verity->salt) << dump.output;

    // veritysetup's own tree over the extracted partition has the manifest's root hash.
    Result format = run(dir_, veritysetup("format --salt=" + manifest.verity->salt + " --uuid=" +
                                          manifest.verity->uuid + " root.part theirs.hash"));
    ASSERT_EQ(format.status, 0) << format.output;
    EXPECT_EQ(field(format.output, "Root hash"), manifest.verity->rootHash) << format.output;

    // A flipped byte in the image's root: veritysetup and `verifyRootVerity` both refuse.
    std::string disk = readText(dir_ / "disk.img");
    uint64_t rootOffset = manifest.partitions[1].firstLba * 512;
    disk[rootOffset + 700 * 4096 + 9] ^= 1;
    writeText(dir_ / "disk.img", disk);
    Result cut = run(dir_, "dd if=disk.img of=root.part bs=512 skip=" +
                               std::to_string(manifest.partitions[1].firstLba) + " count=" +
                               std::to_string(manifest.partitions[1].lastLba -
                                              manifest.partitions[1].firstLba + 1) +
                               " status=none");
    ASSERT_EQ(cut.status, 0);
    Result refused =
        run(dir_, veritysetup("verify root.part root-verity.part " + manifest.verity->rootHash));
    EXPECT_NE(refused.status, 0) << refused.output;
    try {
        image::verifyRootVerity(image::readImage((dir_ / "disk.img").string()), manifest);
        ADD_FAILURE() << "a changed root byte passed";
    } catch (const image::VerityError& e) {
        EXPECT_EQ(e.block(), 700u);
        EXPECT_EQ(e.offset(), rootOffset + 700 * 4096);
    }
}

}  // namespace
}  // namespace ingot

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ingot::Tools& t = ingot::tools();
    t.veritysetup = ingot::test::findProgram("veritysetup");
    const char* maker = std::getenv("MAKE_TEST_IMAGE");
    t.makeTestImage = maker ? maker : "";
    if (t.veritysetup.empty()) {
        std::fprintf(stderr,
                     "veritysetup not found (apt-get install cryptsetup-bin, or run "
                     "scripts/setup); skipping\n");
        return 77;
    }
    if (t.makeTestImage.empty()) {
        std::fprintf(stderr, "MAKE_TEST_IMAGE is not set (run through ctest)\n");
        return 1;
    }
    return RUN_ALL_TESTS();
}
