// `ingot patch IMAGE --dry-run` as users run it: signed images whose root file system holds a
// dpkg status, the signed local archives of PatchTestSupport.h named by an apt directory, and
// the exit statuses docs/cli.md promises.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../cli/CliTestSupport.h"
#include "PatchTestSupport.h"
#include "ingot/image/DiskImage.h"
#include "ingot/imagebuild/Ext4Writer.h"
#include "ingot/imagebuild/Tree.h"
#include "ingot/sign/Minisign.h"

#ifndef INGOT_CLI
#error "INGOT_CLI must name the ingot binary (tests/unit/patchplan/CMakeLists.txt)"
#endif

namespace {

using namespace ingot;
using ingot::patch::test::TestArchives;
using ingot::test::CommandResult;
using ingot::test::shellQuote;

class PatchCliTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!patch::test::haveArchiveTools(missing_)) return;
        dir_ = new debian::test::ScratchDir();
        TestArchives archives(dir_->path());
        const std::string security =
            archives.build("security", "ingot-security", patch::test::securityDebs());
        const std::string base = archives.build("base", "ingot", patch::test::baseDebs());
        debian::test::writeFile(*dir_ / "apt/sources.list",
                                "deb [signed-by=" + archives.keyring() + "] file://" + security +
                                    " ingot-security main\n"
                                    "deb [signed-by=" +
                                    archives.keyring() + "] file://" + base + " ingot main\n");
        const sign::MinisignSecretKey key = sign::generateMinisignKey();
        sign::writePublicKeyFile(*dir_ / "signer.pub", key.publicPart());
        sign::writePublicKeyFile(*dir_ / "stranger.pub", sign::generateMinisignKey().publicPart());
        writeImage(key, "old.img", patch::test::imageStatus());
        writeImage(key, "current.img",
                   patch::test::statusParagraph("dpkg", "1.21.22", "amd64") +
                       patch::test::statusParagraph("hello", "1.1-1", "amd64") +
                       patch::test::statusParagraph("libold", "1.0-1", "amd64"));
    }
    static void TearDownTestSuite() {
        delete dir_;
        dir_ = nullptr;
    }
    void SetUp() override {
        if (!missing_.empty()) GTEST_SKIP() << missing_ << " is not installed";
    }

    // A signed image whose root file system holds `status` as var/lib/dpkg/status.
    static void writeImage(const sign::MinisignSecretKey& key, const std::string& name,
                           const std::string& status) {
        imagebuild::Tree tree;
        auto inode = std::make_shared<imagebuild::Inode>();
        inode->type = imagebuild::NodeType::kFile;
        inode->content = imagebuild::makeBlob(status);
        tree.put("var/lib/dpkg/status", inode, "test");
        const std::string root = *dir_ / (name + ".ext4");
        imagebuild::writeExt4(tree, imagebuild::deterministicExt4Options("test/patch", 0), root);
        debian::test::writeFile(*dir_ / "vmlinuz", std::string(4096, 'k'));
        image::DiskImageInput input;
        input.name = "test/patch";
        input.version = "1";
        input.created = 1700000000;
        input.cmdline = "console=ttyS0";
        input.kernelPath = *dir_ / "vmlinuz";
        input.rootPath = root;
        image::writeDiskImage(input, key, *dir_ / name);
    }

    static CommandResult ingot(const std::string& arguments, const std::string& environment = "") {
        return test::runCommand(dir_->path(),
                                environment + " " + shellQuote(INGOT_CLI) + " " + arguments);
    }
    static std::string patchArgs(const std::string& image) {
        return "patch " + shellQuote(*dir_ / image) + " --sources " + shellQuote(*dir_ / "apt");
    }

    static std::string missing_;
    static debian::test::ScratchDir* dir_;
};

std::string PatchCliTest::missing_;
debian::test::ScratchDir* PatchCliTest::dir_ = nullptr;

