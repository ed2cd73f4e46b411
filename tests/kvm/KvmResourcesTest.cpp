// Time truth and resource control against real KVM and the kernel's cgroup v2 (in the rig):
// guests each spinning on their vCPU, their monitors confined and weighted through cgroups,
// their intervals re-assembled from the monitor's accounting and the guest's own /proc/stat
// (read through the agent channel), and host memory taken back with the balloon.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "IntervalReport.h"
#include "LiveMonitor.h"
#include "VmmProcess.h"
#include "ingot/core/LineSocket.h"

using ingot::testing::LiveMonitor;
using ingot::testing::requireEnv;
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

// One spinning guest with its control socket.
struct Guest {
    std::string name;
    std::string socket;
    std::unique_ptr<LiveMonitor> monitor;
};

json ask(const Guest& g, const json& request) {
    int fd = ingot::connectUnixSocket(g.socket);
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    ingot::writeAllBefore(fd, request.dump() + "\n", deadline);
    std::string buffer;
    auto line = ingot::readLine(fd, buffer, 8 << 20, deadline);
    close(fd);
    if (!line) return json{{"error", "hung up"}};
    return json::parse(*line);
}

Guest startGuest(const std::string& name, const std::string& action,
                 const std::vector<std::string>& extra, const std::string& memory = "256M") {
    Guest g{name, "@ingot-test-" + name + "-" + std::to_string(getpid()), nullptr};
    std::vector<std::string> argv{requireEnv("INGOT_VMM"), "--kernel", requireEnv("INGOT_TEST_KERNEL"),
                                  "--initrd", requireEnv("INGOT_TEST_INITRD"), "--cmdline",
                                  "console=ttyS0 quiet ingot.test=" + action, "--cpus", "1",
                                  "--memory", memory, "--agent", "--control", g.socket};
    argv.insert(argv.end(), extra.begin(), extra.end());
    g.monitor = std::make_unique<LiveMonitor>(argv);
    return g;
}

// Boots each guest to its prompt, then starts every guest's loop at once.
void startSpinning(const std::vector<Guest*>& guests) {
    for (Guest* g : guests)
        ASSERT_TRUE(g->monitor->waitFor("INGOT-READY", 400)) << g->name << ": " << g->monitor->output();
    for (Guest* g : guests) g->monitor->type("go\n");
    for (Guest* g : guests)
        ASSERT_TRUE(g->monitor->waitFor("INGOT-SPINNING", 60)) << g->name << ": " << g->monitor->output();
}

// Waits until the guest's agent answers (its view is in the sample).
bool agentAnswers(const Guest& g, double seconds) {
    const auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
        json s = ask(g, {{"op", "stats"}});
        if (s.contains("guest") && s["guest"].contains("procStat")) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return false;
}

// Busy and total jiffies of one host CPU, from the rig's own /proc/stat.
std::pair<uint64_t, uint64_t> hostCpuJiffies(unsigned cpu) {
    std::ifstream f("/proc/stat");
    std::string line;
    const std::string want = "cpu" + std::to_string(cpu) + " ";
    while (std::getline(f, line)) {
        if (line.rfind(want, 0) != 0) continue;
        std::istringstream in(line.substr(want.size()));
        std::vector<uint64_t> v;
        for (uint64_t x; in >> x;) v.push_back(x);
        uint64_t total = 0;
        for (size_t i = 0; i < v.size() && i < 8; ++i) total += v[i];
        return {total - v[3] - v[4], total};
    }
    return {0, 0};
}

struct Measured {
    ingot::cli::IntervalReport report;
    double runPercent = 0, waitPercent = 0, stealPercent = -1;
};

// Samples every guest, waits `seconds`, samples again: one report each.
std::vector<Measured> measure(const std::vector<Guest*>& guests, double seconds) {
    std::vector<json> before;
    for (Guest* g : guests) before.push_back(ask(*g, {{"op", "stats"}}));
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    std::vector<Measured> out;
    for (size_t i = 0; i < guests.size(); ++i) {
        json after = ask(*guests[i], {{"op", "stats"}});
        Measured m{ingot::cli::makeIntervalReport(before[i], after, guests[i]->name)};
        const double whole = static_cast<double>(m.report.vcpuTimeNs);
        m.runPercent = 100.0 * static_cast<double>(m.report.host.cpuNs) / whole;
        m.waitPercent = 100.0 * static_cast<double>(m.report.host.runDelayNs.value_or(0)) / whole;
        if (!m.report.guest.unavailable && m.report.guest.total.stealNs &&
            m.report.guest.total.wholeNs > 0)
            m.stealPercent = 100.0 * static_cast<double>(*m.report.guest.total.stealNs) /
                             static_cast<double>(m.report.guest.total.wholeNs);
        out.push_back(std::move(m));
    }
    return out;
}

