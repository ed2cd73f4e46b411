// ingot-fw under QEMU's microvm (TCG, no KVM needed): a signed image with Debian's kernel and a
// busybox initramfs boots to userspace; each kind of tampering ends the VM with its own code.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "../kvm/VmmProcess.h"
#include "../support/BootPackLayout.h"
#include "ingot/core/File.h"
#include "ingot/image/BootPack.h"
#include "ingot/image/DiskImage.h"
#include "ingot/sign/Minisign.h"

namespace image = ingot::image;
namespace sign = ingot::sign;
using ingot::testing::requireEnv;
using ingot::testing::runProcess;

namespace {

// Refusal codes from docs/firmware.md, as exit statuses: (code << 1) | 1.
constexpr int status(int code) { return (code << 1) | 1; }
constexpr int kDiskError = status(0x14), kBadGpt = status(0x15), kBadBootPack = status(0x16),
              kUnsigned = status(0x17), kUnknownKey = status(0x19), kBadSignature = status(0x1a),
              kGptMismatch = status(0x1c), kKernelDigest = status(0x1d),
              kInitrdDigest = status(0x1e), kNoTrustedKey = status(0x10);

class FirmwareQemu : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = std::filesystem::path(requireEnv("INGOT_TEST_SCRATCH")) / "firmware-qemu";
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
        key_ = sign::generateMinisignKey();
        other_ = sign::generateMinisignKey();
        sign::writePublicKeyFile((dir_ / "trusted.pub").string(), key_.publicPart());
        good_ = make(key_, "good.img");
        make(other_, "other-key.img");
    }

    static std::string make(const sign::MinisignSecretKey& key, const std::string& name) {
        image::DiskImageInput in;
        in.name = "test/firmware";
        in.version = "1";
        // tsc_early_khz: see docs/firmware.md (TCG on a busy host cannot calibrate the TSC).
        in.cmdline = "console=ttyS0 tsc_early_khz=2000000 ingot.test=facts";
        in.kernelPath = requireEnv("INGOT_TEST_KERNEL");
        in.initrdPath = requireEnv("INGOT_TEST_INITRD");
        auto path = (dir_ / name).string();
        layout_ = image::writeDiskImage(in, key, path);
        return path;
    }

    static std::string copyWith(const std::string& name, const std::function<void(std::string&)>& tamper) {
        auto raw = ingot::readWholeFile(good_, "image", 1ull << 32);
        std::string bytes(raw.begin(), raw.end());
        tamper(bytes);
        auto path = (dir_ / name).string();
        ingot::writeFileAtomically(path, bytes);
        return path;
    }

    static uint64_t memberOffset(const std::string&, const std::string& member) {
        return ingot::testing::bootPackMemberOffset(layout_, member);
    }

    struct Run {
        int exitStatus;
        std::string output;
    };
    static Run boot(const std::string& disk, const std::string& keys) {
        ingot::testing::ProcessOptions options;
        options.timeoutSeconds = 240;
        auto r = runProcess(
            {"/usr/bin/qemu-system-x86_64", "-M", "microvm", "-accel", "tcg", "-m", "512",
             "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
             "-no-reboot", "-kernel", requireEnv("INGOT_FIRMWARE"), "-initrd", keys, "-append",
             "virtio_mmio.device=512@0xfeb02e00:23", "-global", "virtio-mmio.force-legacy=false",
             "-drive", "id=d0,file=" + disk + ",format=raw,if=none,readonly=on", "-device",
             "virtio-blk-device,drive=d0", "-device", "isa-debug-exit,iobase=0xf4,iosize=1"},
            options);
        return {r.exitStatus, r.output};
    }
    static std::string trustedKeys() { return (dir_ / "trusted.pub").string(); }

    static inline std::filesystem::path dir_;
    static inline sign::MinisignSecretKey key_, other_;
    static inline std::string good_;
    static inline image::DiskImage layout_;
};

}  // namespace

TEST_F(FirmwareQemu, SignedImageBootsToUserspaceWithItsMeasurement) {
    auto r = boot(good_, trustedKeys());
    EXPECT_EQ(r.exitStatus, 0) << r.output;
    EXPECT_NE(r.output.find("INGOT-USERSPACE-UP"), std::string::npos) << r.output;
    auto printed = r.output.find("ingot-fw: verified, measurement ");
    ASSERT_NE(printed, std::string::npos) << r.output;
    std::string measurement = r.output.substr(printed + 32, 64);
    // The kernel got the same value on its command line.
    EXPECT_NE(r.output.find("ingot.measurement=" + measurement), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("virtio_mmio.device=512@0xfeb02e00:23"), std::string::npos);
}

