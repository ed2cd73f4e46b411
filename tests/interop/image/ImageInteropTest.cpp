// ingot images against the tools people already trust: sfdisk finds the partitions, GNU cpio
// unpacks the boot pack found there, and minisign verifies the manifest's signature, with no
// ingot code on the reading side. minisign also signs with our secret keys and we with its.
// Exits 77 (skipped) when minisign, sfdisk or cpio is missing.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "../../support/ShellTools.h"
#include "ingot/image/Gpt.h"
#include "ingot/image/Manifest.h"
#include "ingot/sign/Minisign.h"

namespace ingot {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Tools {
    std::string minisign, sfdisk, cpio, makeTestImage;
};
Tools& tools() {
    static Tools t;
    return t;
}

using test::findProgram;
using test::quote;

using Result = test::ShellResult;

Result run(const fs::path& directory, const std::string& command) {
    return test::runShell(command, directory.string(), /*mergeStderr=*/false);
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

std::string upper(std::string text) {
    for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return text;
}

// One image built by make-test-image with a key from make-test-image keygen, its boot partition
// cut out with dd at the offsets sfdisk reports, and unpacked by GNU cpio into unpacked/.
class ImageInterop : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        std::string pattern = (fs::temp_directory_path() / "ingot-image-interop-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        writeText(dir_ / "vmlinuz", randomBytes(2500000, 1));
        writeText(dir_ / "initrd.img", randomBytes(300003, 2));
        std::string root = randomBytes((5 << 20) + 1, 3);
        root.replace(4096, 4 << 20, std::string(4 << 20, '\0'));
        writeText(dir_ / "root.ext4", root);
        const std::string& tool = quote(tools().makeTestImage);
        Result keygen = run(dir_, tool + " keygen --public key.pub --secret key.sec");
        ASSERT_EQ(keygen.status, 0) << keygen.output;
        Result build = run(dir_, tool +
                                     " --kernel vmlinuz --initrd initrd.img --root root.ext4"
                                     " --cmdline 'console=ttyS0 quiet' --secret-key key.sec"
                                     " --out disk.img --name gold/interop --version 2026.1"
                                     " --created 1700000000");
        ASSERT_EQ(build.status, 0) << build.output;

        Result table = run(dir_, quote(tools().sfdisk) + " --json disk.img");
        ASSERT_EQ(table.status, 0) << table.output;
        sfdisk_ = json::parse(table.output);
        const json& boot = sfdisk_["partitiontable"]["partitions"][0];
        Result cut = run(dir_, "dd if=disk.img of=boot.part bs=512 skip=" +
                                   std::to_string(boot["start"].get<uint64_t>()) + " count=" +
                                   std::to_string(boot["size"].get<uint64_t>()) + " status=none");
        ASSERT_EQ(cut.status, 0);
        fs::create_directory(dir_ / "unpacked");
        Result unpack =
            run(dir_ / "unpacked",
                quote(tools().cpio) + " -i --quiet --no-absolute-filenames < ../boot.part");
        ASSERT_EQ(unpack.status, 0) << unpack.output;
        manifest_ = image::parseManifest(readText(dir_ / "unpacked/manifest.json"));
    }

    static void TearDownTestSuite() {
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }

    void SetUp() override { ASSERT_FALSE(dir_.empty()); }

    static fs::path dir_;
    static json sfdisk_;
    static image::Manifest manifest_;
};

fs::path ImageInterop::dir_;
json ImageInterop::sfdisk_;
image::Manifest ImageInterop::manifest_;

TEST_F(ImageInterop, SecretKeyFromKeygenIsPrivate) {
    struct stat st {};
    ASSERT_EQ(::stat((dir_ / "key.sec").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(ImageInterop, SfdiskReadsTheGpt) {
    const json& table = sfdisk_["partitiontable"];
    EXPECT_EQ(table["label"], "gpt");
    EXPECT_EQ(table["sectorsize"], 512);
    EXPECT_EQ(table["firstlba"], 34);
    EXPECT_EQ(table["id"], upper(image::deterministicGuid("gold/interop", "disk").toString()));
    uint64_t diskSectors = fs::file_size(dir_ / "disk.img") / 512;
    EXPECT_EQ(table["lastlba"].get<uint64_t>(), diskSectors - 34);

    const json& partitions = table["partitions"];
    ASSERT_EQ(partitions.size(), manifest_.partitions.size());
    ASSERT_EQ(partitions.size(), 3u) << "boot, root and root-verity";
    for (size_t i = 0; i < partitions.size(); ++i) {
        const image::ManifestPartition& expected = manifest_.partitions[i];
        SCOPED_TRACE(expected.role);
        EXPECT_EQ(partitions[i]["start"].get<uint64_t>(), expected.firstLba);
        EXPECT_EQ(partitions[i]["size"].get<uint64_t>(), expected.lastLba - expected.firstLba + 1);
        EXPECT_EQ(partitions[i]["type"], upper(expected.type));
        EXPECT_EQ(partitions[i]["uuid"], upper(expected.uuid));
        EXPECT_EQ(partitions[i]["name"], expected.name);
    }
    EXPECT_EQ(partitions[1]["size"].get<uint64_t>(), (6u << 20) / 512)
        << "a root file of 5 MiB + 1 byte rounds up to 6 MiB";

    Result verify = run(dir_, quote(tools().sfdisk) + " --verify disk.img");
    EXPECT_EQ(verify.status, 0) << verify.output;
    EXPECT_NE(verify.output.find("No errors detected"), std::string::npos) << verify.output;
}

TEST_F(ImageInterop, GnuCpioListsAndUnpacksThePack) {
    Result list = run(dir_, quote(tools().cpio) + " -t --quiet < boot.part");
    ASSERT_EQ(list.status, 0);
    EXPECT_EQ(list.output, "manifest.json\nmanifest.json.minisig\nkernel\ninitrd\n");
    EXPECT_EQ(readText(dir_ / "unpacked/kernel"), readText(dir_ / "vmlinuz"));
    EXPECT_EQ(readText(dir_ / "unpacked/initrd"), readText(dir_ / "initrd.img"));
    // Owner, mode, link count and time as the canonical form fixes them.
    Result verbose = run(dir_, quote(tools().cpio) + " -tv --quiet < boot.part");
    size_t end = verbose.output.find(" kernel\n");
    ASSERT_NE(end, std::string::npos) << verbose.output;
    std::string line = verbose.output.substr(0, end);
    line = line.substr(line.rfind('\n') + 1);
    for (const char* part : {"-rw-r--r--   1 root     root", " 2500000 ", "Jan  1  1970"})
        EXPECT_NE(line.find(part), std::string::npos) << line;
}

TEST_F(ImageInterop, MinisignVerifiesTheImageSignature) {
    Result verify =
        run(dir_ / "unpacked", quote(tools().minisign) + " -Vm manifest.json -p ../key.pub");
    EXPECT_EQ(verify.status, 0) << verify.output;
    EXPECT_NE(verify.output.find("Trusted comment: ingot image gold/interop 2026.1"),
              std::string::npos)
        << verify.output;

    fs::copy_file(dir_ / "unpacked/manifest.json.minisig", dir_ / "unpacked/changed.json.minisig");
    writeText(dir_ / "unpacked/changed.json", readText(dir_ / "unpacked/manifest.json") + " ");
    Result tampered =
        run(dir_ / "unpacked", quote(tools().minisign) + " -Vm changed.json -p ../key.pub 2>&1");
    EXPECT_NE(tampered.status, 0) << tampered.output;
}

TEST_F(ImageInterop, MinisignSignsWithOurSecretKey) {
    writeText(dir_ / "payload", randomBytes(5000, 9));
    Result sign = run(dir_, quote(tools().minisign) +
                                " -S -s key.sec -m payload -t 'signed by minisign' >/dev/null");
    ASSERT_EQ(sign.status, 0);
    sign::MinisignPublicKey key = sign::readPublicKeyFile((dir_ / "key.pub").string());
    EXPECT_EQ(
        sign::verifyMinisign(key, readText(dir_ / "payload"), readText(dir_ / "payload.minisig")),
        "signed by minisign");
}

TEST_F(ImageInterop, WeSignWithMinisignsKeysAndBuildImagesWithThem) {
    fs::path keys = dir_ / "minisign-keys";
    fs::create_directory(keys);
    Result generate =
        run(keys, quote(tools().minisign) + " -G -W -p tool.pub -s tool.sec >/dev/null");
    ASSERT_EQ(generate.status, 0);
    sign::MinisignSecretKey secret = sign::readSecretKeyFile((keys / "tool.sec").string());
    EXPECT_EQ(sign::readPublicKeyFile((keys / "tool.pub").string()), secret.publicPart());

    std::string message = randomBytes(777, 4);
    writeText(keys / "message", message);
    writeText(keys / "message.minisig", sign::signMinisign(secret, message, "ours", "u"));
    Result verify = run(keys, quote(tools().minisign) + " -Vm message -p tool.pub");
    EXPECT_EQ(verify.status, 0) << verify.output;

    Result build = run(dir_, quote(tools().makeTestImage) +
                                 " --kernel vmlinuz --secret-key minisign-keys/tool.sec"
                                 " --out tool-signed.img");
    ASSERT_EQ(build.status, 0) << build.output;
}

TEST_F(ImageInterop, MakeTestImageReportsUsageErrors) {
    Result missing = run(dir_, quote(tools().makeTestImage) + " --kernel vmlinuz --out x.img 2>&1");
    EXPECT_EQ(missing.status, 2);
    EXPECT_NE(missing.output.find("--secret-key is required"), std::string::npos) << missing.output;
    Result noKernel = run(dir_, quote(tools().makeTestImage) +
                                    " --kernel nothing --secret-key key.sec --out x.img 2>&1");
    EXPECT_EQ(noKernel.status, 2);
    EXPECT_NE(noKernel.output.find("cannot read kernel nothing"), std::string::npos)
        << noKernel.output;
    EXPECT_FALSE(fs::exists(dir_ / "x.img"));
}

}  // namespace
}  // namespace ingot

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ingot::Tools& t = ingot::tools();
    t.minisign = ingot::test::findProgram("minisign");
    t.sfdisk = ingot::test::findProgram("sfdisk");
    t.cpio = ingot::test::findProgram("cpio");
    const char* maker = std::getenv("MAKE_TEST_IMAGE");
    t.makeTestImage = maker ? maker : "";
    for (auto [path, package] : {std::pair{&t.minisign, "minisign"}, std::pair{&t.sfdisk, "fdisk"},
                                 std::pair{&t.cpio, "cpio"}}) {
        if (path->empty()) {
            std::fprintf(stderr,
                         "%s not found (apt-get install %s, or run scripts/setup); skipping\n",
                         package, package);
            return 77;
        }
    }
    if (t.makeTestImage.empty()) {
        std::fprintf(stderr, "MAKE_TEST_IMAGE is not set (run through ctest)\n");
        return 1;
    }
    return RUN_ALL_TESTS();
}
