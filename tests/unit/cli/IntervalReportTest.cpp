// `ingot stats` / `ingot top`: the interval between two samples of one VM, its verdict, table,
// top row and JSON.
#include "IntervalReport.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ingot/core/Error.h"

namespace ingot::cli {
namespace {

using nlohmann::json;

constexpr uint64_t kSecond = 1'000'000'000ull;
constexpr uint64_t kMs = 1'000'000ull;

// One vCPU's cumulative figures, as the monitor's accountingJson() writes them.
struct Vcpu {
    unsigned index = 0;
    uint64_t wallNs = 0;
    uint64_t cpuNs = 0;
    uint64_t guestNs = 0;
    uint64_t monitorNs = 0;
    uint64_t deviceNs = 0;
    uint64_t runDelayNs = 0;
    uint64_t haltWaitNs = 0;
    uint64_t haltPollNs = 0;
    uint64_t exits = 0;
    std::string deviceName = "uart16550";
};

json vcpuJson(const Vcpu& v) {
    return {
        {"index", v.index},
        {"wallNs", v.wallNs},
        {"cpuNs", v.cpuNs},
        {"guestNs", v.guestNs},
        {"monitorNs", v.monitorNs},
        {"deviceNs", v.deviceNs},
        {"runDelayNs", v.runDelayNs},
        {"haltWaitNs", v.haltWaitNs},
        {"haltPollNs", v.haltPollNs},
        {"monitorExits", {{"io", {{"count", v.exits / 2}, {"ns", v.monitorNs}}}}},
        {"devices", {{v.deviceName, {{"bus", "pio"}, {"count", v.exits / 2}, {"ns", v.deviceNs}}}}},
        {"kvmExits", {{"exits", v.exits}, {"io_exits", v.exits / 2}, {"halt_exits", 7}}}};
}

json sample(uint64_t snapshotNs, const std::vector<Vcpu>& vcpus,
            const std::vector<std::string>& unavailable = {}) {
    json list = json::array();
    for (const auto& v : vcpus) list.push_back(vcpuJson(v));
    uint64_t wall = vcpus.empty() ? 0 : vcpus.front().wallNs;
    return {{"accounting",
             {{"snapshotMonotonicNs", snapshotNs},
              {"wallNs", wall},
              {"guestTimeResolutionNs", 10 * kMs},
              {"unavailable", unavailable},
              {"vcpus", list}}}};
}

// A /proc/stat with the given aggregate columns (and one cpu0 line the same).
std::string procStat(const std::vector<uint64_t>& columns) {
    std::string line;
    for (auto c : columns) line += " " + std::to_string(c);
    return "cpu " + line + "\ncpu0" + line + "\nintr 1 2 3\nctxt 10\n";
}

void addGuest(json& s, const std::vector<uint64_t>& columns, const std::string& uptime = "") {
    s["guest"] = {{"procStat", procStat(columns)}};
    if (!uptime.empty()) s["guest"]["uptime"] = uptime;
}

// One of four VMs on one shared host CPU, each spinning in its guest: over 40 s it ran a
// quarter of the time and waited for the CPU the rest; the guest's steal column agrees.
struct FourGuestScenario {
    json earlier;
    json later;

