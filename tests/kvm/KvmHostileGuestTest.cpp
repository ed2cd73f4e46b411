// A hostile virtio driver against the monitor's virtio-blk (tests/kvm/guest/hostile-guest.c):
// out-of-range buffers and descriptors, looping chains, oversized lengths, bad indirect tables,
// notifications for missing or disabled queues, an untrustworthy available ring and misplaced
// rings. The monitor must survive all of it, answer each case as docs/vmm.md says, keep
// serving well-formed requests, write nothing but what those asked for, count the failed
// requests and complain on stderr without flooding it. Run through tests/rig/rig-run when the
// host has no /dev/kvm.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "VmmProcess.h"

using ingot::testing::requireEnv;
using ingot::testing::runProcess;

namespace {

constexpr size_t kDiskBytes = 1 << 20;
constexpr size_t kSector = 512;

// The disk the payload expects: "HOSTILE-MARKER" at byte 0, then a pattern it can check.
std::vector<uint8_t> initialDisk() {
    std::vector<uint8_t> disk(kDiskBytes);
    for (size_t i = 0; i < disk.size(); ++i) disk[i] = static_cast<uint8_t>(i * 7 + (i >> 9));
    std::string marker = "HOSTILE-MARKER";
    std::copy(marker.begin(), marker.end(), disk.begin());
    return disk;
}

// What case 8 writes to sector 8.
std::vector<uint8_t> sector8() {
    std::vector<uint8_t> s(kSector);
    std::string text = "HOSTILE-WROTE-SECTOR-8";
    for (size_t i = 0; i < s.size(); ++i)
        s[i] = i < text.size() ? static_cast<uint8_t>(text[i]) : static_cast<uint8_t>(i * 3 + 1);
    return s;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        out.push_back(line);
    }
    return out;
}

}  // namespace

