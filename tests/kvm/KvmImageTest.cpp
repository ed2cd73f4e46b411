// A gold image made by `ingot build` (recipes/minimal.yaml, built by the tests/build fixture)
// booted the way `ingot run` will: ingot-vmm loads ingot-fw, which verifies the image against the
// build's key and starts the image's kernel and generated initrd; the initrd finds the
// ingot-root partition by its GPT name and switches to it; the image's own init gives a shell.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "VmmProcess.h"

using ingot::testing::requireEnv;
using ingot::testing::runProcess;

TEST(KvmImage, MinimalImageBootsToAShellThroughTheFirmware) {
    std::filesystem::path image = requireEnv("INGOT_MINIMAL_IMAGE");
    auto stats = ingot::testing::processScratchDir() + "/stats.json";
    ingot::testing::ProcessOptions options;
    options.timeoutSeconds = 240;
    options.inputAfter = "ingot-minimal: up";
    options.input = "echo INGOT-SHELL-$((6*7)); mount | grep ' / '; poweroff -f\n";
    auto r = runProcess({requireEnv("INGOT_VMM"), "--firmware", requireEnv("INGOT_FIRMWARE"),
                         "--initrd", (image.parent_path() / "test.pub").string(), "--disk",
                         (image / "disk.img").string() + ",readonly", "--memory", "256M",
                         "--stats-json", stats},
                        options);
    ASSERT_FALSE(r.timedOut) << r.output;
    EXPECT_EQ(r.exitStatus, 0) << r.output;
    auto printed = r.output.find("ingot-fw: verified, measurement ");
    ASSERT_NE(printed, std::string::npos) << r.output;
    EXPECT_NE(r.output.find("ingot-minimal: up (6."), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("INGOT-SHELL-42"), std::string::npos) << r.output;
    // The root file system is the image's ext4 partition, mounted read-only by the initrd.
    EXPECT_NE(r.output.find("on / type ext4 (ro"), std::string::npos) << r.output;
    std::ifstream f(stats);
    auto s = nlohmann::json::parse(f, nullptr, false);
    ASSERT_TRUE(s.is_object());
    EXPECT_EQ(s.value("measurement", ""), r.output.substr(printed + 32, 64));
}

// The clone disk `ingot run` gives a developer: the image's disk as a verified, read-only base
// under a qcow2 overlay. The guest remounts its root read-write and writes a file; the write
// lands in the overlay (the base's bytes do not change), survives into the next boot of the same
// clone, and is absent from a fresh clone. QEMU's qemu-img accepts the overlay.
namespace {

std::string fileSha256(const std::string& path) {
    auto r = runProcess({"/usr/bin/sha256sum", path}, {});
    return r.output.substr(0, 64);
}

ingot::testing::ProcessResult bootClone(const std::filesystem::path& image,
                                        const std::string& overlay, const std::string& commands,
                                        const std::string& stats) {
    ingot::testing::ProcessOptions options;
    options.timeoutSeconds = 240;
    options.inputAfter = "ingot-minimal: up";
    options.input = commands + "; poweroff -f\n";
    return runProcess({requireEnv("INGOT_VMM"), "--firmware", requireEnv("INGOT_FIRMWARE"),
                       "--initrd", (image.parent_path() / "test.pub").string(), "--trust",
                       (image.parent_path() / "test.pub").string(), "--disk",
                       (image / "disk.img").string() + ",overlay=" + overlay, "--memory", "256M",
                       "--stats-json", stats},
                      options);
}

}  // namespace

TEST(KvmImage, CloneWritesLandInItsOverlayAndPersist) {
    std::filesystem::path image = requireEnv("INGOT_MINIMAL_IMAGE");
    std::string base = (image / "disk.img").string();
    std::string scratch = ingot::testing::processScratchDir();
    std::string clone = scratch + "/clone.qcow2", fresh = scratch + "/fresh.qcow2";
    std::string baseSum = fileSha256(base);

    auto first = bootClone(image, clone,
                           "mount -o remount,rw / && echo clone-says-$((6*7)) > /marker && sync && "
                           "mount -o remount,ro / && echo WROTE-OK",
                           scratch + "/stats1.json");
    ASSERT_FALSE(first.timedOut) << first.output;
    EXPECT_EQ(first.exitStatus, 0) << first.output;
    EXPECT_NE(first.output.find("WROTE-OK"), std::string::npos) << first.output;
    EXPECT_EQ(fileSha256(base), baseSum) << "the base changed";

    std::ifstream f(scratch + "/stats1.json");
    auto s = nlohmann::json::parse(f, nullptr, false);
    ASSERT_TRUE(s.is_object());
    EXPECT_GT(s["disks"][0].value("verifiedBlocks", 0), 0) << s.dump();
    EXPECT_EQ(s["disks"][0].value("verificationFailures", 1), 0) << s.dump();
    EXPECT_GT(s["disks"][0].value("overlayClusters", 0), 0) << s.dump();

    auto check = runProcess({"/usr/bin/qemu-img", "check", clone}, {});
    EXPECT_EQ(check.exitStatus, 0) << check.output;
    auto info = runProcess({"/usr/bin/qemu-img", "info", "--output=json", clone}, {});
    auto infoJson = nlohmann::json::parse(info.output, nullptr, false);
    ASSERT_TRUE(infoJson.is_object()) << info.output;
    EXPECT_EQ(infoJson.value("backing-filename", ""), base) << info.output;
    EXPECT_EQ(infoJson.value("format", ""), "qcow2") << info.output;

    auto again = bootClone(image, clone, "cat /marker", scratch + "/stats2.json");
    EXPECT_EQ(again.exitStatus, 0) << again.output;
    EXPECT_NE(again.output.find("clone-says-42"), std::string::npos) << again.output;

    auto other = bootClone(image, fresh, "cat /marker || echo NO-MARKER", scratch + "/stats3.json");
    EXPECT_EQ(other.exitStatus, 0) << other.output;
    EXPECT_NE(other.output.find("NO-MARKER"), std::string::npos) << other.output;
    EXPECT_EQ(fileSha256(base), baseSum) << "the base changed";
}
