// The monitor against real KVM: Debian's kernel with a busybox initramfs, and a freestanding
// PVH payload. Run through tests/rig/rig-run when the host has no /dev/kvm.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "VmmProcess.h"

using ingot::testing::ProcessResult;
using ingot::testing::requireEnv;
using ingot::testing::runProcess;

namespace {

std::string scratchDir() {
    auto dir = requireEnv("INGOT_TEST_SCRATCH");
    std::filesystem::create_directories(dir);
    return dir;
}

struct Boot {
    ProcessResult result;
    nlohmann::json stats;
};

// Boots the Debian kernel with the test initramfs; `action` selects what guest/init does.
Boot bootLinux(const std::string& action, unsigned cpus = 1, const std::string& memory = "512M",
               const std::string& input = {}, double timeout = 240) {
    static int counter = 0;
    std::string stats = scratchDir() + "/stats-" + action + "-" + std::to_string(counter++) + ".json";
    std::filesystem::remove(stats);
    ingot::testing::ProcessOptions options;
    options.input = input;
    options.inputAfter = input.empty() ? "" : "INGOT-USERSPACE-UP";
    options.timeoutSeconds = timeout;
    auto r = runProcess({requireEnv("INGOT_VMM"), "--kernel", requireEnv("INGOT_TEST_KERNEL"),
                         "--initrd", requireEnv("INGOT_TEST_INITRD"), "--cmdline",
                         "console=ttyS0 quiet ingot.test=" + action, "--cpus",
                         std::to_string(cpus), "--memory", memory, "--stats-json", stats},
                        options);
    Boot b{r, {}};
    std::ifstream f(stats);
    if (f) b.stats = nlohmann::json::parse(f, nullptr, false);
    return b;
}

Boot bootPvh(const std::string& mode, double sigtermAfter = 0,
             const std::string& sigtermAfterOutput = {}) {
    std::string stats = scratchDir() + "/stats-pvh-" + mode + ".json";
    std::filesystem::remove(stats);
    ingot::testing::ProcessOptions options;
    options.timeoutSeconds = 60;
    options.sigtermAfterSeconds = sigtermAfter;
    options.sigtermAfterOutput = sigtermAfterOutput;
    auto r = runProcess({requireEnv("INGOT_VMM"), "--kernel", requireEnv("INGOT_PVH_PAYLOAD"),
                         "--cmdline", mode, "--memory", "64M", "--stats-json", stats},
                        options);
    Boot b{r, {}};
    std::ifstream f(stats);
    if (f) b.stats = nlohmann::json::parse(f, nullptr, false);
    return b;
}

long valueAfter(const std::string& text, const std::string& key) {
    auto at = text.find(key + "=");
    if (at == std::string::npos) return -1;
    return std::stol(text.substr(at + key.size() + 1));
}

}  // namespace

TEST(KvmLinux, ReachesUserspaceAndPowersOff) {
    auto b = bootLinux("facts", 2, "512M");
    ASSERT_FALSE(b.result.timedOut) << b.result.output;
    EXPECT_EQ(b.result.exitStatus, 0) << b.result.output;
    EXPECT_NE(b.result.output.find("INGOT-USERSPACE-UP"), std::string::npos) << b.result.output;
    // --cpus 2: the guest brought up both vCPUs.
    EXPECT_EQ(valueAfter(b.result.output, "nproc"), 2) << b.result.output;
    ASSERT_TRUE(b.stats.is_object()) << "no stats JSON";
    EXPECT_EQ(b.stats["stopReason"], "poweroff");
    EXPECT_GT(b.stats["exits"]["total"].get<uint64_t>(), 0u);
    ASSERT_EQ(b.stats["vcpus"].size(), 2u);
    EXPECT_GT(b.stats["vcpus"][0]["threadCpuSeconds"].get<double>(), 0.0);
    EXPECT_GT(b.stats["vcpus"][1]["exits"].get<uint64_t>(), 0u) << "vCPU 1 never ran";
    bool userspaceMark = false;
    for (const auto& e : b.stats["bootProgress"])
        if (e["code"] == 0x10 && e["seconds"].get<double>() < b.stats["wallSeconds"].get<double>())
            userspaceMark = true;
    EXPECT_TRUE(userspaceMark) << b.stats["bootProgress"].dump();
}