std::string describe(const std::vector<Measured>& ms) {
    std::string text;
    for (const auto& m : ms) text += ingot::cli::verdict(m.report) + "\n";
    return text;
}

}  // namespace

// The seed's scenario: four guests, each a CPU-bound loop, all on one host CPU. Each ran about
// a quarter of the interval and waited the rest; together they kept the CPU busy; and each
// guest's own steal column tells it what the host's run delay says.
TEST(KvmResources, FourGuestsOnOneCpuReassembleTheInterval) {
    std::vector<Guest> guests;
    for (int i = 0; i < 4; ++i)
        guests.push_back(startGuest("spin" + std::to_string(i), "spin", {"--cpus-on", "0"}));
    std::vector<Guest*> all;
    for (auto& g : guests) all.push_back(&g);
    ASSERT_NO_FATAL_FAILURE(startSpinning(all));
    for (auto& g : guests) ASSERT_TRUE(agentAnswers(g, 120)) << g.monitor->output();
    const auto cpuBefore = hostCpuJiffies(0);
    auto ms = measure(all, 10);
    const auto cpuAfter = hostCpuJiffies(0);
    const double hostBusy = 100.0 * static_cast<double>(cpuAfter.first - cpuBefore.first) /
                            static_cast<double>(cpuAfter.second - cpuBefore.second);
    // The figures, for the log: a pass says nothing about how close it was.
    std::cout << describe(ms) << "host CPU 0 busy " << hostBusy << " %\n";
    double sumRun = 0;
    for (const auto& m : ms) {
        SCOPED_TRACE(describe(ms));
        EXPECT_NEAR(m.runPercent, 25, 5);
        EXPECT_NEAR(m.waitPercent, 75, 5);
        ASSERT_GE(m.stealPercent, 0) << m.report.guest.unavailable.value_or("");
        EXPECT_NEAR(m.stealPercent, m.waitPercent, 5);
        sumRun += m.runPercent;
    }
    // The four shares add up to the host CPU's busy time.
    EXPECT_NEAR(sumRun, hostBusy, 5) << describe(ms);
    for (auto& g : guests) g.monitor->signal(SIGTERM);
    for (auto& g : guests) EXPECT_EQ(g.monitor->finish(60), 0) << g.monitor->output();
}

// cpu.weight 3:1 on a shared CPU, a dedicated CPU with no wait, and cpu.max halved on a running
// VM through the control socket.
TEST(KvmResources, WeightsDedicatedCpusAndCpuMaxUpdates) {
    Guest heavy = startGuest("heavy", "spin", {"--cpus-on", "0", "--cpu-weight", "300"});
    Guest light = startGuest("light", "spin", {"--cpus-on", "0", "--cpu-weight", "100"});
    Guest alone = startGuest("alone", "spin", {"--cpus-on", "1"});
    ASSERT_NO_FATAL_FAILURE(startSpinning({&heavy, &light, &alone}));
    for (Guest* g : {&heavy, &light, &alone})
        ASSERT_TRUE(agentAnswers(*g, 120)) << g->monitor->output();
    auto first = measure({&heavy, &light, &alone}, 8);
    SCOPED_TRACE(describe(first));
    std::cout << describe(first);
    EXPECT_NEAR(first[0].runPercent, 75, 5);
    EXPECT_NEAR(first[1].runPercent, 25, 5);
    EXPECT_GT(first[2].runPercent, 90);
    EXPECT_LT(first[2].waitPercent, 5);

    json answer = ask(alone, {{"op", "update"}, {"cpuMax", "50%"}});
    ASSERT_FALSE(answer.contains("error")) << answer.dump();
    auto half = measure({&alone}, 8);
    EXPECT_NEAR(half[0].runPercent, 50, 5) << describe(half);
    std::cout << describe(half);
    answer = ask(alone, {{"op", "update"}, {"cpuMax", "25%"}});
    ASSERT_FALSE(answer.contains("error")) << answer.dump();
    auto quarter = measure({&alone}, 8);
    EXPECT_NEAR(quarter[0].runPercent, 25, 5) << describe(quarter);
    // Throttled time counts as run delay (the thread stays queued on its throttled run queue),
    // so the guest sees it as steal too; the cgroup's throttling figures say why.
    EXPECT_NEAR(quarter[0].waitPercent, 75, 5) << describe(quarter);
    EXPECT_NEAR(quarter[0].stealPercent, quarter[0].waitPercent, 5) << describe(quarter);
    EXPECT_GT(quarter[0].report.resources.throttledPeriods.value_or(0), 0u) << describe(quarter);
    EXPECT_NEAR(100.0 * static_cast<double>(quarter[0].report.resources.throttledNs.value_or(0)) /
                    static_cast<double>(quarter[0].report.vcpuTimeNs),
                quarter[0].waitPercent, 5)
        << describe(quarter);

    for (Guest* g : {&heavy, &light, &alone}) g->monitor->signal(SIGTERM);
    for (Guest* g : {&heavy, &light, &alone}) EXPECT_EQ(g->monitor->finish(60), 0);
}

