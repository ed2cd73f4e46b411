#include "accounting/AccountingReport.h"

#include <gtest/gtest.h>
#include <linux/kvm.h>

#include <string>

namespace ingot::vmm {
namespace {

constexpr uint64_t kSecond = 1'000'000'000ull;

VcpuExitCounts someCounts() {
    VcpuExitCounts c;
    c.byReason["io"] = {10, 5000};
    c.byReason["mmio"] = {4, 3000};
    c.byReason["hlt"] = {1, 100};
    c.byDevice["uart16550"] = {"pio", {10, 5000}};
    c.byDevice["virtio-blk0 (disk.img)"] = {"mmio", {3, 2500}};
    c.byDevice["unclaimed-mmio"] = {"mmio", {1, 500}};
    return c;
}

std::map<std::string, uint64_t> someKvm() {
    return {{"exits", 99},          {"io_exits", 10},          {"halt_exits", 7},
            {"halt_wait_ns", 7000}, {"halt_poll_success_ns", 300}, {"halt_poll_fail_ns", 40},
            {"pf_fixed", 5},        {"blocking", 0}};
}

TEST(TicksToNs, ConvertsClockTicks) {
    EXPECT_EQ(ticksToNs(1, 100), 10'000'000u);
    EXPECT_EQ(ticksToNs(250, 100), 2'500'000'000u);
    EXPECT_EQ(ticksToNs(1, 3), 333'333'333u);
    EXPECT_EQ(ticksToNs(7, 1000), 7'000'000u);
    EXPECT_EQ(ticksToNs(5, 0), 0u);
    EXPECT_EQ(ticksToNs(5, -100), 0u);
    // No wrap-around, whatever a /proc file says.
    EXPECT_EQ(ticksToNs(UINT64_MAX, 100), UINT64_MAX);
    EXPECT_EQ(ticksToNs(UINT64_MAX / 100, 1), UINT64_MAX);
}

TEST(VcpuFigures, DifferencesOfTwoSamples) {
    VcpuSample start{1000, 100, 50, 2};
    VcpuSample now{1000 + 3 * kSecond, 100 + 2 * kSecond, 50 + kSecond / 10, 2 + 150};
    auto f = vcpuFigures(3, start, now, someCounts(), someKvm(), 100);
    EXPECT_EQ(f.index, 3u);
    EXPECT_EQ(f.wallNs, 3 * kSecond);
    EXPECT_EQ(f.cpuNs, 2 * kSecond);
    EXPECT_EQ(f.runDelayNs, kSecond / 10);
    EXPECT_EQ(f.guestNs, 1'500'000'000u);  // 150 ticks at 100 Hz
    EXPECT_EQ(f.monitorNs, 8100u);         // every exit that reached the monitor
    EXPECT_EQ(f.deviceNs, 8000u);          // its port I/O and MMIO part, unclaimed included
    EXPECT_EQ(f.haltWaitNs, 7000u);
    EXPECT_EQ(f.haltPollNs, 340u);
    EXPECT_EQ(f.kvmExits, (std::map<std::string, uint64_t>{
                              {"exits", 99}, {"io_exits", 10}, {"halt_exits", 7}}));
    EXPECT_EQ(f.monitorExits.at("io").count, 10u);
    EXPECT_EQ(f.devices.at("uart16550").exits.ns, 5000u);
    EXPECT_TRUE(f.unavailable.empty());
}

TEST(VcpuFigures, GuestTimeNeverExceedsCpuTime) {
    // Tick sampling charged three whole ticks to guest mode in 25 ms of CPU time.
    VcpuSample start{0, 0, 0, 0};
    VcpuSample now{kSecond, 25'000'000, 0, 3};
    auto f = vcpuFigures(0, start, now, {}, someKvm(), 100);
    EXPECT_EQ(f.guestNs, 25'000'000u);
}

TEST(VcpuFigures, ReadingsThatGoBackwardsGiveZeroNotAWrap) {
    VcpuSample start{5000, 5000, 5000, 5000};
    VcpuSample now{4000, 4000, 4000, 4000};
    auto f = vcpuFigures(0, start, now, {}, {}, 100);
    EXPECT_EQ(f.wallNs, 0u);
    EXPECT_EQ(f.cpuNs, 0u);
    EXPECT_EQ(f.runDelayNs, 0u);
    EXPECT_EQ(f.guestNs, 0u);
}

TEST(VcpuFigures, MissingSourcesAreZeroAndNamed) {
    VcpuSample start{0, 0, std::nullopt, 1};
    VcpuSample now{kSecond, kSecond, 500, std::nullopt};
    auto f = vcpuFigures(0, start, now, {}, {}, 100);
    EXPECT_EQ(f.runDelayNs, 0u);
    EXPECT_EQ(f.guestNs, 0u);
    EXPECT_EQ(f.haltWaitNs, 0u);
    EXPECT_EQ(f.unavailable, (std::set<std::string>{"guestNs", "haltPollNs", "haltWaitNs",
                                                    "kvmExits", "runDelayNs"}));
}

TEST(VcpuFigures, TotalsSumEveryVcpuAndMergeDevicesByName) {
    VcpuSample start{0, 0, 0, 0};
    VcpuSample now{kSecond, kSecond / 2, 1000, 10};
    auto a = vcpuFigures(0, start, now, someCounts(), someKvm(), 100);
    auto b = vcpuFigures(1, start, now, someCounts(), {}, 100);
    auto t = sumFigures({a, b});
    EXPECT_EQ(t.wallNs, 2 * kSecond);
    EXPECT_EQ(t.cpuNs, kSecond);
    EXPECT_EQ(t.guestNs, 2 * 100'000'000u);
    EXPECT_EQ(t.runDelayNs, 2000u);
    EXPECT_EQ(t.monitorNs, 16200u);
    EXPECT_EQ(t.deviceNs, 16000u);
    EXPECT_EQ(t.haltWaitNs, 7000u);
    EXPECT_EQ(t.devices.size(), 3u);
    EXPECT_EQ(t.devices.at("uart16550").bus, "pio");
    EXPECT_EQ(t.devices.at("uart16550").exits.count, 20u);
    EXPECT_EQ(t.devices.at("unclaimed-mmio").exits.ns, 1000u);
    EXPECT_EQ(t.monitorExits.at("mmio").count, 8u);
    EXPECT_EQ(t.kvmExits.at("exits"), 99u);
    EXPECT_TRUE(t.unavailable.count("haltWaitNs"));  // vCPU 1 had no KVM stats
    EXPECT_EQ(sumFigures({}).wallNs, 0u);
}

TEST(AccountingJson, HasTheDocumentedShape) {
    AccountingSnapshot s;
    s.snapshotMonotonicNs = 123456789;
    s.wallNs = 5 * kSecond;
    s.ticksPerSecond = 100;
    VcpuSample start{0, 0, 0, 0};
    VcpuSample now{2 * kSecond, kSecond, 7, 50};
    s.vcpus.push_back(vcpuFigures(0, start, now, someCounts(), someKvm(), 100));
    s.vcpus.push_back(vcpuFigures(1, start, now, {}, someKvm(), 100));
    // Through text and back, as a reader of the stats file gets it.
    auto j = nlohmann::json::parse(accountingJson(s).dump());

    EXPECT_EQ(j["snapshotMonotonicNs"], 123456789u);
    EXPECT_EQ(j["wallNs"], 5 * kSecond);
    EXPECT_EQ(j["guestTimeResolutionNs"], 10'000'000u);
    ASSERT_TRUE(j["unavailable"].is_array());
    EXPECT_TRUE(j["unavailable"].empty());
    const char* times[] = {"wallNs",     "cpuNs",      "guestNs",    "monitorNs",
                           "deviceNs",   "runDelayNs", "haltWaitNs", "haltPollNs"};
    ASSERT_EQ(j["vcpus"].size(), 2u);
    for (const auto* figures : {&j["total"], &j["vcpus"][0], &j["vcpus"][1]}) {
        for (const char* key : times) {
            ASSERT_TRUE((*figures)[key].is_number_unsigned()) << key << " in " << figures->dump();
        }
        EXPECT_TRUE((*figures)["monitorExits"].is_object());
        EXPECT_TRUE((*figures)["devices"].is_object());
        EXPECT_TRUE((*figures)["kvmExits"].is_object());
    }
    EXPECT_EQ(j["vcpus"][0]["index"], 0);
    EXPECT_EQ(j["vcpus"][1]["index"], 1);
    EXPECT_FALSE(j["total"].contains("index"));
    EXPECT_EQ(j["total"]["wallNs"], 4 * kSecond);
    EXPECT_EQ(j["total"]["guestNs"], kSecond);
    EXPECT_EQ(j["total"]["runDelayNs"], 14u);
    EXPECT_EQ(j["total"]["kvmExits"]["exits"], 198u);
    const auto& uart = j["vcpus"][0]["devices"]["uart16550"];
    EXPECT_EQ(uart["bus"], "pio");
    EXPECT_EQ(uart["count"], 10u);
    EXPECT_EQ(uart["ns"], 5000u);
    EXPECT_EQ(j["vcpus"][0]["monitorExits"]["io"]["count"], 10u);
    EXPECT_EQ(j["vcpus"][0]["monitorExits"]["io"]["ns"], 5000u);
    EXPECT_TRUE(j["vcpus"][1]["devices"].empty());
}

TEST(AccountingJson, NamesWhatIsUnavailable) {
    AccountingSnapshot s;
    VcpuSample zero{0, 0, 0, 0};
    s.vcpus.push_back(vcpuFigures(0, zero, zero, {}, {}, 100));  // a kernel without binary stats
    auto j = accountingJson(s);
    EXPECT_EQ(j["unavailable"].dump(), R"(["haltPollNs","haltWaitNs","kvmExits"])");
}

TEST(ExitReasonName, NamesKnownReasonsAndNumbersOthers) {
    EXPECT_EQ(exitReasonName(KVM_EXIT_IO), "io");
    EXPECT_EQ(exitReasonName(KVM_EXIT_MMIO), "mmio");
    EXPECT_EQ(exitReasonName(KVM_EXIT_SHUTDOWN), "shutdown");
    EXPECT_EQ(exitReasonName(77), "reason-77");
}

}  // namespace
}  // namespace ingot::vmm
