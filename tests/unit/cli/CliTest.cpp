// The `ingot` binary as users run it: exit statuses (docs/cli.md) and what it prints.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "CliTestSupport.h"
#include "ingot/image/ImageReader.h"
#include "ingot/oci/Layout.h"

#ifndef INGOT_CLI
#error "INGOT_CLI must name the ingot binary (tests/unit/cli/CMakeLists.txt)"
#endif

namespace ingot::test {
namespace {

namespace fs = std::filesystem;

class CliTest : public ::testing::Test {
protected:
    CommandResult ingot(const std::string& arguments) {
        return runCommand(dir_.path(), shellQuote(INGOT_CLI) + " " + arguments);
    }
    // A key pair from `ingot key gen` and an image signed with it.
    void makeImage(bool withRoot = false) {
        CommandResult gen = ingot("key gen signer");
        ASSERT_EQ(gen.status, 0) << gen.err;
        image::DiskImage written = writeTestImage(
            dir_, sign::readSecretKeyFile(dir_.file("signer.key")), "disk.img", withRoot);
        written_ = written;
        keyId_ = sign::formatKeyId(sign::readPublicKeyFile(dir_.file("signer.pub")).keyId);
        kernelSha_ = written.manifest.kernel.sha256;
    }
    static mode_t modeOf(const std::string& path) {
        struct stat st {};
        EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
        return st.st_mode & 07777;
    }