TEST(KvmHostileGuest, MonitorSurvivesAndKeepsServing) {
    std::string dir = ingot::testing::processScratchDir();
    std::string disk = dir + "/hostile.raw";
    std::string stats = dir + "/hostile-stats.json";
    auto before = initialDisk();
    std::ofstream(disk, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(before.data()),
               static_cast<std::streamsize>(before.size()));
    std::filesystem::remove(stats);

    ingot::testing::ProcessOptions options;
    options.timeoutSeconds = 240;  // nested TCG on a loaded CI host is slow
    auto r = runProcess({requireEnv("INGOT_VMM"), "--kernel", requireEnv("INGOT_HOSTILE_GUEST"),
                         "--memory", "64M", "--disk", disk, "--stats-json", stats},
                        options);
    ASSERT_FALSE(r.timedOut) << r.output;
    // Debug-exit 0 from the payload: every case checked out on the guest's side. A failed case
    // debug-exits with its number instead (status 2 * case + 1).
    EXPECT_EQ(r.exitStatus, 1) << r.output;

    // The payload's report, one line per case, in order.
    const std::vector<std::string> expected = {
        "hostile: start",
        "hostile: 1 well-formed read of sector 0: len 513, status 0, marker read",
        "hostile: 2a data buffer at 0xfff00000: returned unused (len 0)",
        "hostile: 2b data buffer at 0x3ff00000 (past the 64 MiB of RAM): returned unused (len 0)",
        "hostile: 2c data buffer straddling the end of RAM: returned unused (len 0)",
        "hostile: 2d request header at 0xfff00000: returned unused (len 0)",
        "hostile: 2e next descriptor 300 in a table of 256: returned unused (len 0)",
        "hostile: 2f request header at 0x100310000 (above 4 GiB): returned unused (len 0)",
        "hostile: 3a looping chain 0 -> 1 -> 0: returned unused (len 0)",
        "hostile: 3b descriptor chained to itself: returned unused (len 0)",
        "hostile: 3c loop back from the status descriptor 2 -> 1: returned unused (len 0)",
        "hostile: 4a data buffer of 0xffffffff bytes: returned unused (len 0)",
        "hostile: 4b read into 65 x 64 MiB buffers (over 4 GiB in all): IOERR (len 1, status 1)",
        "hostile: 4c empty data buffer: returned unused (len 0)",
        "hostile: 4d read of sector 2048 of 2048: IOERR (len 1, status 1)",
        "hostile: 4e write at sector 0xffffffffffffffff: IOERR (len 1, status 1)",
        "hostile: 5a well-formed indirect read: len 513, status 0",
        "hostile: 5b indirect table inside an indirect table: returned unused (len 0)",
        "hostile: 5c indirect table of 40 bytes: returned unused (len 0)",
        "hostile: 5d indirect descriptor with NEXT: returned unused (len 0)",
        "hostile: 5e indirect table at 0xfff00000: returned unused (len 0)",
        "hostile: 5f indirect table of 0 bytes: returned unused (len 0)",
        "hostile: 5g looping chain inside an indirect table: returned unused (len 0)",
        "hostile: 5h indirect table of 257 descriptors: returned unused (len 0)",
        "hostile: 6a QueueNotify 5 (no such queue): ignored",
        "hostile: 6b QueueNotify 0xffff (no such queue): ignored",
        "hostile: 6c notification while queue 0 is not ready: ignored; enabled again, served "
        "(len 513, status 0)",
        "hostile: 6d notification after a reset, before the queue is set up: ignored",
        "hostile: 7a available index 257 ahead of the device: DEVICE_NEEDS_RESET (status 0x4f) "
        "with a configuration-change interrupt; reset",
        "hostile: 7b chain head 300 in a table of 256: DEVICE_NEEDS_RESET (status 0x4f) with a "
        "configuration-change interrupt; reset",
        "hostile: 7c descriptor table at 0xfff00000 at DRIVER_OK: DEVICE_NEEDS_RESET (status "
        "0x4f) with a configuration-change interrupt; reset",
        "hostile: 7d used ring misaligned at DRIVER_OK: DEVICE_NEEDS_RESET (status 0x4f) with a "
        "configuration-change interrupt; reset",
        "hostile: 8 after the resets: read of sector 0 ok, write of sector 8 ok, flush ok, read "
        "back ok",
        "hostile: all cases passed",
    };
    std::vector<std::string> printed;
    for (const auto& line : lines(r.output))
        if (line.rfind("hostile: ", 0) == 0) printed.push_back(line);
    EXPECT_EQ(printed, expected) << r.output;

    // The disk: sector 8 as written, every other byte as before.
    std::ifstream f(disk, std::ios::binary);
    std::vector<uint8_t> after{std::istreambuf_iterator<char>(f), {}};
    ASSERT_EQ(after.size(), kDiskBytes);
    auto want = before;
    auto s8 = sector8();
    std::copy(s8.begin(), s8.end(), want.begin() + 8 * kSector);
    EXPECT_TRUE(std::equal(after.begin(), after.begin() + 8 * kSector, want.begin()))
        << "sectors 0-7 changed";
    EXPECT_TRUE(std::equal(after.begin() + 8 * kSector, after.begin() + 9 * kSector,
                           want.begin() + 8 * kSector))
        << "sector 8 is not what case 8 wrote";
    EXPECT_TRUE(std::equal(after.begin() + 9 * kSector, after.end(), want.begin() + 9 * kSector))
        << "sectors past 8 changed";

    // The stats count well-formed requests only: chains returned unused never became requests.
    // Requests: reads in cases 1, 5a, 6c and two in 8, the failing 4b, 4d and 4e, and 8's write
    // and flush. Errors: 4b, 4d and 4e (IOERR).
    std::ifstream sf(stats);
    ASSERT_TRUE(sf) << "no stats JSON";
    auto doc = nlohmann::json::parse(sf, nullptr, false);
    ASSERT_TRUE(doc.is_object());
    EXPECT_EQ(doc["stopReason"], "debug-exit") << doc.dump(2);
    ASSERT_EQ(doc["disks"].size(), 1u) << doc.dump(2);
    const auto& d = doc["disks"][0];
    EXPECT_EQ(d["requests"], 10) << d.dump(2);
    EXPECT_EQ(d["errors"], 3) << d.dump(2);
    EXPECT_EQ(d["bytesRead"], 5 * kSector) << d.dump(2);
    EXPECT_EQ(d["bytesWritten"], kSector) << d.dump(2);
    EXPECT_EQ(d["flushes"], 1) << d.dump(2);
    // …and the refusals have counters of their own: the 18 chains of cases 2, 3, 4a, 4c and
    // 5b–5h came back unused, and cases 7a–7d each made the device ask for a reset.
    EXPECT_EQ(d["refusedChains"], 18) << d.dump(2);
    EXPECT_EQ(d["needsResets"], 4) << d.dump(2);
    EXPECT_GE(d["complaints"].get<int>(), 18 + 4) << d.dump(2);

    // The complaints: the first one (case 2a) in full, then at most one line per 5 seconds
    // although the payload gave the device more than thirty reasons to complain.
    std::string prefix = "ingot-vmm: virtio-blk0 (" + disk + "): ";
    std::vector<std::string> complaints;
    for (const auto& line : lines(r.output))
        if (line.rfind(prefix, 0) == 0) complaints.push_back(line.substr(prefix.size()));
    ASSERT_FALSE(complaints.empty()) << r.output;
    EXPECT_EQ(complaints[0],
              "queue 0: chain at descriptor 0: buffer 0xfff00000+0x200 lies outside guest RAM; "
              "returned to the driver unused")
        << r.output;
    double wall = doc.value("wallSeconds", 0.0);
    // One more at exit: how many were left out since the last line printed.
    EXPECT_LE(complaints.size(), 1 + static_cast<size_t>(wall / 5) + 2) << r.output;
    // Nothing is lost: the lines printed and the counts of those left out add up to every
    // complaint. (Which lines carry a count depends on how fast the rig runs; the sum does not.)
    uint64_t accounted = 0;
    for (const auto& c : complaints) {
        static const std::string kTail = " similar messages left out since the last one";
        static const std::string kTailOne = " similar message left out since the last one";
        bool isFlush = c.size() > kTail.size() && (c.ends_with(kTail) || c.ends_with(kTailOne));
        if (isFlush) {
            accounted += std::stoull(c);
            continue;
        }
        ++accounted;
        auto open = c.rfind(" (");
        if (open != std::string::npos && c.ends_with(" left out)"))
            accounted += std::stoull(c.substr(open + 2));
    }
    EXPECT_EQ(accounted, d["complaints"].get<uint64_t>()) << r.output;
}
