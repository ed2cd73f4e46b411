// ingot-fw under ingot-vmm and real KVM: the monitor loads the firmware as a PVH ELF, passes the
// trusted keys as module 0 and the disk as a virtio-mmio device on the firmware's command line;
// the firmware verifies the image and boots Debian's kernel from it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../support/BootPackLayout.h"
#include "VmmProcess.h"
#include "ingot/core/File.h"
#include "ingot/core/Sha256.h"
#include "ingot/image/DiskImage.h"
#include "ingot/sign/Minisign.h"

using ingot::testing::requireEnv;
using ingot::testing::runProcess;

namespace {

class KvmFirmware : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = std::filesystem::path(ingot::testing::processScratchDir()) / "firmware";
        std::filesystem::create_directories(dir_);
        auto key = ingot::sign::generateMinisignKey();
        ingot::sign::writePublicKeyFile((dir_ / "trusted.pub").string(), key.publicPart());
        ingot::image::DiskImageInput in;
        in.name = "test/kvm-firmware";
        in.version = "1";
        // ingot.test=disk: Linux reads back the disk the firmware booted from.
        in.cmdline = "console=ttyS0 quiet ingot.test=disk";
        in.kernelPath = requireEnv("INGOT_TEST_KERNEL");
        in.initrdPath = requireEnv("INGOT_TEST_INITRD");
        image_ = ingot::image::writeDiskImage(in, key, (dir_ / "good.img").string());
    }

    struct Boot {
        ingot::testing::ProcessResult result;
        nlohmann::json stats;
    };
    static Boot boot(const std::string& disk) {
        auto stats = (dir_ / "stats.json").string();
        std::filesystem::remove(stats);
        ingot::testing::ProcessOptions options;
        options.timeoutSeconds = 240;
        auto r = runProcess({requireEnv("INGOT_VMM"), "--firmware", requireEnv("INGOT_FIRMWARE"),
                             "--initrd", (dir_ / "trusted.pub").string(), "--disk",
                             disk + ",readonly", "--memory", "512M", "--stats-json", stats},
                            options);
        Boot b{r, {}};
        std::ifstream f(stats);
        if (f) b.stats = nlohmann::json::parse(f, nullptr, false);
        return b;
    }

    static inline std::filesystem::path dir_;
    static inline ingot::image::DiskImage image_;
};

}  // namespace

TEST_F(KvmFirmware, VerifiedImageBootsAndTheMonitorReportsItsMeasurement) {
    auto goodImage = (dir_ / "good.img").string();
    auto diskSum = ingot::toHex(ingot::sha256File(goodImage, "test image").sha256);
    auto b = boot(goodImage);
    ASSERT_FALSE(b.result.timedOut) << b.result.output;
    EXPECT_EQ(b.result.exitStatus, 0) << b.result.output;
    EXPECT_NE(b.result.output.find("INGOT-USERSPACE-UP"), std::string::npos) << b.result.output;
    auto printed = b.result.output.find("ingot-fw: verified, measurement ");
    ASSERT_NE(printed, std::string::npos) << b.result.output;
    ASSERT_TRUE(b.stats.is_object());
    // The firmware's console line and the monitor's record agree on what booted.
    EXPECT_EQ(b.stats.value("measurement", ""), b.result.output.substr(printed + 32, 64));
    std::vector<uint32_t> codes;
    for (const auto& e : b.stats["bootProgress"]) codes.push_back(e["code"].get<uint32_t>());
    EXPECT_EQ(codes, (std::vector<uint32_t>{0x01, 0x02, 0x03, 0x10})) << b.stats["bootProgress"].dump();
    // Linux then reads the same disk through the same virtio-blk device. This boot also guards
    // the interrupt routing: a virtio interrupt left pending in the PIC while the firmware polls
    // once reached Linux as exception 5.
    EXPECT_NE(b.result.output.find("disk vda serial=good.img ro=1"), std::string::npos) << b.result.output;
    EXPECT_NE(b.result.output.find("disk vda sha256=" + diskSum), std::string::npos)
        << b.result.output;
    EXPECT_EQ(b.stats["disks"][0]["errors"], 0) << b.stats.dump();
}

TEST_F(KvmFirmware, TamperedKernelNeverRuns) {
    auto raw = ingot::readWholeFile((dir_ / "good.img").string(), "image", 1ull << 32);
    std::string bytes(raw.begin(), raw.end());
    bytes[ingot::testing::bootPackMemberOffset(image_, "kernel") + 123456] ^= 0x20;
    auto path = (dir_ / "tampered.img").string();
    ingot::writeFileAtomically(path, bytes);
    auto b = boot(path);
    EXPECT_EQ(b.result.exitStatus, (0x1d << 1) | 1) << b.result.output;
    EXPECT_NE(b.result.output.find("ingot-fw: refused (kernel-digest)"), std::string::npos) << b.result.output;
    EXPECT_EQ(b.result.output.find("Linux version"), std::string::npos);
    ASSERT_TRUE(b.stats.is_object());
    EXPECT_FALSE(b.stats.contains("measurement")) << "nothing was measured as booted";
}