TEST(KvmLinux, MemTotalFollowsMemoryFlag) {
    auto small = bootLinux("facts", 1, "256M");
    auto large = bootLinux("facts", 1, "1G");
    long smallKb = valueAfter(small.result.output, "memtotal_kb");
    long largeKb = valueAfter(large.result.output, "memtotal_kb");
    ASSERT_GT(smallKb, 0) << small.result.output;
    ASSERT_GT(largeKb, 0) << large.result.output;
    // The kernel keeps its image and early reservations out of MemTotal, a near-constant amount:
    // the difference between two boots is exactly the RAM added, within 2 %.
    EXPECT_LE(smallKb, 256 * 1024);
    EXPECT_GE(smallKb, 256 * 1024 * 75 / 100);
    EXPECT_LE(largeKb, 1024 * 1024);
    EXPECT_GE(largeKb, 1024 * 1024 * 90 / 100);
    EXPECT_NEAR(static_cast<double>(largeKb - smallKb), 768.0 * 1024, 768.0 * 1024 * 0.02);
}

TEST(KvmLinux, MoreThanFourGigabytesUsesHighMemory) {
    auto b = bootLinux("facts", 1, "4608M");
    long kb = valueAfter(b.result.output, "memtotal_kb");
    EXPECT_EQ(b.result.exitStatus, 0) << b.result.output;
    // 4.5 GiB of RAM, 1.5 GiB of it above the 32-bit MMIO hole.
    EXPECT_GE(kb, 4608L * 1024 * 90 / 100) << b.result.output;
}

TEST(KvmLinux, RebootEndsWithZero) {
    auto b = bootLinux("reboot");
    EXPECT_EQ(b.result.exitStatus, 0) << b.result.output;
    EXPECT_EQ(b.stats["stopReason"], "reboot") << b.stats.dump();
}

TEST(KvmLinux, PanicIsReportedAsCrash) {
    auto b = bootLinux("panic");
    EXPECT_EQ(b.result.exitStatus, 6) << b.result.output;
    EXPECT_EQ(b.stats["stopReason"], "guest-panic") << b.stats.dump();
    EXPECT_NE(b.result.output.find("guest crashed"), std::string::npos) << b.result.output;
}

TEST(KvmLinux, DebugExitValueBecomesStatus) {
    auto b = bootLinux("debug-exit");
    EXPECT_EQ(b.result.exitStatus, (21 << 1) | 1) << b.result.output;
    EXPECT_EQ(b.stats["stopReason"], "debug-exit");
}

TEST(KvmLinux, ConsoleInputReachesGuest) {
    auto b = bootLinux("echo", 1, "512M", "hello from the host\n");
    EXPECT_EQ(b.result.exitStatus, 0) << b.result.output;
    EXPECT_NE(b.result.output.find("got: hello from the host"), std::string::npos) << b.result.output;
}

TEST(KvmPvh, EntryGetsStartInfoAndDebugExits) {
    auto b = bootPvh("e");
    EXPECT_EQ(b.result.exitStatus, 85) << b.result.output;
    EXPECT_NE(b.result.output.find("pvh: ok"), std::string::npos) << b.result.output;
    ASSERT_TRUE(b.stats.is_object());
    ASSERT_EQ(b.stats["bootProgress"].size(), 1u);
    EXPECT_EQ(b.stats["bootProgress"][0]["code"], 0x10);
}

TEST(KvmPvh, TripleFaultIsAnError) {
    auto b = bootPvh("t");
    EXPECT_EQ(b.result.exitStatus, 6) << b.result.output;
    EXPECT_EQ(b.stats["stopReason"], "triple-fault");
}

TEST(KvmPvh, I8042ResetEndsWithZero) {
    auto b = bootPvh("r");
    EXPECT_EQ(b.result.exitStatus, 0) << b.result.output;
    EXPECT_EQ(b.stats["stopReason"], "reboot");
}

TEST(KvmPvh, SigtermStopsCleanlyAndWritesStats) {
    // The payload halts forever with interrupts off; SIGTERM must still end the monitor with 0
    // and the stats written.
    auto b = bootPvh("h", 0.5, "pvh: halting");
    EXPECT_FALSE(b.result.timedOut);
    EXPECT_EQ(b.result.exitStatus, 0) << b.result.output;
    ASSERT_TRUE(b.stats.is_object());
    EXPECT_EQ(b.stats["stopReason"], "signal");
    EXPECT_NE(b.stats["detail"].get<std::string>().find("TERM"), std::string::npos)
        << b.stats["detail"];
}
