// The monitor against real KVM: Debian's kernel with a busybox initramfs, and a freestanding
// PVH payload. Run through tests/rig/rig-run when the host has no /dev/kvm.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "KvmLinuxBoot.h"
#include "VmmProcess.h"

using ingot::testing::ProcessResult;
using ingot::testing::requireEnv;
using ingot::testing::runProcess;

namespace {

using ingot::testing::Boot;
using ingot::testing::bootLinux;
using ingot::testing::scratchDir;
using ingot::testing::valueAfter;

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

// A disk image of pseudo-random bytes (the same for the same seed).
std::vector<uint8_t> diskContent(size_t bytes, uint32_t seed) {
    std::vector<uint8_t> content(bytes);
    uint32_t x = seed * 2654435761u + 1;
    for (auto& b : content) {
        x = x * 1664525u + 1013904223u;
        b = static_cast<uint8_t>(x >> 24);
    }
    return content;
}

std::string writeDisk(const std::string& name, const std::vector<uint8_t>& content) {
    std::string path = scratchDir() + "/" + name;
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(content.data()), static_cast<std::streamsize>(content.size()));
    return path;
}

std::vector<uint8_t> readDisk(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

// The host's sha256sum, to compare with the guest's over the same bytes.
std::string sha256(const std::string& path) {
    std::string out;
    if (FILE* p = popen(("sha256sum '" + path + "'").c_str(), "r")) {
        char buf[128];
        while (fgets(buf, sizeof buf, p)) out += buf;
        pclose(p);
    }
    return out.substr(0, out.find(' '));
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

// virtio-blk through virtio-mmio with Linux's own drivers: two disks described in the DSDT, one
// read-write and one read-only. The guest reads each whole (its sha256 must be the host's), reads
// the serial (GET_ID), writes a marker with fsync (OUT + FLUSH) and powers off.
TEST(KvmLinux, DisksReadWriteAndReadOnly) {
    auto rwContent = diskContent(4 << 20, 1);
    auto roContent = diskContent(1 << 20, 2);
    auto rw = writeDisk("rw.img", rwContent);
    auto ro = writeDisk("ro.img", roContent);
    std::string rwSum = sha256(rw);
    std::string roSum = sha256(ro);
    ASSERT_EQ(rwSum.size(), 64u) << rwSum;

    auto b = bootLinux("disk", 1, "512M", {}, 240, {"--disk", rw, "--disk", ro + ",readonly"});
    const std::string& out = b.result.output;
    EXPECT_EQ(b.result.exitStatus, 0) << out;
    EXPECT_NE(out.find("disk vda serial=rw.img ro=0 sectors=8192"), std::string::npos) << out;
    EXPECT_NE(out.find("disk vda sha256=" + rwSum), std::string::npos) << out;
    EXPECT_NE(out.find("disk vda write=ok"), std::string::npos) << out;
    EXPECT_NE(out.find("disk vdb serial=ro.img ro=1 sectors=2048"), std::string::npos) << out;
    EXPECT_NE(out.find("disk vdb sha256=" + roSum), std::string::npos) << out;
    EXPECT_NE(out.find("disk vdb write=failed"), std::string::npos) << out;

    // The marker landed at byte 4096 and nothing else changed.
    auto after = readDisk(rw);
    ASSERT_EQ(after.size(), rwContent.size());
    std::string marker = "INGOT-DISK-MARKER";
    EXPECT_EQ(std::string(after.begin() + 4096, after.begin() + 4096 + marker.size()), marker);
    std::copy(marker.begin(), marker.end(), rwContent.begin() + 4096);
    EXPECT_TRUE(after == rwContent) << "bytes other than the marker changed";
    EXPECT_EQ(sha256(ro), roSum);

    ASSERT_TRUE(b.stats.is_object());
    ASSERT_EQ(b.stats["disks"].size(), 2u) << b.stats.dump();
    EXPECT_GE(b.stats["disks"][0]["bytesRead"].get<uint64_t>(), rwContent.size());
    EXPECT_GE(b.stats["disks"][0]["bytesWritten"].get<uint64_t>(), 512u);
    EXPECT_GE(b.stats["disks"][0]["flushes"].get<uint64_t>(), 1u);
    EXPECT_EQ(b.stats["disks"][1]["bytesWritten"].get<uint64_t>(), 0u);
}

// DISCARD and WRITE_ZEROES from Linux's own virtio_blk (blkdiscard, blkdiscard -z) on a raw
// file: the ranges read back as zeros on the host, the discarded one is a hole again, and the
// bytes around them are untouched.
TEST(KvmLinux, DiscardAndWriteZeroesReachTheFile) {
    auto content = diskContent(1 << 20, 3);
    // On the rig's own tmpfs: the 9p share that holds the scratch directory cannot punch holes,
    // so a disk there rightly offers no DISCARD.
    std::string dir = std::filesystem::temp_directory_path() / ("ingot-discard-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    std::string path = dir + "/discard.img";
    {
        std::ofstream f(path, std::ios::binary);
        f.write(reinterpret_cast<const char*>(content.data()), static_cast<std::streamsize>(content.size()));
    }
    auto b = bootLinux("discard", 1, "512M", {}, 240, {"--disk", path});
    const std::string& out = b.result.output;
    EXPECT_EQ(b.result.exitStatus, 0) << out;
    EXPECT_NE(out.find("discard granularity=4096"), std::string::npos) << out;
    EXPECT_NE(out.find("discard ok"), std::string::npos) << out;
    EXPECT_NE(out.find("zeroout ok"), std::string::npos) << out;
    auto after = readDisk(path);
    ASSERT_EQ(after.size(), content.size());
    auto zeroed = [&](size_t from, size_t length) {
        return std::all_of(after.begin() + static_cast<long>(from),
                           after.begin() + static_cast<long>(from + length),
                           [](uint8_t x) { return x == 0; });
    };
    EXPECT_TRUE(zeroed(65536, 131072));
    EXPECT_TRUE(zeroed(262144, 65536));
    std::fill(content.begin() + 65536, content.begin() + 65536 + 131072, 0);
    std::fill(content.begin() + 262144, content.begin() + 262144 + 65536, 0);
    EXPECT_TRUE(after == content) << "bytes outside the two ranges changed";
    ASSERT_TRUE(b.stats.is_object());
    EXPECT_GE(b.stats["disks"][0].value("discards", 0), 1) << b.stats.dump();
    EXPECT_GE(b.stats["disks"][0].value("writeZeroes", 0), 1) << b.stats.dump();
    std::filesystem::remove_all(dir);
}

// virtio-rng (--rng) feeds Linux's hw_random core: /dev/hwrng gives full reads of varied bytes.
TEST(KvmLinux, EntropyDeviceFeedsHwrng) {
    auto b = bootLinux("rng", 1, "512M", {}, 240, {"--rng"});
    const std::string& out = b.result.output;
    EXPECT_EQ(b.result.exitStatus, 0) << out;
    EXPECT_NE(out.find("rng current=virtio_rng"), std::string::npos) << out;
    EXPECT_NE(out.find("rng bytes=4096"), std::string::npos) << out;
    // 1024 random bytes take nearly every one of the 256 values.
    auto at = out.find("rng distinct=");
    ASSERT_NE(at, std::string::npos) << out;
    EXPECT_GE(std::stoi(out.substr(at + 13)), 200) << out;
    ASSERT_TRUE(b.stats.is_object());
    EXPECT_GE(b.stats["rng"].value("bytes", 0), 4096 + 1024) << b.stats.dump();
}

// The whole boot chain over virtio-blk: ingot-fw finds the disk on its command line (appended by
// the monitor), reads and verifies the signed image through the device, starts Linux, and
// Linux finds the same disk through the DSDT. This is also the regression test for virtio
// edges latched in the never-programmed 8259 PIC while the firmware polled the disk with
// interrupts off: Linux took them as exception 5 when it enabled interrupts.
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
