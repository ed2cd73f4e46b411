// The builder with an `image:` base (layered gold images): small trees, no apt, no network.
#include "ingot/imagebuild/Builder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "ingot/core/Error.h"
#include "ingot/core/Sha256.h"
#include "ingot/image/ImageReader.h"
#include "ingot/imagebuild/Ext4Reader.h"
#include "ingot/imagebuild/Ext4Writer.h"
#include "ingot/patcher/Recipe.h"
#include "../../support/TempDir.h"

using namespace ingot;
using namespace ingot::imagebuild;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kEpoch = 1700000000;

using ingot::test::TempDir;

void writeText(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::shared_ptr<Inode> file(std::string content, uint32_t mode = 0644) {
    auto inode = std::make_shared<Inode>();
    inode->content = makeBlob(std::move(content));
    inode->mode = mode;
    inode->mtime = kEpoch;
    return inode;
}

struct Fixture {
    TempDir tmp;
    sign::MinisignSecretKey key = sign::generateMinisignKey();
    std::string pub = tmp / "trusted.pub";
    image::DiskImage base;

    Fixture() {
        sign::writePublicKeyFile(pub, key.publicPart());
        Tree tree;
        tree.put("etc/base-release", file("base 1\n"), "t");
        tree.put("usr/bin/tool", file("#!/bin/sh\necho tool\n", 0755), "t");
        tree.link("usr/bin/tool2", "usr/bin/tool", "t");
        fs::create_directories(tmp / "base");
        writeExt4(tree, deterministicExt4Options("test/base", kEpoch), tmp / "root.ext4");
        writeText(tmp / "vmlinuz", "not really a kernel, but signed\n");
        writeText(tmp / "initrd.img", "not really an initrd\n");
        image::DiskImageInput in;
        in.name = "test/base";
        in.version = "1.0";
        in.created = kEpoch;
        in.cmdline = "console=ttyS0 base=1";
        in.kernelPath = tmp / "vmlinuz";
        in.initrdPath = tmp / "initrd.img";
        in.rootPath = tmp / "root.ext4";
        base = image::writeDiskImage(in, key, tmp / "base/disk.img");
    }

    std::string manifestDigest() const { return "sha256:" + toHex(sha256(base.manifestText)); }

    Recipe recipe(const std::string& baseFields) {
        std::string text = "name: test/layered\nversion: \"2\"\nbase:\n  image: {" + baseFields +
                           "}\noperations:\n  - file: {path: /etc/layer, content: \"layer\\n\"}\n";
        writeText(tmp / "layered.yaml", text);
        return patcher::loadRecipeText(text, tmp / "layered.yaml", tmp.path());
    }

    BuildOptions options(const std::string& name, std::vector<std::string> trusted) {
        BuildOptions o;
        o.outputDir = tmp / ("out-" + name);
        o.key = key;
        o.cacheDir = tmp / ("cache-" + name);
        o.sourceDateEpoch = kEpoch + 10;
        o.trustedKeys = std::move(trusted);
        return o;
    }
};

std::pair<ExitStatus, std::string> failure(const std::function<void()>& body) {
    try {
        body();
    } catch (const Error& e) {
        return {e.status(), e.what()};
    }
    return {ExitStatus::kOk, ""};
}

Tree rootOf(const std::string& disk, const std::vector<sign::MinisignPublicKey>& keys, image::Manifest* manifest) {
    auto contents = image::readImage(disk);
    auto verified = image::verifyImage(contents, keys);
    auto check = image::verifyRootVerity(contents, verified.manifest);
    Tree tree;
    readExt4(disk, check.rootOffset, check.dataBlocks * 4096, tree, Ext4ReadOptions{});
    *manifest = verified.manifest;
    return tree;
}

}  // namespace

