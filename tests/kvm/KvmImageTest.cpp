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