    TempDir dir_;
    std::string keyId_, kernelSha_;
    image::DiskImage written_;
};

TEST_F(CliTest, UsageErrorsExitTwo) {
    EXPECT_EQ(ingot("").status, 2);
    EXPECT_EQ(ingot("frobnicate").status, 2);
    EXPECT_EQ(ingot("key").status, 2);
    EXPECT_EQ(ingot("verify disk.img").status, 2) << "--key is required";
    EXPECT_EQ(ingot("inspect").status, 2);
    CommandResult help = ingot("--help");
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.out.find("verify"), std::string::npos) << help.out;
    EXPECT_NE(help.out.find("Exit status"), std::string::npos) << help.out;
    // docker's conventions: commands under headings, everyday ones first, and the pointer to
    // per-command help.
    EXPECT_LT(help.out.find("Clones:"), help.out.find("Images:")) << help.out;
    EXPECT_LT(help.out.find("  run "), help.out.find("  build ")) << help.out;
    EXPECT_NE(help.out.find("Run 'ingot COMMAND --help'"), std::string::npos) << help.out;
}

TEST_F(CliTest, KeyGenWritesAPrivateKeyPair) {
    CommandResult gen = ingot("key gen alice");
    ASSERT_EQ(gen.status, 0) << gen.err;
    sign::MinisignSecretKey secret = sign::readSecretKeyFile(dir_.file("alice.key"));
    sign::MinisignPublicKey publicKey = sign::readPublicKeyFile(dir_.file("alice.pub"));
    EXPECT_EQ(secret.publicPart(), publicKey);
    EXPECT_EQ(modeOf(dir_.file("alice.key")), 0600u);
    EXPECT_EQ(modeOf(dir_.file("alice.pub")), 0644u);
    EXPECT_NE(gen.out.find("key id:     " + sign::formatKeyId(publicKey.keyId)), std::string::npos)
        << gen.out;
    std::string pub = readText(dir_.file("alice.pub"));
    std::string line = pub.substr(pub.find('\n') + 1);
    EXPECT_NE(gen.out.find("public key: " + line), std::string::npos) << gen.out;

    CommandResult again = ingot("key gen alice");
    EXPECT_EQ(again.status, 2);
    EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
    EXPECT_NE(again.err.find("--force"), std::string::npos) << again.err;
    EXPECT_EQ(sign::readPublicKeyFile(dir_.file("alice.pub")), publicKey) << "left alone";

    CommandResult forced = ingot("key gen alice --force");
    ASSERT_EQ(forced.status, 0) << forced.err;
    EXPECT_NE(sign::readPublicKeyFile(dir_.file("alice.pub")), publicKey);
    EXPECT_EQ(modeOf(dir_.file("alice.key")), 0600u);
    EXPECT_EQ(std::distance(fs::directory_iterator(dir_.path()), fs::directory_iterator()), 2)
        << "no temporary files left";
}

TEST_F(CliTest, KeyGenHonoursDir) {
    fs::create_directory(dir_.path() / "keys");
    EXPECT_EQ(ingot("key gen bob --dir keys").status, 0);
    EXPECT_TRUE(fs::exists(dir_.path() / "keys/bob.key"));
    EXPECT_TRUE(fs::exists(dir_.path() / "keys/bob.pub"));
    CommandResult missing = ingot("key gen bob --dir nowhere");
    EXPECT_EQ(missing.status, 2);
    EXPECT_NE(missing.err.find("nowhere"), std::string::npos) << missing.err;
    EXPECT_EQ(ingot("key gen a/b").status, 2);
}

TEST_F(CliTest, KeyGenDoesNotReplaceALoneExistingPublicKey) {
    writeText(dir_.file("carol.pub"), "precious");
    EXPECT_EQ(ingot("key gen carol").status, 2);
    EXPECT_EQ(readText(dir_.file("carol.pub")), "precious");
    EXPECT_FALSE(fs::exists(dir_.file("carol.key")));
}

TEST_F(CliTest, VerifyAcceptsAGoodImage) {
    makeImage();
    CommandResult verify = ingot("verify disk.img --key signer.pub");
    ASSERT_EQ(verify.status, 0) << verify.err;
    for (std::string part : {std::string("verified disk.img"), std::string("test/reader 2026.1"),
                             "key " + keyId_, "kernel:      sha256 " + kernelSha_,
                             std::string("verity:      none"), std::string("(as measured)")})
        EXPECT_NE(verify.out.find(part), std::string::npos) << part << "\n" << verify.out;
    EXPECT_EQ(verify.err, "");

    EXPECT_EQ(ingot("key gen other").status, 0);
    CommandResult several = ingot("verify --key other.pub --key signer.pub disk.img");
    EXPECT_EQ(several.status, 0) << several.err;
}

TEST_F(CliTest, VerifyRefusesWithOneLineAndStatusThree) {
    makeImage();
    EXPECT_EQ(ingot("key gen other").status, 0);
    CommandResult wrongKey = ingot("verify disk.img --key other.pub");
    EXPECT_EQ(wrongKey.status, 3);
    EXPECT_NE(wrongKey.err.find("ingot: verification failed: disk.img: boot pack member "
                                "'manifest.json.minisig'"),
              std::string::npos)
        << wrongKey.err;
    EXPECT_EQ(std::count(wrongKey.err.begin(), wrongKey.err.end(), '\n'), 1) << wrongKey.err;
    EXPECT_EQ(wrongKey.out, "");

    image::ImageContents contents = image::readImage(dir_.file("disk.img"));
    flipByte(dir_.file("disk.img"), contents.member("kernel")->dataOffset + 7);
    CommandResult tampered = ingot("verify disk.img --key signer.pub");
    EXPECT_EQ(tampered.status, 3);
    EXPECT_NE(tampered.err.find("'kernel'"), std::string::npos) << tampered.err;
    EXPECT_NE(tampered.err.find("SHA-256"), std::string::npos) << tampered.err;
    EXPECT_EQ(std::count(tampered.err.begin(), tampered.err.end(), '\n'), 1) << tampered.err;

    writeText(dir_.file("short.img"), std::string(4096, '\0'));
    CommandResult shortImage = ingot("verify short.img --key signer.pub");
    EXPECT_EQ(shortImage.status, 3);
    EXPECT_NE(shortImage.err.find("too small"), std::string::npos) << shortImage.err;
}

TEST_F(CliTest, VerifyChecksTheRootPartitionThroughVerity) {
    makeImage(true);
    CommandResult verify = ingot("verify disk.img --key signer.pub");
    ASSERT_EQ(verify.status, 0) << verify.err;
    std::string expected =
        "verity:      ok (256 blocks); root hash " + written_.manifest.verity->rootHash;
    EXPECT_NE(verify.out.find(expected), std::string::npos) << verify.out;
    EXPECT_EQ(verify.out.find("not covered"), std::string::npos) << verify.out;

    // One bit in root block 200: signature, GPT and boot pack are all still fine.
    uint64_t rootOffset = written_.manifest.partitions.at(1).firstLba * 512;
    uint64_t blockOffset = rootOffset + 200 * 4096;
    flipByte(dir_.file("disk.img"), blockOffset + 4095);
    CommandResult tampered = ingot("verify disk.img --key signer.pub");
    EXPECT_EQ(tampered.status, 3) << tampered.err;
    EXPECT_EQ(tampered.out, "") << "nothing claims the image verified";
    EXPECT_NE(tampered.err.find("ingot: verification failed: disk.img: root partition: block 200 "
                                "(file byte " +
                                std::to_string(blockOffset) + ")"),
              std::string::npos)
        << tampered.err;
    EXPECT_EQ(std::count(tampered.err.begin(), tampered.err.end(), '\n'), 1) << tampered.err;
}

TEST_F(CliTest, InspectShowsVerityParameters) {
    makeImage(true);
    const image::ManifestVerity& v = *written_.manifest.verity;
    CommandResult inspect = ingot("inspect disk.img");
    ASSERT_EQ(inspect.status, 0) << inspect.err;
    for (std::string part :
         {std::string("verity:     format 1, sha256, 256 data blocks of 4096 bytes, hash blocks of "
                      "4096 bytes, tree at byte 4096 after the superblock"),
          "root hash " + v.rootHash, "salt " + v.salt, "uuid " + v.uuid,
          std::string("root-verity: LBA ")})
        EXPECT_NE(inspect.out.find(part), std::string::npos) << part << "\n" << inspect.out;
    CommandResult json = ingot("inspect --json disk.img");
    ASSERT_EQ(json.status, 0) << json.err;
    nlohmann::json doc = nlohmann::json::parse(json.out);
    EXPECT_EQ(doc["verity"]["rootHash"], v.rootHash);
    EXPECT_EQ(doc["verity"]["dataBlocks"], 256);
    EXPECT_EQ(doc["verity"]["hashOffset"], 4096);
    EXPECT_EQ(doc["verity"]["uuid"], v.uuid);
    EXPECT_EQ(doc["partitions"][2]["role"], "root-verity");
}

TEST_F(CliTest, VerifyReportsUnreadableInputsAsUsageErrors) {
    makeImage();
    CommandResult missing = ingot("verify nothing.img --key signer.pub");
    EXPECT_EQ(missing.status, 2);
    EXPECT_NE(missing.err.find("nothing.img"), std::string::npos) << missing.err;
    CommandResult badKey = ingot("verify disk.img --key disk.img");
    EXPECT_EQ(badKey.status, 2);
    EXPECT_NE(badKey.err.find("public key disk.img"), std::string::npos) << badKey.err;
}

TEST_F(CliTest, InspectPrintsTheManifest) {
    makeImage();
    CommandResult inspect = ingot("inspect disk.img");
    ASSERT_EQ(inspect.status, 0) << inspect.err;
    for (std::string part : {std::string("name:       test/reader"), std::string("not verified"),
                             std::string("created:    1700000000 (2023-11-14T22:13:20Z)"),
                             std::string("boot: LBA 2048-"), "key id " + keyId_,
                             std::string("trusted comment \"ingot image test/reader 2026.1\""),
                             std::string("\"recipe\": \"sha256:abc\"")})
        EXPECT_NE(inspect.out.find(part), std::string::npos) << part << "\n" << inspect.out;

    CommandResult json = ingot("inspect --json disk.img");
    ASSERT_EQ(json.status, 0) << json.err;
    nlohmann::json doc = nlohmann::json::parse(json.out);
    EXPECT_EQ(doc["name"], "test/reader");
    EXPECT_EQ(doc["version"], "2026.1");
    EXPECT_EQ(doc["verified"], false);
    EXPECT_EQ(doc["kernel"]["sha256"], kernelSha_);
    EXPECT_EQ(doc["initrd"]["size"], 70001);
    EXPECT_EQ(doc["partitions"][0]["role"], "boot");
    EXPECT_EQ(doc["partitions"][0]["firstLba"], 2048);
    EXPECT_EQ(doc["signature"]["keyId"], keyId_);
    EXPECT_EQ(doc["signature"]["trustedComment"], "ingot image test/reader 2026.1");
    EXPECT_EQ(doc["provenance"]["recipe"], "sha256:abc");
}

TEST_F(CliTest, InspectRefusesMalformedImages) {
    writeText(dir_.file("garbage.img"), randomBytes(1 << 20, 5));
    CommandResult garbage = ingot("inspect garbage.img");
    EXPECT_EQ(garbage.status, 3);
    EXPECT_NE(garbage.err.find("protective MBR"), std::string::npos) << garbage.err;
    EXPECT_EQ(ingot("inspect missing.img").status, 2);
}

// `ingot run PATH` (a layout `ingot build -o` wrote) says what is wrong before anything boots.
TEST_F(CliTest, RunOfAPathNamesWhatIsWrongWithIt) {
    CommandResult none = ingot("run ./nothing --store store");
    EXPECT_EQ(none.status, 2) << none.err;
    EXPECT_NE(none.err.find("./nothing is not an OCI layout"), std::string::npos) << none.err;

    makeImage();
    fs::create_directories(dir_.file("out/oci"));
    for (const char* tag : {"1", "2"})
        oci::writeImageToLayout(dir_.file("out/oci"), dir_.file("disk.img"),
                                written_.manifestText, written_.signature, tag);
    CommandResult two = ingot("run ./out --store store");
    EXPECT_EQ(two.status, 2) << two.err;
    EXPECT_NE(two.err.find("holds 2 image tags (1, 2); name one as ./out/oci:TAG"),
              std::string::npos)
        << two.err;

    // Named, it is imported under local/NAME:TAG and then refused: no key is trusted for it.
    writeText(dir_.file("trust.yaml"), "trust: []\n");
    CommandResult untrusted = ingot("run ./out:2 --store store --trust trust.yaml");
    EXPECT_EQ(untrusted.status, 3) << untrusted.err;
    const std::string local = "local/" + written_.manifest.name;
    EXPECT_NE(untrusted.err.find("is " + local + ":2 in the store"), std::string::npos)
        << untrusted.err;
    EXPECT_NE(untrusted.err.find("ingot trust add KEY.pub --for " + local), std::string::npos)
        << untrusted.err;
}

}  // namespace
}  // namespace ingot::test