TEST_F(PatchCliTest, DryRunListsUpdatesAndWorksOfflineFromTheCache) {
    const std::string cache = " --cache " + shellQuote(*dir_ / "cache-a");
    const CommandResult r = ingot(patchArgs("old.img") + " --dry-run --key " +
                                  shellQuote(*dir_ / "signer.pub") + cache);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("hello 1.0-1 → 1.1-1 (CVE-2024-1111, CVE-2024-2222, CVE-2023-0001)\n"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("libbase 1.0-1 → 1.5-1 (CVE-2024-5555, needed by hello)\n"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("hello-data (new) → 1.1-1 (needed by hello)\n"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("unresolved: tool 2.0-1 needs libversioned (>= 5.0)"), std::string::npos)
        << r.out;
    EXPECT_EQ(r.out.find("libold"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("checking every root block"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("nothing was changed (dry run)"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(" ingot (for dependencies the security suites lack)"), std::string::npos)
        << r.err;

    const CommandResult offline = ingot(patchArgs("old.img") + " --dry-run --offline" + cache);
    ASSERT_EQ(offline.status, 0) << offline.err;
    EXPECT_EQ(offline.out, r.out);
    EXPECT_NE(offline.err.find("is not verified (no --key)"), std::string::npos) << offline.err;

    const CommandResult json = ingot(patchArgs("old.img") + " --dry-run --offline --json " +
                                     "--key " + shellQuote(*dir_ / "signer.pub") + cache);
    ASSERT_EQ(json.status, 0) << json.err;
    const nlohmann::json doc = nlohmann::json::parse(json.out);
    EXPECT_EQ(doc["verified"], true);
    EXPECT_EQ(doc["architecture"], "amd64");
    EXPECT_EQ(doc["installedPackages"], 10);
    EXPECT_EQ(doc["updates"].size(), 5u);
    EXPECT_EQ(doc["updates"][1]["package"], "hello");
    EXPECT_EQ(doc["updates"][1]["cves"][0], "CVE-2024-1111");
    EXPECT_EQ(doc["newPackages"].size(), 3u);
    EXPECT_EQ(doc["unresolved"].size(), 2u);
    EXPECT_EQ(doc["securitySuites"].size(), 1u);
}

TEST_F(PatchCliTest, NothingToUpdateExitsOne) {
    const CommandResult r =
        ingot(patchArgs("current.img") + " --dry-run --cache " + shellQuote(*dir_ / "cache-b"));
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_NE(r.out.find("nothing to update: 3 installed packages"), std::string::npos) << r.out;
    // Nothing needed a dependency, so the base suite was never fetched.
    EXPECT_EQ(r.err.find("for dependencies"), std::string::npos) << r.err;
}

TEST_F(PatchCliTest, TheCacheDefaultsToXdgCacheHome) {
    const std::string xdg = *dir_ / "xdg";
    const CommandResult r =
        ingot(patchArgs("current.img") + " --dry-run", "XDG_CACHE_HOME=" + shellQuote(xdg));
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_TRUE(std::filesystem::is_directory(xdg + "/ingot/debian/by-hash/sha256"));
    EXPECT_TRUE(std::filesystem::is_directory(xdg + "/ingot/debian/inrelease"));
}

TEST_F(PatchCliTest, ApplyingNeedsAnOutputASigningKeyAndAVerifiedImage) {
    // Applying (tests/build/check-patch boots the build microVM) is refused before anything is
    // written when what it needs is missing; the plan was still printed.
    const std::string out = *dir_ / "applied";
    const CommandResult bare = ingot(patchArgs("old.img") + " --cache " + shellQuote(*dir_ / "cache-c"));
    EXPECT_EQ(bare.status, 2) << bare.err;
    EXPECT_NE(bare.err.find("needs -o DIR and --sign-key KEY"), std::string::npos) << bare.err;
    EXPECT_NE(bare.out.find("hello 1.0-1 → 1.1-1"), std::string::npos) << bare.out;

    sign::writeSecretKeyFile(*dir_ / "signer-for-apply.key", sign::generateMinisignKey());
    const CommandResult unverified =
        ingot(patchArgs("old.img") + " --cache " + shellQuote(*dir_ / "cache-c") + " -o " +
              shellQuote(out) + " --sign-key " + shellQuote(*dir_ / "signer-for-apply.key"));
    EXPECT_EQ(unverified.status, 2) << unverified.err;
    EXPECT_NE(unverified.err.find("needs --key PUB"), std::string::npos) << unverified.err;
    EXPECT_FALSE(std::filesystem::exists(out));
    EXPECT_EQ(ingot("patch --dry-run").status, 2) << "IMAGE is required";
}

TEST_F(PatchCliTest, VerificationFailuresExitThree) {
    const CommandResult r =
        ingot(patchArgs("old.img") + " --dry-run --key " + shellQuote(*dir_ / "stranger.pub") +
              " --cache " + shellQuote(*dir_ / "cache-c"));
    EXPECT_EQ(r.status, 3) << r.err;
    EXPECT_NE(r.err.find("ingot: verification failed: "), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
}

TEST_F(PatchCliTest, NoSecuritySuiteIsAUsageError) {
    debian::test::writeFile(*dir_ / "apt-none/sources.list",
                            "deb http://mirror.example/debian bookworm main\n");
    const CommandResult r =
        ingot("patch " + shellQuote(*dir_ / "old.img") + " --dry-run --sources " +
              shellQuote(*dir_ / "apt-none") + " --cache " + shellQuote(*dir_ / "cache-d"));
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("no `deb` entry for a -security suite and architecture amd64"),
              std::string::npos)
        << r.err;
}

}  // namespace
