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

    // 64 MiB of random bytes through ext4 on the clone's root, synced, with their checksum.
    auto first = bootClone(image, clone,
                           "mount -o remount,rw / && dd if=/dev/urandom of=/big bs=1M count=64 "
                           "2>/dev/null && echo clone-says-$((6*7)) > /marker && sync && "
                           "echo \"WROTE $(sha256sum /big)\" && mount -o remount,ro /",
                           scratch + "/stats1.json");
    ASSERT_FALSE(first.timedOut) << first.output;
    EXPECT_EQ(first.exitStatus, 0) << first.output;
    // The last one: the console echoes the command line, which has "WROTE " in it too.
    auto wrote = first.output.rfind("WROTE ");
    ASSERT_NE(wrote, std::string::npos) << first.output;
    std::string bigSum = first.output.substr(wrote + 6, 64);
    EXPECT_EQ(fileSha256(base), baseSum) << "the base changed";

    std::ifstream f(scratch + "/stats1.json");
    auto s = nlohmann::json::parse(f, nullptr, false);
    ASSERT_TRUE(s.is_object());
    EXPECT_GT(s["disks"][0].value("verifiedBlocks", 0), 0) << s.dump();
    EXPECT_EQ(s["disks"][0].value("verificationFailures", 1), 0) << s.dump();
    // 64 MiB is 1024 clusters of 64 KiB: the overlay holds the data.
    EXPECT_GE(s["disks"][0].value("overlayClusters", 0), 1024) << s.dump();

    auto check = runProcess({"/usr/bin/qemu-img", "check", clone}, {});
    EXPECT_EQ(check.exitStatus, 0) << check.output;
    auto info = runProcess({"/usr/bin/qemu-img", "info", "--output=json", clone}, {});
    auto infoJson = nlohmann::json::parse(info.output, nullptr, false);
    ASSERT_TRUE(infoJson.is_object()) << info.output;
    EXPECT_EQ(infoJson.value("backing-filename", ""), base) << info.output;
    EXPECT_EQ(infoJson.value("format", ""), "qcow2") << info.output;

    // The same clone again: the file and its bytes are still there.
    auto again = bootClone(image, clone, "cat /marker; echo \"READ $(sha256sum /big)\"",
                           scratch + "/stats2.json");
    EXPECT_EQ(again.exitStatus, 0) << again.output;
    EXPECT_NE(again.output.find("clone-says-42"), std::string::npos) << again.output;
    EXPECT_NE(again.output.find("READ " + bigSum), std::string::npos) << again.output;

    // A second clone of the same base sees none of it.
    auto other = bootClone(image, fresh, "ls /big /marker || echo NOTHING-THERE",
                           scratch + "/stats3.json");
    EXPECT_EQ(other.exitStatus, 0) << other.output;
    EXPECT_NE(other.output.find("NOTHING-THERE"), std::string::npos) << other.output;
    EXPECT_EQ(fileSha256(base), baseSum) << "the base changed";
}

// A base whose root block was flipped on the host after signing: reading exactly that block
// fails in the guest, the block next to it still reads, the VM keeps running, and the monitor's
// log names the block.
TEST(KvmImage, ACorruptedBaseBlockFailsOnlyThatRead) {
    std::filesystem::path image = requireEnv("INGOT_MINIMAL_IMAGE");
    std::string scratch = ingot::testing::processScratchDir();
    std::string corrupt = scratch + "/corrupt.img";
    std::filesystem::copy_file(image / "disk.img", corrupt);
    std::ifstream m(image / "manifest.json");
    auto manifest = nlohmann::json::parse(m, nullptr, false);
    ASSERT_TRUE(manifest.is_object());
    uint64_t rootFirstLba = 0;
    for (const auto& p : manifest["partitions"])
        if (p["role"] == "root") rootFirstLba = p["firstLba"].get<uint64_t>();
    ASSERT_GT(rootFirstLba, 0u);
    // The root partition's last block: free space, which booting and mounting never read.
    uint64_t block = manifest["verity"]["dataBlocks"].get<uint64_t>() - 1;
    {
        std::fstream f(corrupt, std::ios::in | std::ios::out | std::ios::binary);
        auto at = static_cast<std::streamoff>(rootFirstLba * 512 + block * 4096 + 123);
        f.seekg(at);
        char c = static_cast<char>(f.get() ^ 0x20);
        f.seekp(at);
        f.put(c);
    }
    ingot::testing::ProcessOptions options;
    options.timeoutSeconds = 240;
    options.inputAfter = "ingot-minimal: up";
    std::string dd = "dd if=/dev/vda2 of=/dev/null bs=4096 count=1 iflag=direct skip=";
    options.input = dd + std::to_string(block - 1) + " && echo NEIGHBOUR-OK; " + dd +
                    std::to_string(block) + " || echo BAD-BLOCK-FAILED; echo STILL-RUNNING; "
                    "poweroff -f\n";
    auto key = (image.parent_path() / "test.pub").string();
    auto r = runProcess({requireEnv("INGOT_VMM"), "--firmware", requireEnv("INGOT_FIRMWARE"),
                         "--initrd", key, "--trust", key, "--disk",
                         corrupt + ",overlay=" + scratch + "/corrupt.qcow2", "--memory", "256M"},
                        options);
    ASSERT_FALSE(r.timedOut) << r.output;
    EXPECT_EQ(r.exitStatus, 0) << r.output;
    EXPECT_NE(r.output.find("NEIGHBOUR-OK"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("BAD-BLOCK-FAILED"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("STILL-RUNNING"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("root block " + std::to_string(block) + " "), std::string::npos)
        << r.output;
}
