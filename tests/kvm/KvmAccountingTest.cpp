// The monitor's accounting and KVM steal time against a real Linux guest (docs/vmm.md,
// "Accounting"): the guest enables steal time on its own once CPUID offers it, and SIGUSR1
// snapshots taken while it runs, and the stats document at exit, hold figures that add up.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "LiveMonitor.h"
#include "VmmProcess.h"

using ingot::testing::requireEnv;

namespace {

using Clock = std::chrono::steady_clock;
using ingot::testing::LiveMonitor;
using nlohmann::json;

std::optional<json> readJson(const std::string& path) {
    std::ifstream f(path);
    if (!f) return std::nullopt;
    auto doc = json::parse(f, nullptr, false);
    if (doc.is_discarded()) return std::nullopt;
    return doc;
}

// SIGUSR1, then the document it makes the monitor write: the first whose snapshot is newer than
// `after` (the file is replaced whole, so a read never sees half of one).
std::optional<json> snapshot(LiveMonitor& vmm, const std::string& path, uint64_t after) {
    vmm.signal(SIGUSR1);
    auto end = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < end) {
        if (auto doc = readJson(path)) {
            const auto& a = (*doc)["accounting"];
            if (a.is_object() && a["snapshotMonotonicNs"].get<uint64_t>() > after) return doc;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return std::nullopt;
}

uint64_t sumOf(const json& byName) {
    uint64_t sum = 0;
    for (const auto& [name, e] : byName.items()) sum += e["ns"].get<uint64_t>();
    return sum;
}

uint64_t countOf(const json& figures, const char* group, const char* name) {
    const auto& g = figures[group];
    return g.contains(name) ? g[name]["count"].get<uint64_t>() : 0;
}

// What holds for any figures object (a vCPU's or the total) of any document.
void checkFigures(const json& f, const std::string& where) {
    SCOPED_TRACE(where + ": " + f.dump());
    for (const char* key : {"wallNs", "cpuNs", "guestNs", "monitorNs", "deviceNs", "runDelayNs",
                            "haltWaitNs", "haltPollNs"})
        ASSERT_TRUE(f[key].is_number_unsigned()) << key;
    // The parts add up to their wholes exactly: the same counters, summed.
    EXPECT_EQ(sumOf(f["devices"]), f["deviceNs"].get<uint64_t>());
    EXPECT_EQ(sumOf(f["monitorExits"]), f["monitorNs"].get<uint64_t>());
    EXPECT_LE(f["deviceNs"].get<uint64_t>(), f["monitorNs"].get<uint64_t>());
    // Guest mode is CPU time of the thread; halts happen within its life.
    EXPECT_LE(f["guestNs"].get<uint64_t>(), f["cpuNs"].get<uint64_t>());
    EXPECT_LE(f["haltWaitNs"].get<uint64_t>(), f["wallNs"].get<uint64_t>());
    // Running the guest, handling its devices and waiting for a host CPU are different states
    // of the thread; halts, KVM's own exit handling and the monitor's other work are outside
    // all three, so together they stay within the thread's life.
    EXPECT_LE(f["guestNs"].get<uint64_t>() + f["deviceNs"].get<uint64_t>() +
                  f["runDelayNs"].get<uint64_t>(),
              f["wallNs"].get<uint64_t>());
    // KVM counts every exit, those it hands to the monitor included.
    uint64_t toMonitor = 0;
    for (const auto& [name, e] : f["monitorExits"].items()) toMonitor += e["count"].get<uint64_t>();
    EXPECT_GE(f["kvmExits"].value("exits", uint64_t{0}), toMonitor);
}

// Cumulative figures never go down from one snapshot to the next.
void checkGrowth(const json& before, const json& after, const std::string& where) {
    SCOPED_TRACE(where);
    for (const char* key : {"wallNs", "cpuNs", "guestNs", "monitorNs", "deviceNs", "runDelayNs",
                            "haltWaitNs", "haltPollNs"})
        EXPECT_LE(before[key].get<uint64_t>(), after[key].get<uint64_t>()) << key;
    EXPECT_LE(before["kvmExits"].value("exits", uint64_t{0}),
              after["kvmExits"].value("exits", uint64_t{0}));
}

TEST(KvmAccounting, GuestUsesStealTimeAndSnapshotsAddUp) {
    const std::string stats = ingot::testing::processScratchDir() + "/accounting.json";
    // Two vCPUs: the guest registers steal time per CPU, and only the second one's
    // registration comes late enough in boot for dyndbg to print it.
    LiveMonitor vmm({requireEnv("INGOT_VMM"), "--kernel", requireEnv("INGOT_TEST_KERNEL"),
                     "--initrd", requireEnv("INGOT_TEST_INITRD"), "--cmdline",
                     "console=ttyS0 quiet dyndbg=\"file kvm.c +p\" ingot.test=accounting",
                     "--cpus", "2", "--memory", "256M", "--stats-json", stats});
    ASSERT_TRUE(vmm.waitFor("INGOT-ACCOUNTING-FIRST", 240)) << vmm.output();

    // The guest found KVM_FEATURE_STEAL_TIME in CPUID and wrote MSR_KVM_STEAL_TIME.
    EXPECT_NE(vmm.output().find("guest dmesg: "), std::string::npos) << vmm.output();
    EXPECT_NE(vmm.output().find("kvm-guest: stealtime: cpu 1, msr "), std::string::npos)
        << vmm.output();
    // /proc/stat has its steal column (the eighth figure of the cpu line).
    auto statAt = vmm.output().find("guest stat: cpu ");
    ASSERT_NE(statAt, std::string::npos) << vmm.output();
    std::istringstream cpuLine(vmm.output().substr(statAt + 16, vmm.output().find('\n', statAt) - statAt - 16));
    std::vector<uint64_t> columns;
    for (uint64_t v; cpuLine >> v;) columns.push_back(v);
    EXPECT_GE(columns.size(), 8u) << vmm.output();

    auto first = snapshot(vmm, stats, 0);
    ASSERT_TRUE(first) << vmm.output();
    vmm.type("next\n");
    ASSERT_TRUE(vmm.waitFor("INGOT-ACCOUNTING-SECOND", 120)) << vmm.output();
    auto second = snapshot(vmm, stats, (*first)["accounting"]["snapshotMonotonicNs"]);
    ASSERT_TRUE(second) << vmm.output();
    vmm.type("done\n");
    int status = vmm.finish(120);
    EXPECT_EQ(status, 0) << vmm.output();
    auto last = readJson(stats);
    ASSERT_TRUE(last) << vmm.output();

    // While it runs the document is the accounting alone; at exit, the full stats with it.
    EXPECT_EQ((*first)["stopReason"], "running");
    EXPECT_EQ((*second)["stopReason"], "running");
    EXPECT_EQ((*last)["stopReason"], "poweroff") << last->dump();
    EXPECT_TRUE((*last)["exits"].is_object());
    const json* docs[] = {&*first, &*second, &*last};
    for (const json* doc : docs) {
        const auto& a = (*doc)["accounting"];
        ASSERT_TRUE(a.is_object()) << doc->dump();
        // The rig's kernel has every source: schedstat, guest_time, KVM's binary stats.
        EXPECT_TRUE(a["unavailable"].empty()) << a.dump();
        ASSERT_EQ(a["vcpus"].size(), 2u) << a.dump();
        checkFigures(a["total"], "total");
        for (const auto& v : a["vcpus"]) {
            checkFigures(v, "vcpu " + v["index"].dump());
            EXPECT_LE(v["wallNs"].get<uint64_t>(), a["wallNs"].get<uint64_t>());
        }
    }
    const auto& a1 = (*first)["accounting"];
    const auto& a2 = (*second)["accounting"];
    const auto& a3 = (*last)["accounting"];
    EXPECT_LT(a1["snapshotMonotonicNs"].get<uint64_t>(), a2["snapshotMonotonicNs"].get<uint64_t>());
    EXPECT_LT(a2["snapshotMonotonicNs"].get<uint64_t>(), a3["snapshotMonotonicNs"].get<uint64_t>());
    checkGrowth(a1["total"], a2["total"], "first to second");
    checkGrowth(a2["total"], a3["total"], "second to exit");
    for (size_t i = 0; i < 2; ++i) {
        checkGrowth(a1["vcpus"][i], a2["vcpus"][i], "vcpu first to second");
        checkGrowth(a2["vcpus"][i], a3["vcpus"][i], "vcpu second to exit");
    }

    // A Linux boot: the guest ran, exited, printed and idled.
    const auto& total = a3["total"];
    EXPECT_GT(total["kvmExits"].value("exits", uint64_t{0}), 0u) << total.dump();
    EXPECT_GT(total["guestNs"].get<uint64_t>(), 0u) << total.dump();
    EXPECT_GT(total["haltWaitNs"].get<uint64_t>(), 0u) << total.dump();
    EXPECT_GT(countOf(total, "monitorExits", "io"), 0u) << total.dump();
    EXPECT_GT(countOf(total, "devices", "uart16550"), 0u) << total.dump();
    EXPECT_EQ(total["devices"]["uart16550"]["bus"], "pio");
    // The interval between the snapshots holds the lines the guest printed in it.
    EXPECT_GT(countOf(a2["total"], "devices", "uart16550"), countOf(a1["total"], "devices", "uart16550"));
    // The existing stats agree with the accounting on what reached the monitor.
    EXPECT_EQ((*last)["exits"]["toMonitor"]["io"].get<uint64_t>(), countOf(total, "monitorExits", "io"));

    // What one boot in the rig cost, for docs/vmm.md.
    std::printf("accounting: %s\n", total.dump().c_str());
    uint64_t exits = 0;
    for (const auto& [name, e] : total["monitorExits"].items()) exits += e["count"].get<uint64_t>();
    if (exits)
        std::printf("monitor exits: %llu, mean handling %.0f ns\n",
                    static_cast<unsigned long long>(exits),
                    static_cast<double>(total["monitorNs"].get<uint64_t>()) / static_cast<double>(exits));
}

}  // namespace
