#include "resources/Cgroup.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "../../support/TempDir.h"
#include "VmmTestSupport.h"

namespace ingot::vmm {
namespace {

using test::contains;
using test::errorFrom;

// A cgroup2 tree of plain files as the kernel would show it: a root offering cpuset, cpu,
// memory and pids, and the parent "ingot" below it, with no controllers enabled anywhere yet.
class CgroupTree : public ::testing::Test {
protected:
    void SetUp() override {
        put("cgroup.controllers", "cpuset cpu io memory pids\n");
        put("cgroup.subtree_control", "");
        put("ingot/cgroup.controllers", "cpuset cpu io memory pids\n");
        put("ingot/cgroup.subtree_control", "");
        put("ingot/cgroup.procs", "");
        put("ingot/cpuset.cpus.effective", "0-3\n");
    }

    std::string path(const std::string& relative) const { return dir_ / relative; }
    void put(const std::string& relative, const std::string& content) const {
        std::filesystem::create_directories(std::filesystem::path(path(relative)).parent_path());
        std::ofstream(path(relative), std::ios::trunc) << content;
    }
    // The file's content, or "(missing)".
    std::string get(const std::string& relative) const {
        std::ifstream in(path(relative));
        if (!in) return "(missing)";
        std::ostringstream text;
        text << in.rdbuf();
        return text.str();
    }
    bool exists(const std::string& relative) const {
        return std::filesystem::exists(path(relative));
    }
    CgroupPlace place() const {
        CgroupPlace p;
        p.root = dir_.path().string();
        p.testTree = true;
        p.procSelfCgroup = path("proc-self-cgroup");
        return p;
    }

