// `ingot` keys and images against minisign (https://jedisct1.github.io/minisign/), with no ingot
// code on minisign's side: minisign signs with a key from `ingot key gen` and verifies with its
// public key, verifies an image's manifest signature, and `ingot verify` accepts an image signed
// with a key minisign generated. Exits 77 (skipped) when minisign is missing.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "../../support/ShellTools.h"
#include "ingot/image/ImageReader.h"

namespace ingot {
namespace {

namespace fs = std::filesystem;

struct Tools {
    std::string minisign, ingot, makeTestImage;
};
Tools& tools() {
    static Tools t;
    return t;
}

using test::findProgram;
using test::quote;

using Result = test::ShellResult;

Result run(const fs::path& directory, const std::string& command) {
    return test::runShell(command, directory.string());
}

void writeText(const fs::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

class CliInterop : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "ingot-cli-interop-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        std::string kernel(200003, '\0');
        for (size_t i = 0; i < kernel.size(); ++i) kernel[i] = static_cast<char>(i * 7 + i / 251);
        writeText(dir_ / "vmlinuz", kernel);
    }
    void TearDown() override {
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }
    Result minisign(const std::string& arguments) {
        return run(dir_, quote(tools().minisign) + " " + arguments);
    }
    Result ingot(const std::string& arguments) {
        return run(dir_, quote(tools().ingot) + " " + arguments);
    }
    Result makeImage(const std::string& secretKey, const std::string& out) {
        return run(dir_, quote(tools().makeTestImage) + " --kernel vmlinuz --secret-key " +
                             secretKey + " --out " + out + " --name gold/interop --version 7");
    }

    fs::path dir_;
};

TEST_F(CliInterop, MinisignSignsAndVerifiesWithOurKeys) {
    Result gen = ingot("key gen ours");
    ASSERT_EQ(gen.status, 0) << gen.output;
    writeText(dir_ / "payload", std::string(5000, 'p'));
    Result sign = minisign("-S -s ours.key -m payload -t 'by minisign'");
    ASSERT_EQ(sign.status, 0) << sign.output;
    Result verify = minisign("-V -p ours.pub -m payload");
    EXPECT_EQ(verify.status, 0) << verify.output;
    EXPECT_NE(verify.output.find("Trusted comment: by minisign"), std::string::npos)
        << verify.output;

    writeText(dir_ / "payload", std::string(5000, 'q'));
    EXPECT_NE(minisign("-V -p ours.pub -m payload").status, 0);
}

TEST_F(CliInterop, MinisignVerifiesAnImageSignedWithOurKey) {
    ASSERT_EQ(ingot("key gen ours").status, 0);
    Result build = makeImage("ours.key", "disk.img");
    ASSERT_EQ(build.status, 0) << build.output;
    Result verify = ingot("verify disk.img --key ours.pub");
    ASSERT_EQ(verify.status, 0) << verify.output;

    image::ImageContents contents = image::readImage((dir_ / "disk.img").string());
    writeText(dir_ / "manifest.json", contents.manifestText);
    writeText(dir_ / "manifest.json.minisig", contents.signatureText);
    Result minisignVerify = minisign("-Vm manifest.json -p ours.pub");
    EXPECT_EQ(minisignVerify.status, 0) << minisignVerify.output;
    EXPECT_NE(minisignVerify.output.find("Trusted comment: ingot image gold/interop 7"),
              std::string::npos)
        << minisignVerify.output;
}

TEST_F(CliInterop, IngotVerifiesWithKeysMinisignGenerated) {
    Result generate = minisign("-G -W -p tool.pub -s tool.key");
    ASSERT_EQ(generate.status, 0) << generate.output;
    Result build = makeImage("tool.key", "disk.img");
    ASSERT_EQ(build.status, 0) << build.output;
    Result verify = ingot("verify disk.img --key tool.pub");
    EXPECT_EQ(verify.status, 0) << verify.output;

    ASSERT_EQ(ingot("key gen ours").status, 0);
    Result wrong = ingot("verify disk.img --key ours.pub");
    EXPECT_EQ(wrong.status, 3) << wrong.output;
}

}  // namespace
}  // namespace ingot

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ingot::Tools& t = ingot::tools();
    t.minisign = ingot::test::findProgram("minisign");
    if (t.minisign.empty()) {
        std::fprintf(stderr,
                     "minisign not found (apt-get install minisign, or scripts/setup); "
                     "skipping\n");
        return 77;
    }
    const char* ingotPath = std::getenv("INGOT");
    const char* maker = std::getenv("MAKE_TEST_IMAGE");
    if (!ingotPath || !maker) {
        std::fprintf(stderr, "INGOT and MAKE_TEST_IMAGE must be set (run through ctest)\n");
        return 1;
    }
    t.ingot = ingotPath;
    t.makeTestImage = maker;
    return RUN_ALL_TESTS();
}