TEST(BuilderImageBase, LayersOnAVerifiedImageAndInheritsItsBoot) {
    Fixture f;
    auto recipe = f.recipe("path: base, digest: \"" + f.manifestDigest() + "\"");
    auto result = buildImage(recipe, f.options("a", {f.pub}));
    image::Manifest m;
    Tree tree = rootOf(result.diskPath, {f.key.publicPart()}, &m);
    ASSERT_TRUE(tree.find("etc/base-release"));
    EXPECT_EQ(tree.find("etc/base-release")->content->bytes(), "base 1\n");
    ASSERT_TRUE(tree.find("etc/layer"));
    EXPECT_EQ(tree.find("etc/layer")->content->bytes(), "layer\n");
    EXPECT_EQ(tree.find("usr/bin/tool"), tree.find("usr/bin/tool2"));
    EXPECT_EQ(tree.find("usr/bin/tool")->mode, 0755u);
    EXPECT_EQ(m.kernel, f.base.manifest.kernel);
    ASSERT_TRUE(m.initrd);
    EXPECT_EQ(*m.initrd, *f.base.manifest.initrd);
    EXPECT_EQ(m.cmdline, "console=ttyS0 base=1");
    EXPECT_EQ(m.name, "test/layered");
    bool recorded = false;
    for (const auto& input : m.provenance["inputs"])
        if (input.value("kind", "") == "image" && input.value("manifest", "") == f.manifestDigest() &&
            input.value("name", "") == "test/base" && input.value("version", "") == "1.0")
            recorded = true;
    EXPECT_TRUE(recorded) << m.provenance.dump();

    // Again with the cache: the same image, the base tree found again.
    auto again = buildImage(recipe, f.options("a", {f.pub}));
    EXPECT_EQ(again.image.manifestText, result.image.manifestText);
}

TEST(BuilderImageBase, NeedsATrustedKey) {
    Fixture f;
    auto recipe = f.recipe("path: base");
    auto [status, message] = failure([&] { buildImage(recipe, f.options("none", {})); });
    EXPECT_EQ(status, ExitStatus::kUsage);
    EXPECT_NE(message.find("--trust"), std::string::npos) << message;

    auto other = sign::generateMinisignKey();
    std::string otherPub = f.tmp / "other.pub";
    sign::writePublicKeyFile(otherPub, other.publicPart());
    std::tie(status, message) = failure([&] { buildImage(recipe, f.options("other", {otherPub})); });
    EXPECT_EQ(status, ExitStatus::kVerification) << message;
    EXPECT_NE(message.find("base.image"), std::string::npos) << message;
    EXPECT_FALSE(fs::exists(f.tmp / "out-other"));
}

TEST(BuilderImageBase, TamperedRootIsRefused) {
    Fixture f;
    const image::ManifestPartition* root = nullptr;
    for (const auto& p : f.base.manifest.partitions)
        if (p.role == "root") root = &p;
    ASSERT_TRUE(root);
    {
        std::fstream disk(f.tmp / "base/disk.img", std::ios::in | std::ios::out | std::ios::binary);
        // The first inode table block is past the superblock and group descriptors; any root
        // byte will do, the verity scan checks them all.
        disk.seekp(static_cast<std::streamoff>(root->firstLba * 512 + 1024 + 100));
        disk.put('\x42');
    }
    auto [status, message] = failure([&] { buildImage(f.recipe("path: base/disk.img"), f.options("t", {f.pub})); });
    EXPECT_EQ(status, ExitStatus::kVerification) << message;
    EXPECT_NE(message.find("base.image"), std::string::npos) << message;
    EXPECT_FALSE(fs::exists(f.tmp / "out-t"));
}

TEST(BuilderImageBase, DigestPinAndReferences) {
    Fixture f;
    std::string wrong = "sha256:" + std::string(64, '0');
    auto [status, message] = failure([&] { buildImage(f.recipe("path: base, digest: \"" + wrong + "\""), f.options("d", {f.pub})); });
    EXPECT_EQ(status, ExitStatus::kVerification);
    EXPECT_NE(message.find(wrong), std::string::npos) << message;

    std::tie(status, message) =
        failure([&] { buildImage(f.recipe("reference: registry.example/gold/base:1"), f.options("r", {f.pub})); });
    EXPECT_EQ(status, ExitStatus::kUsage);
    EXPECT_NE(message.find("ingot pull"), std::string::npos) << message;
}