    ingot::test::TempDir dir_;
};

ResourceLimits allLimits() {
    ResourceLimits limits;
    limits.cpuMax = parseCpuMax("50%");
    limits.cpuWeight = 200;
    limits.cpus = std::vector<unsigned>{1, 0};
    limits.memoryHigh = 1ull << 30;
    limits.memoryMax = 2ull << 30;
    return limits;
}

TEST_F(CgroupTree, CreatesTheCgroupAndWritesTheLimits) {
    VmCgroup cgroup("vm1", allLimits(), false, place());
    EXPECT_TRUE(cgroup.active());
    EXPECT_EQ(cgroup.path(), path("ingot/vm1"));
    EXPECT_TRUE(cgroup.warnings().empty());
    EXPECT_EQ(cgroup.limits(), allLimits());
    // Enabled from the root down, in one write per cgroup.
    EXPECT_EQ(get("cgroup.subtree_control"), "+cpu +cpuset +memory\n");
    EXPECT_EQ(get("ingot/cgroup.subtree_control"), "+cpu +cpuset +memory\n");
    EXPECT_EQ(get("ingot/vm1/cpu.max"), "50000 100000\n");
    EXPECT_EQ(get("ingot/vm1/cpu.weight"), "200\n");
    EXPECT_EQ(get("ingot/vm1/cpuset.cpus"), "0-1\n");
    EXPECT_EQ(get("ingot/vm1/memory.high"), "1073741824\n");
    EXPECT_EQ(get("ingot/vm1/memory.max"), "2147483648\n");
    // cgroup v2 inherits the parent's memory nodes when cpuset.mems is empty.
    EXPECT_FALSE(exists("ingot/vm1/cpuset.mems"));
    EXPECT_EQ(cgroup.remove(), "");
    EXPECT_FALSE(exists("ingot/vm1"));
    EXPECT_EQ(cgroup.remove(), "");  // idempotent
}

TEST_F(CgroupTree, EnablesOnlyTheControllersNeededAndNotYetEnabled) {
    put("cgroup.subtree_control", "cpu memory\n");
    put("ingot/cgroup.subtree_control", "cpu\n");
    ResourceLimits limits;
    limits.cpuWeight = 50;
    limits.memoryMax = 1ull << 30;
    VmCgroup cgroup("vm1", limits, false, place());
    EXPECT_EQ(get("cgroup.subtree_control"), "cpu memory\n");  // untouched
    EXPECT_EQ(get("ingot/cgroup.subtree_control"), "+memory\n");
    EXPECT_FALSE(exists("ingot/vm1/cpu.max"));
    EXPECT_FALSE(exists("ingot/vm1/cpuset.cpus"));
    EXPECT_EQ(get("ingot/vm1/cpu.weight"), "50\n");
}

TEST_F(CgroupTree, NoLimitsTouchNoController) {
    VmCgroup cgroup("vm1", ResourceLimits{}, false, place());
    EXPECT_EQ(get("cgroup.subtree_control"), "");
    EXPECT_EQ(get("ingot/cgroup.subtree_control"), "");
    EXPECT_TRUE(std::filesystem::is_directory(path("ingot/vm1")));
}

TEST_F(CgroupTree, MakesAMissingParent) {
    CgroupPlace p = place();
    p.parent = "machines/ingot";
    VmCgroup cgroup("vm1", ResourceLimits{}, false, p);
    EXPECT_EQ(cgroup.path(), path("machines/ingot/vm1"));
    EXPECT_TRUE(std::filesystem::is_directory(path("machines/ingot/vm1")));
}

TEST_F(CgroupTree, AMissingControllerIsAPlainError) {
    put("cgroup.controllers", "cpu memory pids\n");
    put("ingot/cgroup.controllers", "cpu memory pids\n");
    auto e = errorFrom([&] { VmCgroup("vm1", allLimits(), false, place()); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status(), ExitStatus::kUsage);
    EXPECT_EQ(std::string(e->what()),
              "the host has no cgroup v2 'cpuset' controller at " + dir_.path().string() +
                  " (cgroup.controllers: cpu memory pids); --cpus-on cannot be applied. Pass "
                  "--allow-missing-controllers to run without it");
    // No limit written, no cgroup left behind.
    EXPECT_FALSE(exists("ingot/vm1"));

    // Missing below the root: reported where it is missing, with every flag it affects.
    put("cgroup.controllers", "cpuset cpu memory pids\n");
    put("cgroup.subtree_control", "cpuset memory\n");
    put("ingot/cgroup.controllers", "cpuset memory pids\n");
    auto below = errorFrom([&] { VmCgroup("vm1", allLimits(), false, place()); });
    ASSERT_TRUE(below);
    EXPECT_EQ(std::string(below->what()),
              "the host has no cgroup v2 'cpu' controller at " + path("ingot") +
                  " (cgroup.controllers: cpuset memory pids); --cpu-max, --cpu-weight cannot be "
                  "applied. Pass --allow-missing-controllers to run without them");
}

TEST_F(CgroupTree, AllowedMissingControllersAreSkippedWithAWarning) {
    put("ingot/cgroup.controllers", "cpu memory pids\n");
    VmCgroup cgroup("vm1", allLimits(), true, place());
    ASSERT_EQ(cgroup.warnings().size(), 1u);
    EXPECT_EQ(cgroup.warnings()[0],
              "the host has no cgroup v2 'cpuset' controller at " + path("ingot") +
                  " (cgroup.controllers: cpu memory pids); running without --cpus-on (the vCPU "
                  "threads are still pinned to their CPUs; the monitor's other threads are not "
                  "confined to them)");
    EXPECT_EQ(get("ingot/vm1/cpu.max"), "50000 100000\n");
    EXPECT_FALSE(exists("ingot/vm1/cpuset.cpus"));
    ResourceLimits expected = allLimits();
    expected.cpus.reset();
    EXPECT_EQ(cgroup.limits(), expected);
}

TEST_F(CgroupTree, AParentWithProcessesCannotGiveControllers) {
    put("ingot/cgroup.procs", "1234\n5678\n");
    ResourceLimits limits;
    limits.cpuMax = parseCpuMax("1");
    auto e = errorFrom([&] { VmCgroup("vm1", limits, false, place()); });
    ASSERT_TRUE(e);
    EXPECT_EQ(std::string(e->what()),
              "cannot enable the cgroup v2 'cpu' controller at " + path("ingot") +
                  ": it holds processes (1234 5678), and cgroup v2 lets only a cgroup without "
                  "processes give controllers to its children; give a parent cgroup without "
                  "processes; --cpu-max cannot be applied. Pass --allow-missing-controllers to "
                  "run without it");
    EXPECT_EQ(get("ingot/cgroup.subtree_control"), "");
}

TEST_F(CgroupTree, AFailedControllerWriteNamesFileAndValue) {
    std::filesystem::remove(path("cgroup.subtree_control"));
    std::filesystem::create_directory(path("cgroup.subtree_control"));  // EISDIR on open
    ResourceLimits limits;
    limits.memoryMax = 1ull << 30;
    auto e = errorFrom([&] { VmCgroup("vm1", limits, false, place()); });
    ASSERT_TRUE(e);
    EXPECT_TRUE(contains(e->what(), "cannot enable the cgroup v2 'memory' controller at " +
                                        dir_.path().string() + ": cannot write '+memory' to " +
                                        path("cgroup.subtree_control") + ": Is a directory"))
        << e->what();
    EXPECT_TRUE(contains(e->what(), "--memory-max cannot be applied")) << e->what();
}

TEST_F(CgroupTree, UpdatesALiveCgroup) {
    ResourceLimits start;
    start.cpuMax = parseCpuMax("50%");
    VmCgroup cgroup("vm1", start, false, place());
    EXPECT_EQ(get("cgroup.subtree_control"), "+cpu\n");

    ResourceLimits update;
    update.cpuMax = parseCpuMax("max");
    update.memoryMax = 1ull << 30;
    update.memoryHigh = kUnlimited;
    EXPECT_TRUE(cgroup.apply(update).empty());
    EXPECT_EQ(get("cgroup.subtree_control"), "+memory\n");
    EXPECT_EQ(get("ingot/cgroup.subtree_control"), "+memory\n");
    EXPECT_EQ(get("ingot/vm1/cpu.max"), "max 100000\n");
    EXPECT_EQ(get("ingot/vm1/memory.high"), "max\n");
    EXPECT_EQ(get("ingot/vm1/memory.max"), "1073741824\n");
    EXPECT_EQ(cgroup.limits(), merged(start, update));

    // Removing what was never set needs no controller and writes nothing.
    ResourceLimits removal;
    removal.cpus = std::vector<unsigned>{};
    EXPECT_TRUE(cgroup.apply(removal).empty());
    EXPECT_FALSE(exists("ingot/vm1/cpuset.cpus"));
    EXPECT_EQ(get("cgroup.subtree_control"), "+memory\n");

    // Dedicated CPUs, then none again: the empty value gives the parent's CPUs back.
    ResourceLimits cpus;
    cpus.cpus = std::vector<unsigned>{3, 2};
    cgroup.apply(cpus);
    EXPECT_EQ(get("ingot/vm1/cpuset.cpus"), "2-3\n");
    cgroup.apply(removal);
    EXPECT_EQ(get("ingot/vm1/cpuset.cpus"), "\n");
    EXPECT_EQ(cgroup.limits().cpus, std::vector<unsigned>{});
}

TEST_F(CgroupTree, CpusOutsideTheParentAreRefused) {
    ResourceLimits limits;
    limits.cpus = std::vector<unsigned>{2, 5};
    auto e = errorFrom([&] { VmCgroup("vm1", limits, false, place()); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status(), ExitStatus::kUsage);
    EXPECT_EQ(std::string(e->what()),
              "--cpus-on 2,5: host CPU 5 is not available in " + path("ingot") +
                  " (cpuset.cpus.effective: 0-3; offline CPUs are not listed)");
    EXPECT_FALSE(exists("ingot/vm1"));

    // An unreadable effective list leaves the check to the kernel.
    put("ingot/cpuset.cpus.effective", "garbage\n");
    VmCgroup cgroup("vm1", limits, false, place());
    EXPECT_EQ(get("ingot/vm1/cpuset.cpus"), "2,5\n");
}

TEST_F(CgroupTree, AFailedLimitWriteNamesFileAndValueAndKeepsEarlierWrites) {
    VmCgroup cgroup("vm1", ResourceLimits{}, false, place());
    std::filesystem::create_directory(path("ingot/vm1/cpu.weight"));
    ResourceLimits update;
    update.cpuMax = parseCpuMax("2");
    update.cpuWeight = 300;
    auto e = errorFrom([&] { cgroup.apply(update); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status(), ExitStatus::kUsage);
    EXPECT_EQ(std::string(e->what()),
              "cannot write '300' to " + path("ingot/vm1/cpu.weight") + ": Is a directory");
    EXPECT_EQ(get("ingot/vm1/cpu.max"), "200000 100000\n");
    EXPECT_EQ(cgroup.limits().cpuMax, parseCpuMax("2"));
    EXPECT_EQ(cgroup.limits().cpuWeight, std::nullopt);
}

TEST_F(CgroupTree, RemovesAStaleCgroupOfTheSameName) {
    put("ingot/vm1/cpu.max", "10000 100000\n");
    put("ingot/vm1/memory.max", "123456789\n");
    put("ingot/vm1/cgroup.procs", "");
    ResourceLimits limits;
    limits.cpuWeight = 10;
    VmCgroup cgroup("vm1", limits, false, place());
    EXPECT_FALSE(exists("ingot/vm1/cpu.max"));  // the old limits are gone with it
    EXPECT_FALSE(exists("ingot/vm1/memory.max"));
    EXPECT_EQ(get("ingot/vm1/cpu.weight"), "10\n");
}

TEST_F(CgroupTree, ACgroupWithProcessesIsNotStale) {
    put("ingot/vm1/cgroup.procs", "4242\n");
    auto e = errorFrom([&] { VmCgroup("vm1", ResourceLimits{}, false, place()); });
    ASSERT_TRUE(e);
    EXPECT_EQ(std::string(e->what()), "the cgroup " + path("ingot/vm1") +
                                          " already holds processes (4242): is VM 'vm1' running?");
    EXPECT_EQ(get("ingot/vm1/cgroup.procs"), "4242\n");

    put("ingot/vm2", "");  // a plain file where the cgroup would go
    auto file = errorFrom([&] { VmCgroup("vm2", ResourceLimits{}, false, place()); });
    EXPECT_TRUE(contains(file->what(), "exists and is not a cgroup"));
}

TEST_F(CgroupTree, RefusesNamesThatAreNotOneDirectory) {
    for (const char* name : {"", "a/b", "..", ".", "x..y", "../vm", "vm\n", "tab\tname"}) {
        auto e = errorFrom([&] { VmCgroup(name, ResourceLimits{}, false, place()); });
        ASSERT_TRUE(e) << name;
        EXPECT_EQ(e->status(), ExitStatus::kUsage);
        EXPECT_TRUE(contains(e->what(), "cannot name a cgroup")) << e->what();
    }
    EXPECT_EQ(dir_.list(), (std::vector<std::string>{"cgroup.controllers",
                                                     "cgroup.subtree_control", "ingot"}));
    EXPECT_FALSE(exists("ingot/vm"));
    for (const char* parent : {"/abs", "a/../b", "a//b", "./a", "a/"}) {
        CgroupPlace p = place();
        p.parent = parent;
        auto e = errorFrom([&] { VmCgroup("vm", ResourceLimits{}, false, p); });
        ASSERT_TRUE(e) << parent;
        EXPECT_TRUE(contains(e->what(), "must be a path below the cgroup root")) << e->what();
    }
}

TEST_F(CgroupTree, EntersAndGoesBackToWhereItCameFromBeforeRemoval) {
    put("proc-self-cgroup", "1:name=systemd:/old\n0::/user.slice/session-1.scope\n");
    std::filesystem::create_directories(path("user.slice/session-1.scope"));
    const std::string self = std::to_string(::getpid());
    {
        VmCgroup cgroup("vm1", ResourceLimits{}, false, place());
        cgroup.enter(::getpid());
        EXPECT_EQ(get("ingot/vm1/cgroup.procs"), self + "\n");
        EXPECT_EQ(cgroup.remove(), "");
        EXPECT_EQ(get("user.slice/session-1.scope/cgroup.procs"), self + "\n");
        EXPECT_FALSE(exists("ingot/vm1"));
    }
    {
        // Another process: nothing to go back to. The destructor removes the cgroup.
        VmCgroup cgroup("vm2", ResourceLimits{}, false, place());
        cgroup.enter(1);
        EXPECT_EQ(get("ingot/vm2/cgroup.procs"), "1\n");
    }
    EXPECT_FALSE(exists("ingot/vm2"));

    // A move back that fails is reported; the cgroup is still removed here (a test tree holds
    // no process), and on a real host the next VM of that name removes it.
    put("proc-self-cgroup", "0::/gone\n");
    VmCgroup cgroup("vm3", ResourceLimits{}, false, place());
    cgroup.enter(::getpid());
    EXPECT_TRUE(contains(cgroup.remove(), "cannot move the monitor back to its cgroup: cannot "
                                          "write '" + self + "' to " + path("gone/cgroup.procs")));
}

TEST(Cgroup, NoCgroup2IsAPlainErrorUnlessAllowed) {
    ingot::test::TempDir dir;  // a temporary directory: whatever it is, not cgroup2
    CgroupPlace place;
    place.root = dir.path().string();
    ResourceLimits limits;
    limits.cpuMax = parseCpuMax("50%");
    limits.cpus = std::vector<unsigned>{0};
    auto e = errorFrom([&] { VmCgroup("vm1", limits, false, place); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status(), ExitStatus::kUsage);
    EXPECT_TRUE(contains(e->what(), "the host has no cgroup v2 at " + place.root + " (")) << e->what();
    EXPECT_TRUE(contains(e->what(), "); --cpu-max, --cpus-on cannot be applied. Pass "
                                    "--allow-missing-controllers to run without them"))
        << e->what();

    VmCgroup cgroup("vm1", limits, true, place);
    EXPECT_FALSE(cgroup.active());
    ASSERT_EQ(cgroup.warnings().size(), 1u);
    EXPECT_TRUE(contains(cgroup.warnings()[0], "; running without --cpu-max, --cpus-on (the vCPU "
                                               "threads are still pinned"));
    ResourceLimits update;
    update.memoryMax = 1ull << 30;
    auto warnings = cgroup.apply(update);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_EQ(warnings[0], "the host has no cgroup v2 at " + place.root +
                               "; running without --memory-max");
    cgroup.enter(::getpid());
    EXPECT_EQ(toJson(cgroup.stats()).dump(), R"({"cpu":{},"memory":{"events":{}},"limits":{}})");
    EXPECT_EQ(cgroup.remove(), "");
    EXPECT_TRUE(dir.list().empty());
}

TEST(Cgroup, StatsReadGoodAndHostileFiles) {
    ingot::test::TempDir dir;
    auto put = [&](const std::string& name, const std::string& content) {
        std::ofstream(dir / name) << content;
    };
    put("cpu.stat",
        "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 2\n"
        "throttled_usec 7\nnr_bursts 0\nburst_usec 0\n");
    put("memory.current", "1048576\n");
    put("memory.peak", "2097152\n");
    put("memory.events", "low 0\nhigh 5\nmax 1\noom 0\noom_kill 0\noom_group_kill 0\n");
    put("cpu.max", "50000 100000\n");
    put("cpu.weight", "100\n");
    put("cpuset.cpus", "2-3\n");
    put("memory.high", "max\n");
    put("memory.max", "1073741824\n");
    CgroupStats s = readCgroupStats(dir.path().string());
    EXPECT_EQ(toJson(s).dump(),
              R"({"cpu":{"usageUs":1500,"userUs":1000,"systemUs":500,"periods":10,)"
              R"("throttledPeriods":2,"throttledUs":7},"memory":{"currentBytes":1048576,)"
              R"("peakBytes":2097152,"events":{"low":0,"high":5,"max":1,"oom":0,"oomKill":0}},)"
              R"("limits":{"cpuMax":{"quotaUs":50000,"periodUs":100000},"cpuWeight":100,)"
              R"("cpus":[2,3],"memoryHighBytes":"max","memoryMaxBytes":1073741824}})");

    // Hostile: duplicates, garbage, negative numbers, no newline, a missing file, a file far
    // too long, a FIFO (which must not block the reader).
    put("cpu.stat",
        "usage_usec 1500\nusage_usec 1600\nuser_usec -1\nsystem_usec 12abc\nnr_periods\n"
        "garbage line here\n\n\n nr_throttled 3\nthrottled_usec 18446744073709551616\n" +
            std::string(3, '\0'));
    std::filesystem::remove(dir / "memory.current");
    put("memory.peak", std::string(100000, '7'));
    std::filesystem::remove(dir / "memory.events");
    ASSERT_EQ(::mkfifo((dir / "memory.events").c_str(), 0600), 0);
    put("cpu.max", "lots\n");
    put("cpu.weight", "");
    put("cpuset.cpus", "3-1\n");
    put("memory.high", "\n\n");
    put("memory.max", "12");
    CgroupStats bad = readCgroupStats(dir.path().string());
    EXPECT_EQ(toJson(bad).dump(),
              R"({"cpu":{},"memory":{"events":{}},"limits":{"memoryMaxBytes":12}})");

    CgroupStats none = readCgroupStats((dir / "nowhere"));
    EXPECT_EQ(toJson(none).dump(), R"({"cpu":{},"memory":{"events":{}},"limits":{}})");
}

// A thread that tells its id and waits until released.
class ParkedThread {
public:
    ParkedThread()
        : thread_([this] {
              tid_.set_value(static_cast<pid_t>(::syscall(SYS_gettid)));
              release_.get_future().wait();
          }) {}
    ~ParkedThread() {
        release_.set_value();
        thread_.join();
    }
    pid_t tid() { return tidFuture_.get(); }

private:
    std::promise<pid_t> tid_;
    std::future<pid_t> tidFuture_ = tid_.get_future();
    std::promise<void> release_;
    std::thread thread_;
};

std::vector<unsigned> affinityOf(pid_t tid) {
    cpu_set_t set;
    CPU_ZERO(&set);
    EXPECT_EQ(::sched_getaffinity(tid, sizeof set, &set), 0);
    std::vector<unsigned> cpus;
    for (unsigned cpu = 0; cpu < CPU_SETSIZE; ++cpu)
        if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    return cpus;
}

TEST(Cgroup, PinsThreadsRoundRobinAndUnpins) {
    const std::vector<unsigned> allowed = affinityOf(0);
    ASSERT_FALSE(allowed.empty());
    const unsigned first = allowed.front();
    const unsigned last = allowed.back();
    ParkedThread a, b, c;
    const std::vector<pid_t> tids = {a.tid(), b.tid(), c.tid()};

    pinThreads(tids, {first, last});
    EXPECT_EQ(affinityOf(tids[0]), std::vector<unsigned>{first});
    EXPECT_EQ(affinityOf(tids[1]), std::vector<unsigned>{last});
    EXPECT_EQ(affinityOf(tids[2]), std::vector<unsigned>{first});  // fewer CPUs: shared

    pinThreads(tids, {});
    for (pid_t tid : tids) {
        // Every CPU the process may use (the kernel narrows "all" to its cpuset).
        auto now = affinityOf(tid);
        for (unsigned cpu : allowed)
            EXPECT_NE(std::find(now.begin(), now.end(), cpu), now.end()) << cpu;
    }

    auto e = errorFrom([&] { pinThreads({tids[0]}, {1023}); });
    ASSERT_TRUE(e);
    if (std::find(allowed.begin(), allowed.end(), 1023u) == allowed.end()) {
        EXPECT_EQ(e->status(), ExitStatus::kUsage);
        EXPECT_TRUE(contains(e->what(), "cannot pin thread " + std::to_string(tids[0]) +
                                            " to host CPU 1023 (offline, or outside the CPUs "
                                            "this process's cpuset allows): Invalid argument"))
            << e->what();
    }
}

TEST_F(CgroupTree, VcpuPinsFollowTheDedicatedCpus) {
    const std::vector<unsigned> allowed = affinityOf(0);
    const unsigned first = allowed.front();
    put("ingot/cpuset.cpus.effective", formatCpuList(allowed) + "\n");
    ParkedThread vcpu0, vcpu1;
    const std::vector<pid_t> tids = {vcpu0.tid(), vcpu1.tid()};

    ResourceLimits limits;
    limits.cpus = std::vector<unsigned>{first};
    VmCgroup cgroup("vm1", limits, false, place());
    cgroup.pinVcpus(tids);
    EXPECT_EQ(affinityOf(tids[0]), std::vector<unsigned>{first});
    EXPECT_EQ(affinityOf(tids[1]), std::vector<unsigned>{first});

    ResourceLimits any;
    any.cpus = std::vector<unsigned>{};
    cgroup.apply(any);
    EXPECT_GE(affinityOf(tids[0]).size(), allowed.size());
    EXPECT_EQ(get("ingot/vm1/cpuset.cpus"), "\n");

    // With the cpuset controller missing and allowed, the pins still follow the request.
    put("ingot/cgroup.controllers", "cpu memory\n");
    VmCgroup without("vm2", limits, true, place());
    EXPECT_EQ(without.warnings().size(), 1u);
    without.pinVcpus(tids);
    EXPECT_EQ(affinityOf(tids[1]), std::vector<unsigned>{first});
    without.apply(any);
    EXPECT_GE(affinityOf(tids[1]).size(), allowed.size());
}

}  // namespace
}  // namespace ingot::vmm
