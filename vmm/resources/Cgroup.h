#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "resources/ResourceLimits.h"

namespace ingot::vmm {

// Where VM cgroups are made. Injectable so that tests can point it at a tree of plain files.
struct CgroupPlace {
    std::string root = "/sys/fs/cgroup";  // a cgroup2 mount
    // Relative to `root`, made when missing; "" puts VMs right under the root. It must be a
    // cgroup without processes (cgroup v2 lets only those give controllers to children), and
    // the user must be able to write it: root, or a subtree delegated to the user.
    std::string parent = "ingot";
    // A test tree of plain files instead of cgroupfs: the root is not checked for cgroup2,
    // writes create their files, and removing a cgroup first removes its files (cgroupfs's
    // interface files come and go with the directory; plain files do not).
    bool testTree = false;
    // Where the monitor's own cgroup is read from when it moves itself in, so that it can move
    // back before removing the VM's cgroup.
    std::string procSelfCgroup = "/proc/self/cgroup";
};

// What a VM's cgroup reports: cpu.stat, memory.current, memory.peak, memory.events and the
// limits in force read back from their files. A figure is absent when its file is missing
// (controller not enabled, memory.peak before Linux 5.19) or does not parse, never wrong.
struct CgroupStats {
    std::optional<uint64_t> cpuUsageUs, cpuUserUs, cpuSystemUs;  // cpu.stat, always there
    std::optional<uint64_t> cpuPeriods, cpuThrottledPeriods, cpuThrottledUs;  // with cpu.max
    std::optional<uint64_t> memoryCurrentBytes, memoryPeakBytes;
    // memory.events: times the cgroup went below memory.low (unused here), was throttled at
    // memory.high, hit memory.max, ran out of memory, and had a process OOM-killed.
    std::optional<uint64_t> memoryLowEvents, memoryHighEvents, memoryMaxEvents, memoryOomEvents,
        memoryOomKillEvents;
    ResourceLimits limits;
};

// Reads the figures of the cgroup directory `dir`. Safe from any thread: it only reads files.
CgroupStats readCgroupStats(const std::string& dir);

// {"cpu": {"usageUs", "userUs", "systemUs", "periods", "throttledPeriods", "throttledUs"},
//  "memory": {"currentBytes", "peakBytes", "events": {"low", "high", "max", "oom",
//  "oomKill"}}, "limits": {…}}, with only the figures present.
nlohmann::ordered_json toJson(const CgroupStats& stats);

// Pins thread tids[i] to host CPU cpus[i % cpus.size()]: one to one with at least as many CPUs
// as threads, shared round-robin with fewer. Empty `cpus` unpins: every CPU is allowed, which
// the kernel narrows to what the thread's cpuset allows. Needs no cgroup, so the vCPUs keep
// their dedicated CPUs on a host without the cpuset controller. Throws ingot::Error naming the
// thread and the CPU.
void pinThreads(const std::vector<pid_t>& tids, const std::vector<unsigned>& cpus);

// One VM's cgroup, <root>/<parent>/<vm name>, from creation to removal.
//
// Construction enables the controllers the limits need in every cgroup from the root down to
// the parent (only where they are not enabled yet, so a delegated subtree works without
// touching what is above it), removes a stale cgroup of the same name left by a killed monitor,
// creates the VM's cgroup and writes the limits. A controller the host lacks (or that cannot be
// enabled: permission, processes in an ancestor) is an ingot::Error (kUsage) saying why and
// naming the flags it affects, unless `allowMissing`: then that limit is skipped and
// warnings() says so. Without cgroup v2 at the root at all, `allowMissing` gives an inactive
// object whose calls do nothing but pin threads.
//
// cpuset.mems is never written: in cgroup v2 an empty one means the parent's memory nodes
// (v1 refused tasks in a cpuset without mems; v2 does not), and writing it would migrate the
// guest's memory between nodes.
//
// apply() and pinVcpus() must not overlap (one control thread); stats() may run alongside.
class VmCgroup {
public:
    VmCgroup(const std::string& vmName, const ResourceLimits& limits, bool allowMissing,
             CgroupPlace place = {});
    // Removes the cgroup as remove() does, quietly.
    ~VmCgroup();
    VmCgroup(const VmCgroup&) = delete;
    VmCgroup& operator=(const VmCgroup&) = delete;

    bool active() const { return !path_.empty(); }
    const std::string& path() const { return path_; }
    // Why limits were skipped at creation (with `allowMissing`).
    const std::vector<std::string>& warnings() const { return warnings_; }
    // The limits written to the cgroup so far (skipped ones are not).
    const ResourceLimits& limits() const { return inForce_; }

    // Moves process `pid` (all its threads) in through cgroup.procs. For the monitor's own
    // process it first notes the cgroup it leaves, to go back there in remove().
    void enter(pid_t pid);

    // The vCPU threads, pinned now to the dedicated CPUs if there are any and again whenever an
    // update changes them (a write to cpuset.cpus resets the affinity of every thread in the
    // cgroup, so pins must follow it).
    void pinVcpus(std::vector<pid_t> tids);

    // Changes the limits of the running VM: every field `update` gives, "max" and "any"
    // removing a limit. Controllers are checked before anything is written; a write that fails
    // throws ingot::Error naming the file and the value, and the writes before it stay in force
    // (limits() says which). Returns warnings for limits skipped with `allowMissing`.
    std::vector<std::string> apply(const ResourceLimits& update);

    CgroupStats stats() const;

    // Enables `controllers` for the VM's cgroup without setting any limit, for their figures
    // (cpu.stat's throttling, memory.current and memory.events from the first page). Returns
    // those that could not be enabled, each with why; never throws for them.
    std::vector<std::pair<std::string, std::string>> enableForFigures(
        const std::set<std::string>& controllers);

    // Moves the monitor back to the cgroup it came from (if it entered itself) and removes the
    // VM's cgroup. Returns what went wrong, or "": a cgroup left behind is removed by the next
    // VmCgroup of that name. Idempotent.
    std::string remove();

private:
    std::optional<std::string> writeFile(const std::string& path, const std::string& value) const;
    void writeLimit(const std::string& file, const std::string& value) const;
    // The controllers of `needed` that could not be made available, each with why.
    std::vector<std::pair<std::string, std::string>> enableControllers(
        const std::set<std::string>& needed);
    void checkCpusAvailable(const std::vector<unsigned>& cpus) const;
    bool removeDirectory(const std::string& dir) const;

    CgroupPlace place_;
    bool allowMissing_;
    std::vector<std::string> levels_;  // the root, then each cgroup down to the parent
    std::string path_;                 // "" when inactive
    std::string origin_;               // the cgroup the monitor came from
    std::set<std::string> enabled_;    // controllers known to be available to path_
    ResourceLimits requested_;
    ResourceLimits inForce_;
    std::vector<pid_t> vcpuTids_;
    std::vector<std::string> warnings_;
    bool removed_ = false;
};

}  // namespace ingot::vmm