TEST_F(FirmwareQemu, EachTamperingFailsWithItsCode) {
    struct Case {
        const char* name;
        std::function<void(std::string&)> tamper;
        int expected;
    };
    std::vector<Case> cases = {
        {"manifest", [](std::string& d) { d[memberOffset(d, "manifest.json") + 20] ^= 1; }, kBadSignature},
        {"signature", [](std::string& d) {
             auto at = d.find('\n', memberOffset(d, "manifest.json.minisig"));
             d[at + 60] = d[at + 60] == 'A' ? 'B' : 'A';
         }, kBadSignature},
        {"kernel", [](std::string& d) { d[memberOffset(d, "kernel") + 1'000'000] ^= 1; }, kKernelDigest},
        {"initrd", [](std::string& d) { d[memberOffset(d, "initrd") + 1000] ^= 1; }, kInitrdDigest},
        {"gpt", [](std::string& d) { d[2 * 512 + 56] ^= 1; }, kBadGpt},
        {"truncated", [](std::string& d) { d.resize(d.size() / 2 / 512 * 512); }, kDiskError},
    };
    for (const auto& c : cases) {
        auto r = boot(copyWith(std::string("tampered-") + c.name + ".img", c.tamper), trustedKeys());
        EXPECT_EQ(r.exitStatus, c.expected) << c.name << ":\n" << r.output;
        EXPECT_NE(r.output.find("ingot-fw: refused ("), std::string::npos) << c.name;
        EXPECT_EQ(r.output.find("Linux version"), std::string::npos) << c.name << ": a kernel ran";
    }
}

TEST_F(FirmwareQemu, WrongOrMissingKeyIsRefused) {
    auto r = boot((dir_ / "other-key.img").string(), trustedKeys());
    EXPECT_EQ(r.exitStatus, kUnknownKey) << r.output;
    auto empty = (dir_ / "no-keys.pub").string();
    ingot::writeFileAtomically(empty, "");
    r = boot(good_, empty);
    EXPECT_EQ(r.exitStatus, kNoTrustedKey) << r.output;
}

TEST_F(FirmwareQemu, UnsignedImageIsRefused) {
    auto path = copyWith("unsigned.img", [](std::string& d) {
        uint64_t packStart = layout_.manifest.partitions.at(0).firstLba * 512;
        auto manifestAt = memberOffset(d, "manifest.json");
        std::vector<image::BootPackMember> members{
            image::BootPackMember::fromBytes("manifest.json", d.substr(manifestAt, layout_.manifestText.size())),
            image::BootPackMember::fromFile("kernel", requireEnv("INGOT_TEST_KERNEL"), layout_.manifest.kernel.size),
            image::BootPackMember::fromFile("initrd", requireEnv("INGOT_TEST_INITRD"), layout_.manifest.initrd->size)};
        auto pack = image::buildBootPack(members);
        std::fill(d.begin() + static_cast<long>(packStart),
                  d.begin() + static_cast<long>(packStart + layout_.bootPackBytes), '\0');
        std::copy(pack.begin(), pack.end(), d.begin() + static_cast<long>(packStart));
    });
    auto r = boot(path, trustedKeys());
    EXPECT_EQ(r.exitStatus, kUnsigned) << r.output;
}

TEST_F(FirmwareQemu, RandomFlipsInsideTheBootPackAreAllDetected) {
    std::mt19937_64 rng(static_cast<uint64_t>(time(nullptr)));
    uint64_t packStart = layout_.manifest.partitions.at(0).firstLba * 512;
    for (int i = 0; i < 6; ++i) {
        uint64_t offset = packStart + rng() % layout_.bootPackBytes;
        auto path = copyWith("flip-" + std::to_string(i) + ".img", [&](std::string& d) { d[offset] ^= 0x10; });
        auto r = boot(path, trustedKeys());
        EXPECT_TRUE(r.exitStatus >= kNoTrustedKey && (r.exitStatus & 1))
            << "flip at pack offset " << offset - packStart << " gave status " << r.exitStatus << ":\n" << r.output;
        EXPECT_EQ(r.output.find("Linux version"), std::string::npos) << "pack offset " << offset - packStart;
        std::filesystem::remove(path);
    }
    (void)kBadBootPack;
    (void)kGptMismatch;
}