    explicit FourGuestScenario(uint64_t runMs = 10'100, uint64_t waitMs = 29'600,
                               uint64_t guestStealTicks = 2'940) {
        Vcpu start{.index = 0,
                   .wallNs = 5 * kSecond,
                   .cpuNs = 1 * kSecond,
                   .guestNs = 900 * kMs,
                   .monitorNs = 40 * kMs,
                   .deviceNs = 30 * kMs,
                   .runDelayNs = 3 * kSecond,
                   .haltWaitNs = 500 * kMs,
                   .haltPollNs = 0,
                   .exits = 1000};
        Vcpu end = start;
        end.wallNs += 40 * kSecond;
        end.cpuNs += runMs * kMs;
        end.guestNs += 9'600 * kMs;
        end.monitorNs += 400 * kMs;
        end.deviceNs += 300 * kMs;
        end.runDelayNs += waitMs * kMs;
        end.haltWaitNs += 200 * kMs;
        end.exits += 40'000;
        earlier = sample(100 * kSecond, {start});
        later = sample(140 * kSecond, {end});
        // The guest's ticks over the 40 s: 1010 busy, 50 idle, the rest steal.
        addGuest(earlier, {100, 0, 20, 300, 5, 0, 2, 200, 0, 0}, "10.00 9.00\n");
        uint64_t idleTicks = 4000 - 1010 - guestStealTicks;
        addGuest(later,
                 {100 + 950, 0, 20 + 50, 300 + idleTicks, 5, 2, 2 + 8, 200 + guestStealTicks, 0, 0},
                 "50.00 9.50\n");
    }
};

// What the rig showed: a guest that runs a quarter of the time counts whole ticks as steal
// whenever the steal since the last tick exceeds one, so its busy column falls far short of
// what it ran and its columns add up to less than the interval. Against its own clock (uptime)
// the steal still agrees with the host's wait.
TEST(IntervalReport, StealIsMeasuredAgainstTheGuestClockNotItsColumns) {
    FourGuestScenario s(10'000, 30'000, 3'000);
    // 40 s of uptime, but only 3000 steal + 60 busy + 20 idle ticks: 30.8 s of columns.
    addGuest(s.earlier, {100, 0, 20, 300, 5, 0, 2, 200, 0, 0}, "10.00 9.00\n");
    addGuest(s.later, {100 + 50, 0, 20 + 10, 300 + 20, 5, 0, 2, 200 + 3'000, 0, 0},
             "50.00 9.20\n");
    IntervalReport r = makeIntervalReport(s.earlier, s.later, "spin0");
    ASSERT_FALSE(r.guest.unavailable) << *r.guest.unavailable;
    EXPECT_EQ(r.guest.total.cpuTimeNs, 30'800 * kMs);
    EXPECT_EQ(r.guest.total.wholeNs, 40 * kSecond);
    EXPECT_NEAR(*percentOf(r.guest.total.stealNs, r.guest.total.wholeNs), 75.0, 0.01);
    ASSERT_TRUE(r.comparison.stealAgrees);
    EXPECT_TRUE(*r.comparison.stealAgrees) << verdict(r);
    EXPECT_NE(verdict(r).find("agrees with the host"), std::string::npos) << verdict(r);
}

TEST(IntervalReport, FourGuestsOnOneCpuEachRunAQuarterAndWaitTheRest) {
    for (int vm = 0; vm < 4; ++vm) {
        FourGuestScenario s(10'000 + 50 * vm, 29'700 - 50 * vm, 2'960 - 5 * vm);
        IntervalReport r = makeIntervalReport(s.earlier, s.later, "spin" + std::to_string(vm));
        EXPECT_EQ(r.intervalNs, 40 * kSecond);
        EXPECT_EQ(r.vcpuCount, 1u);
        EXPECT_NEAR(*percentOf(r.host.cpuNs, r.vcpuTimeNs), 25.0, 0.6);
        EXPECT_NEAR(*percentOf(r.host.runDelayNs, r.vcpuTimeNs), 74.0, 1.0);
        ASSERT_FALSE(r.guest.unavailable.has_value()) << *r.guest.unavailable;
        EXPECT_NEAR(*percentOf(r.guest.total.stealNs, r.guest.total.cpuTimeNs), 74.0, 1.0);
        ASSERT_TRUE(r.comparison.stealAgrees.has_value());
        EXPECT_TRUE(*r.comparison.stealAgrees) << *r.comparison.stealMinusRunDelayPoints;
        EXPECT_NE(verdict(r).find("agrees with the host"), std::string::npos) << verdict(r);
    }
}

TEST(IntervalReport, TheVerdictSaysItInPlainWords) {
    FourGuestScenario s;
    IntervalReport r = makeIntervalReport(s.earlier, s.later, "spin0");
    EXPECT_EQ(verdict(r),
              "of 40.0 s wall (1 vCPU), this guest ran 10.1 s (25 %), waited 29.6 s (74 %) for a "
              "host CPU, spent 0.3 s in device emulation (most in uart16550); the guest saw "
              "29.4 s of steal (agrees with the host within 0.5 points)");
    EXPECT_NEAR(*r.comparison.stealMinusRunDelayPoints, -0.5, 1e-9);
    EXPECT_EQ(r.guest.total.cpuTimeNs, 40 * kSecond);
    EXPECT_EQ(r.guest.total.busyNs, 10'100 * kMs);
    EXPECT_EQ(r.guest.uptimeNs, 40 * kSecond);
    EXPECT_NEAR(*r.comparison.busyMinusGuestModePoints, 25.25 - 24.0, 1e-9);
}

TEST(IntervalReport, PercentagesAreOfWallTimesVcpus) {
    Vcpu a0{.index = 0, .wallNs = kSecond}, a1{.index = 1, .wallNs = kSecond};
    Vcpu b0 = a0, b1 = a1;
    b0.wallNs = b1.wallNs = 11 * kSecond;
    b0.cpuNs = 4 * kSecond;
    b0.haltWaitNs = 6 * kSecond;
    b1.haltWaitNs = 10 * kSecond;  // vCPU 1 halted the whole time
    IntervalReport r =
        makeIntervalReport(sample(kSecond, {a0, a1}), sample(11 * kSecond, {b0, b1}), "two");
    EXPECT_EQ(r.vcpuTimeNs, 20 * kSecond);
    EXPECT_DOUBLE_EQ(*percentOf(r.host.cpuNs, r.vcpuTimeNs), 20.0);
    EXPECT_DOUBLE_EQ(*percentOf(r.host.haltWaitNs, r.vcpuTimeNs), 80.0);
    ASSERT_EQ(r.vcpus.size(), 2u);
    EXPECT_DOUBLE_EQ(*percentOf(r.vcpus[0].cpuNs, r.intervalNs), 40.0);
    EXPECT_NE(verdict(r).find("of 10.0 s wall (2 vCPUs, 20.0 vCPU-s), this guest was mostly idle: "
                              "halted 16.0 s (80 %), ran 4.0 s (20 %)"),
              std::string::npos)
        << verdict(r);
    EXPECT_NE(
        verdict(r).find("the guest's own view is unavailable: the later sample has no guest view"),
        std::string::npos);
    std::string table = renderTable(r);
    EXPECT_NE(table.find("guest steal %"), std::string::npos) << table;  // per-vCPU lines
}

TEST(IntervalReport, AGuestWhoseStealDisagreesIsToldApart) {
    FourGuestScenario lower(10'100, 29'600, 400);
    IntervalReport r = makeIntervalReport(lower.earlier, lower.later, "vm");
    ASSERT_TRUE(r.comparison.stealAgrees.has_value());
    EXPECT_FALSE(*r.comparison.stealAgrees);
    EXPECT_NE(verdict(r).find("the guest saw 4.0 s of steal (10 %), 64.0 points less than the "
                              "host's wait"),
              std::string::npos)
        << verdict(r);
    EXPECT_NE(renderTopRow(r).find("steal disagrees"), std::string::npos);

    FourGuestScenario none(10'100, 29'600, 0);
    r = makeIntervalReport(none.earlier, none.later, "vm");
    EXPECT_NE(verdict(r).find("the guest saw no steal although the host made it wait 74 % (its "
                              "kernel may not use KVM's steal time)"),
              std::string::npos)
        << verdict(r);
}

TEST(IntervalReport, AMissingGuestViewIsSaidNotGuessed) {
    FourGuestScenario s;
    s.later["guest"] = {{"error", "no agent: connection refused"}};
    IntervalReport r = makeIntervalReport(s.earlier, s.later, "vm");
    ASSERT_TRUE(r.guest.unavailable.has_value());
    EXPECT_FALSE(r.comparison.stealAgrees.has_value());
    EXPECT_NE(
        verdict(r).find("; the guest's own view is unavailable: no agent: connection refused"),
        std::string::npos)
        << verdict(r);
    EXPECT_NE(renderTable(r).find("guest view unavailable: no agent: connection refused"),
              std::string::npos);
    EXPECT_NE(renderTopRow(r).find("no guest view"), std::string::npos);
    auto j = toJson(r);
    EXPECT_EQ(j["guest"]["available"], false);
    EXPECT_EQ(j["guest"]["unavailable"], "no agent: connection refused");
    EXPECT_TRUE(j["comparison"]["stealMinusRunDelayPoints"].is_null());

    // The earlier sample's gap voids the interval too.
    FourGuestScenario e;
    e.earlier.erase("guest");
    r = makeIntervalReport(e.earlier, e.later, "vm");
    EXPECT_EQ(*r.guest.unavailable, "the earlier sample has no guest view");
}

TEST(IntervalReport, AGuestThatWritesGarbageLosesItsViewNotTheReport) {
    FourGuestScenario s;
    s.later["guest"]["procStat"] = std::string("cpu 1 2 3 4\ncpu0 1 2 \x1b[2J 4\n");
    IntervalReport r = makeIntervalReport(s.earlier, s.later, "vm");
    ASSERT_TRUE(r.guest.unavailable.has_value());
    EXPECT_NE(r.guest.unavailable->find("line 2"), std::string::npos) << *r.guest.unavailable;
    EXPECT_NE(r.guest.unavailable->find("later sample"), std::string::npos);
    EXPECT_EQ(renderTable(r).find('\x1b'), std::string::npos);
    EXPECT_EQ(verdict(r).find('\x1b'), std::string::npos);
    EXPECT_NEAR(*percentOf(r.host.cpuNs, r.vcpuTimeNs), 25.25, 1e-9);

    s.later["guest"]["uptime"] = "soon";
    s.later["guest"]["procStat"] = procStat({1, 2, 3, 4});
    r = makeIntervalReport(s.earlier, s.later, "vm");
    EXPECT_NE(r.guest.unavailable->find("/proc/uptime"), std::string::npos);
}

TEST(IntervalReport, AnOlderGuestKernelWithoutStealSaysSo) {
    FourGuestScenario s;
    addGuest(s.earlier, {100, 0, 20, 300, 5, 0, 2});
    addGuest(s.later, {1050, 0, 70, 3290, 5, 2, 10});
    IntervalReport r = makeIntervalReport(s.earlier, s.later, "vm");
    EXPECT_FALSE(r.guest.total.stealNs.has_value());
    EXPECT_NE(verdict(r).find("the guest's kernel reports no steal time"), std::string::npos);
    auto j = toJson(r);
    EXPECT_TRUE(j["guest"]["total"]["stealNs"].is_null());
    EXPECT_EQ(j["guest"]["total"]["cpuTimeNs"], 40 * kSecond);
}

TEST(IntervalReport, CountersGoingBackMeanARestartAndNeverANegativeFigure) {
    FourGuestScenario s;
    // The later sample is of a new monitor, 3 s old.
    Vcpu fresh{.index = 0,
               .wallNs = 3 * kSecond,
               .cpuNs = 2 * kSecond,
               .guestNs = 1'500 * kMs,
               .monitorNs = 100 * kMs,
               .deviceNs = 80 * kMs,
               .runDelayNs = 500 * kMs,
               .haltWaitNs = 400 * kMs,
               .exits = 900};
    json later = sample(150 * kSecond, {fresh});
    addGuest(later, {100, 0, 50, 40, 0, 0, 0, 50, 0, 0}, "2.40 0.40\n");
    IntervalReport r = makeIntervalReport(s.earlier, later, "vm");
    EXPECT_TRUE(r.sinceRestart);
    EXPECT_EQ(r.intervalNs, 3 * kSecond);
    EXPECT_EQ(r.host.cpuNs, 2 * kSecond);
    EXPECT_EQ(*r.host.runDelayNs, 500 * kMs);
    EXPECT_EQ(r.guest.total.cpuTimeNs, 2'400 * kMs);  // since the guest booted
    EXPECT_TRUE(
        verdict(r).starts_with("the VM restarted during the interval; since then, of 3.0 s wall"))
        << verdict(r);
    ASSERT_FALSE(r.notes.empty());
    EXPECT_NE(r.notes.front().find("restarted"), std::string::npos);
    EXPECT_NE(renderTopRow(r).find("restarted"), std::string::npos);
    std::string dumped = toJson(r).dump();
    EXPECT_EQ(dumped.find("18446744073"), std::string::npos) << dumped;
    EXPECT_EQ(dumped.find('-'), std::string::npos) << dumped;  // no negative number anywhere

    // One counter alone going back is enough.
    json oneBack = s.later;
    oneBack["accounting"]["vcpus"][0]["kvmExits"]["exits"] = 10;
    r = makeIntervalReport(s.earlier, oneBack, "vm");
    EXPECT_TRUE(r.sinceRestart);
    EXPECT_NE(r.notes.front().find("KVM exit counter exits went back"), std::string::npos);
}

TEST(IntervalReport, AGuestRebootInsideTheIntervalIsNoted) {
    FourGuestScenario s;
    addGuest(s.later, {60, 0, 10, 200, 0, 0, 0, 30, 0, 0}, "3.00 2.00\n");
    IntervalReport r = makeIntervalReport(s.earlier, s.later, "vm");
    EXPECT_FALSE(r.sinceRestart);
    ASSERT_TRUE(r.guest.note.has_value());
    EXPECT_EQ(r.guest.total.cpuTimeNs, 3 * kSecond);
    EXPECT_NE(verdict(r).find("it rebooted"), std::string::npos);
}

TEST(IntervalReport, AZeroLengthIntervalReportsNothingAndDividesByNothing) {
    FourGuestScenario s;
    IntervalReport r = makeIntervalReport(s.earlier, s.earlier, "vm");
    EXPECT_EQ(r.intervalNs, 0u);
    EXPECT_EQ(r.vcpuTimeNs, 0u);
    EXPECT_EQ(verdict(r), "no time passed between the two samples: nothing to report");
    auto j = toJson(r);
    EXPECT_TRUE(j["host"]["cpuPercent"].is_null());
    EXPECT_TRUE(j["guest"]["total"]["stealPercent"].is_null());
    EXPECT_NE(renderTopRow(r).find(" - "), std::string::npos);
    EXPECT_NE(renderTable(r).find("nothing to report"), std::string::npos);
}

TEST(IntervalReport, OnlyTheVcpusInBothSamplesAreCounted) {
    Vcpu a0{.index = 0, .wallNs = kSecond}, a1{.index = 1, .wallNs = kSecond};
    Vcpu b0 = a0, b1 = a1, b2{.index = 2, .wallNs = 5 * kSecond, .cpuNs = 5 * kSecond};
    b0.wallNs = b1.wallNs = 5 * kSecond;
    b0.cpuNs = b1.cpuNs = 2 * kSecond;
    IntervalReport r =
        makeIntervalReport(sample(kSecond, {a0, a1}), sample(5 * kSecond, {b0, b1, b2}), "grew");
    EXPECT_EQ(r.vcpuCount, 2u);
    EXPECT_EQ(r.host.cpuNs, 4 * kSecond);
    EXPECT_DOUBLE_EQ(*percentOf(r.host.cpuNs, r.vcpuTimeNs), 50.0);
    std::string notes;
    for (const auto& n : r.notes) notes += n + "\n";
    EXPECT_NE(notes.find("vCPU 2 is only in the later sample"), std::string::npos) << notes;
    EXPECT_NE(notes.find("changed from 2 to 3"), std::string::npos) << notes;

    r = makeIntervalReport(sample(kSecond, {a0}), sample(5 * kSecond, {b1}), "swapped");
    EXPECT_EQ(r.vcpuCount, 0u);
    EXPECT_EQ(verdict(r), "no vCPU is in both samples: nothing to compare");
    EXPECT_NO_THROW(renderTable(r));
    EXPECT_NO_THROW(renderTopRow(r));
}

TEST(IntervalReport, FiguresTheHostCannotMeasureAreUnavailableNotZero) {
    Vcpu a{.index = 0, .wallNs = kSecond, .cpuNs = kSecond};
    Vcpu b = a;
    b.wallNs += 10 * kSecond;
    b.cpuNs += 4 * kSecond;
    IntervalReport r = makeIntervalReport(
        sample(0, {a}, {"runDelayNs", "kvmExits", "haltWaitNs"}),
        sample(10 * kSecond, {b}, {"runDelayNs", "kvmExits", "haltWaitNs"}), "old-host");
    EXPECT_FALSE(r.host.runDelayNs.has_value());
    EXPECT_FALSE(r.host.kvmExits.has_value());
    EXPECT_NE(verdict(r).find("its wait for a host CPU is not measured on this host"),
              std::string::npos)
        << verdict(r);
    auto j = toJson(r);
    EXPECT_TRUE(j["host"]["runDelayNs"].is_null());
    EXPECT_TRUE(j["host"]["kvmExits"].is_null());
    EXPECT_NE(renderTable(r).find("exits/s: n/a"), std::string::npos);
    EXPECT_NE(renderTable(r).find("n/a"), std::string::npos);
}

TEST(IntervalReport, MemoryLimitHitsAndOomKillsAreLoud) {
    FourGuestScenario s;
    s.earlier["resources"] = {
        {"cgroup",
         {{"cpu",
           {{"usageUs", 1'000'000}, {"throttledPeriods", 2}, {"throttledUs", 50'000}}},
          {"memory", {{"currentBytes", 100u << 20},
                      {"events", {{"max", 1}, {"oomKill", 0}, {"high", 0}}}}}}}};
    s.later["resources"] = {
        {"cgroup",
         {{"cpu",
           {{"usageUs", 11'100'000}, {"throttledPeriods", 12}, {"throttledUs", 1'250'000}}},
          {"memory", {{"currentBytes", 512u << 20},
                      {"events", {{"max", 4}, {"oomKill", 1}, {"high", 0}}}}}}},
        {"limits", {{"cpus", 1.0}, {"memoryBytes", 1u << 30}}},
        {"balloon", {{"targetBytes", 768u << 20}, {"actualBytes", 800u << 20}}}};
    IntervalReport r = makeIntervalReport(s.earlier, s.later, "tight");
    EXPECT_EQ(*r.resources.memoryMaxHits, 3u);
    EXPECT_EQ(*r.resources.oomKills, 1u);
    EXPECT_EQ(*r.resources.throttledPeriods, 10u);
    EXPECT_EQ(*r.resources.throttledNs, 1'200 * kMs);
    EXPECT_EQ(*r.resources.cgroupCpuNs, 10'100 * kMs);
    ASSERT_EQ(r.warnings.size(), 2u);
    std::string table = renderTable(r);
    EXPECT_NE(
        table.find(
            "WARNING: the VM hit its memory limit (cgroup memory.max) 3 times in this interval"),
        std::string::npos)
        << table;
    EXPECT_NE(table.find("WARNING: 1 OOM kill in the VM's cgroup"), std::string::npos) << table;
    EXPECT_NE(table.find("memory.current 512 MiB"), std::string::npos) << table;
    EXPECT_NE(table.find("balloon target 768 MiB, actual 800 MiB"), std::string::npos) << table;
    EXPECT_NE(verdict(r).find("; WARNING: memory.max hit 3 times, 1 OOM kill"), std::string::npos)
        << verdict(r);
    EXPECT_NE(verdict(r).find("was held back by its cgroup's CPU limit for 1.2 s"),
              std::string::npos);
    std::string row = renderTopRow(r);
    EXPECT_NE(row.find("MEMORY.MAX,OOM-KILL"), std::string::npos) << row;
    EXPECT_NE(row.find("512 MiB"), std::string::npos) << row;
    auto j = toJson(r);
    EXPECT_EQ(j["resources"]["oomKills"], 1);
    EXPECT_EQ(j["resources"]["memoryMaxHits"], 3);
    EXPECT_EQ(j["warnings"].size(), 2u);
    EXPECT_EQ(j["resources"]["limits"]["memoryBytes"], 1u << 30);
}

TEST(IntervalReport, PartialResourcesAreFine) {
    FourGuestScenario s;
    s.later["resources"] = {{"cgroup", {{"memory", {{"events", {{"oomKill", 2}}}}}}}};
    IntervalReport r = makeIntervalReport(s.earlier, s.later, "vm");
    EXPECT_TRUE(r.resources.present);
    // No earlier figure: the interval's count is unknown, not 2.
    EXPECT_FALSE(r.resources.oomKills.has_value());
    EXPECT_FALSE(r.resources.memoryCurrentBytes.has_value());
    // Still loud: the kills happened, if not necessarily in this interval.
    ASSERT_EQ(r.warnings.size(), 1u);
    EXPECT_EQ(r.warnings[0], "the VM's cgroup has had 2 OOM kills since it started");
    EXPECT_NE(verdict(r).find("; WARNING: 2 OOM kills since the VM started"), std::string::npos)
        << verdict(r);
    EXPECT_NE(renderTopRow(r).find("OOM-KILL"), std::string::npos);
}

TEST(IntervalReport, ABadSampleThrowsNamingTheField) {
    FourGuestScenario s;
    auto messageOf = [&](const json& later) {
        try {
            makeIntervalReport(s.earlier, later, "vm");
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    json noAccounting = s.later;
    noAccounting.erase("accounting");
    EXPECT_NE(messageOf(noAccounting).find("later sample: accounting: missing"), std::string::npos);
    json noCpu = s.later;
    noCpu["accounting"]["vcpus"][0].erase("cpuNs");
    EXPECT_NE(messageOf(noCpu).find("accounting.vcpus[0].cpuNs: missing"), std::string::npos)
        << messageOf(noCpu);
    json negative = s.later;
    negative["accounting"]["vcpus"][0]["runDelayNs"] = -5;
    EXPECT_NE(messageOf(negative).find("accounting.vcpus[0].runDelayNs: negative"),
              std::string::npos);
    json text = s.later;
    text["accounting"]["snapshotMonotonicNs"] = "soon";
    EXPECT_NE(messageOf(text).find("snapshotMonotonicNs: not a non-negative integer but string"),
              std::string::npos);
    json fraction = s.later;
    fraction["accounting"]["vcpus"][0]["wallNs"] = 1.5;
    EXPECT_NE(messageOf(fraction).find("wallNs: not a non-negative integer"), std::string::npos);
    json twice = s.later;
    twice["accounting"]["vcpus"].push_back(twice["accounting"]["vcpus"][0]);
    EXPECT_NE(messageOf(twice).find("vcpus[1].index: vCPU 0 appears twice"), std::string::npos);
    json guestShape = s.later;
    guestShape["guest"] = {{"procStat", 5}};
    EXPECT_NE(messageOf(guestShape).find("later sample: guest.procStat: not a string"),
              std::string::npos);
    json resources = s.later;
    resources["resources"] = {{"cgroup", {{"memory", {{"events", {{"oomKill", "many"}}}}}}}};
    EXPECT_NE(messageOf(resources).find("resources.cgroup.memory.events.oomKill"),
              std::string::npos)
        << messageOf(resources);
    EXPECT_THROW(makeIntervalReport(json::array(), s.later, "vm"), Error);
    EXPECT_THROW(makeIntervalReport(s.earlier, json(), "vm"), Error);
}

TEST(IntervalReport, TableTopRowAndJsonShape) {
    FourGuestScenario s;
    IntervalReport r = makeIntervalReport(s.earlier, s.later, "spin0");
    std::string table = renderTable(r);
    EXPECT_TRUE(table.starts_with("spin0: 40.0 s wall, 1 vCPU (40.0 vCPU-s)\n")) << table;
    EXPECT_NE(table.find("waiting for a CPU / steal"), std::string::npos);
    EXPECT_NE(table.find("29.6 s   74.0 %"), std::string::npos) << table;
    EXPECT_NE(table.find("29.4 s   73.5 %"), std::string::npos) << table;
    EXPECT_NE(table.find("devices: uart16550 (pio) 0.3 s, 20000 exits"), std::string::npos)
        << table;
    EXPECT_NE(table.find("exits/s: 1000 (io_exits 500)"), std::string::npos) << table;
    EXPECT_NE(table.find(verdict(r)), std::string::npos);

    std::string header = renderTopHeader();
    std::string row = renderTopRow(r);
    EXPECT_TRUE(header.starts_with("NAME")) << header;
    EXPECT_EQ(header.find("VCPUS") + 5, row.find(" 1 ") + 2) << header << row;  // aligned
    EXPECT_NE(row.find("25.2"), std::string::npos) << row;  // 25.25, rounded to even
    EXPECT_NE(row.find("74.0"), std::string::npos) << row;
    EXPECT_NE(row.find("73.5"), std::string::npos) << row;
    EXPECT_NE(row.find("1000"), std::string::npos) << row;

    auto j = toJson(r);
    for (const char* key :
         {"name", "intervalNs", "vcpuCount", "vcpuTimeNs", "sinceRestart", "host", "vcpus", "guest",
          "comparison", "resources", "notes", "warnings", "verdict"})
        EXPECT_TRUE(j.contains(key)) << key;
    EXPECT_EQ(j["intervalNs"], 40 * kSecond);
    EXPECT_EQ(j["host"]["cpuNs"], 10'100 * kMs);
    EXPECT_DOUBLE_EQ(j["host"]["cpuPercent"].get<double>(), 25.25);
    EXPECT_EQ(j["host"]["runDelayNs"], 29'600 * kMs);
    EXPECT_DOUBLE_EQ(j["host"]["runDelayPercent"].get<double>(), 74.0);
    EXPECT_EQ(j["host"]["devices"][0]["name"], "uart16550");
    EXPECT_EQ(j["host"]["devices"][0]["ns"], 300 * kMs);
    EXPECT_DOUBLE_EQ(j["host"]["kvmExits"]["exits"]["perSecond"].get<double>(), 1000.0);
    EXPECT_EQ(j["vcpus"][0]["index"], 0);
    EXPECT_DOUBLE_EQ(j["guest"]["total"]["stealPercent"].get<double>(), 73.5);
    EXPECT_EQ(j["guest"]["cpus"][0]["index"], 0);
    EXPECT_DOUBLE_EQ(j["comparison"]["stealMinusRunDelayPoints"].get<double>(), -0.5);
    EXPECT_EQ(j["comparison"]["stealAgrees"], true);
    EXPECT_TRUE(j["resources"].is_null());
    EXPECT_EQ(j["verdict"], verdict(r));
    // ordered_json: the keys stay in the order written.
    EXPECT_EQ(j.begin().key(), "name");
}

TEST(IntervalReport, NamesFromTheSampleCannotDriveTheTerminal) {
    FourGuestScenario s;
    s.earlier["accounting"]["vcpus"][0]["devices"] = json::object();
    json later = s.later;
    later["accounting"]["vcpus"][0]["devices"] = {
        {"evil\x1b[2J", {{"bus", "pio"}, {"count", 1}, {"ns", 5 * kMs}}}};
    later["guest"] = {{"error", "no agent: \x1b]0;title\x07"}};
    IntervalReport r = makeIntervalReport(s.earlier, later, "name\x1b[31m");
    for (const std::string& out : {renderTable(r), renderTopRow(r), verdict(r)}) {
        EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
        EXPECT_EQ(out.find('\x07'), std::string::npos) << out;
    }
    EXPECT_NE(renderTable(r).find("evil\\x1b[2J"), std::string::npos);
}

}  // namespace
}  // namespace ingot::cli