uint64_t residentBytes(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
    return 0;
}

// The balloon takes 256 MiB back from a guest that had touched 384 MiB: the monitor's resident
// memory falls by about that and the guest stays up. A memory.max below what the VM uses is
// refused with the figures, not written to let the kernel kill the VM.
TEST(KvmResources, BalloonGivesMemoryBackAndMemoryMaxBelowUseIsRefused) {
    Guest g = startGuest("balloon", "fill", {"--balloon"}, "512M");
    ASSERT_TRUE(g.monitor->waitFor("INGOT-FILLED", 240)) << g.monitor->output();
    ASSERT_TRUE(agentAnswers(g, 120)) << g.monitor->output();
    const uint64_t before = residentBytes(g.monitor->pid());
    EXPECT_GT(before, 320ull << 20);

    json answer = ask(g, {{"op", "update"}, {"balloon", "256M"}});
    if (answer.contains("error")) g.monitor->finish(10);
    ASSERT_FALSE(answer.contains("error")) << answer.dump() << g.monitor->output();
    // The driver inflates in batches of 256 pages; wait for all of it.
    json sample;
    const auto end = Clock::now() + std::chrono::seconds(120);
    do {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        sample = ask(g, {{"op", "stats"}});
    } while (Clock::now() < end &&
             sample["resources"]["balloon"].value("actualBytes", uint64_t{0}) < (256ull << 20));
    EXPECT_EQ(sample["resources"]["balloon"].value("actualBytes", uint64_t{0}), 256ull << 20)
        << sample["resources"].dump();
    const uint64_t after = residentBytes(g.monitor->pid());
    EXPECT_GT(before - std::min(before, after), 200ull << 20)
        << "resident " << (before >> 20) << " MiB before, " << (after >> 20) << " MiB after";
    // Still up: its agent answers after the balloon took the memory.
    EXPECT_TRUE(agentAnswers(g, 30));

    answer = ask(g, {{"op", "update"}, {"memoryMax", "64M"}});
    ASSERT_TRUE(answer.contains("error")) << answer.dump();
    EXPECT_NE(answer["error"].get<std::string>().find("memory.max"), std::string::npos)
        << answer.dump();

    // Deflating gives the guest its memory back.
    answer = ask(g, {{"op", "update"}, {"balloon", "0"}});
    ASSERT_FALSE(answer.contains("error")) << answer.dump();
    const std::string cgroup =
        "/sys/fs/cgroup/ingot/ingot-vmm-" + std::to_string(g.monitor->pid());
    EXPECT_TRUE(std::filesystem::is_directory(cgroup));
    g.monitor->signal(SIGTERM);
    EXPECT_EQ(g.monitor->finish(60), 0) << g.monitor->output();
    // The monitor removed its cgroup on the way out, and said nothing about it.
    EXPECT_FALSE(std::filesystem::exists(cgroup)) << g.monitor->output();
    EXPECT_EQ(g.monitor->output().find("cannot remove cgroup"), std::string::npos)
        << g.monitor->output();
}

// A VM whose memory.max is below its working set: the monitor says so on its output while the
// kernel reclaims, before the kernel's OOM killer ends it; nothing is silently swallowed.
TEST(KvmResources, MemoryMaxBelowTheWorkingSetIsReported) {
    Guest g = startGuest("tight", "fill", {"--memory-max", "160M"}, "512M");
    EXPECT_FALSE(g.monitor->waitFor("INGOT-FILLED", 240));
    g.monitor->finish(60);
    EXPECT_NE(g.monitor->output().find("memory.max"), std::string::npos) << g.monitor->output();
}
