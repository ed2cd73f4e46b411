#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "GuestProcStat.h"

namespace ingot::cli {

// `ingot stats` and `ingot top`: what one VM did between two samples, seen from the host (the
// monitor's accounting, docs/vmm.md "Accounting"), from its cgroup and from inside the guest
// (its /proc/stat), and whether the two views agree.
//
// A sample is one document from the monitor's control socket:
//   {"accounting": {...},                       the monitor's accountingJson()
//    "guest": {"procStat": "...", "uptime": "..."} or {"error": "..."},  optional
//    "resources": {"cgroup": {...}, "limits": {...}, "balloon": {...}}}  optional, partial
// where "cgroup" is the monitor's cgroup document (vmm/resources/Cgroup.h: "cpu", "memory").
//
// Every time is in nanoseconds. A figure that is nullopt is unavailable (its source is missing
// on this host or in the sample), which the output says rather than printing 0.

struct DeviceInterval {
    std::string name;
    std::string bus;
    uint64_t count = 0;
    uint64_t ns = 0;
};

struct ExitInterval {
    uint64_t count = 0;
    uint64_t ns = 0;
};

// One vCPU (or the VM, summed over its vCPUs) over the interval.
struct HostInterval {
    std::optional<unsigned> vcpu;  // nullopt: the whole VM
    uint64_t cpuNs = 0;            // running: guest mode, KVM's exit handling, the monitor
    std::optional<uint64_t> guestNs;
    uint64_t monitorNs = 0;
    uint64_t deviceNs = 0;
    std::optional<uint64_t> runDelayNs;  // runnable, waiting for a host CPU
    std::optional<uint64_t> haltWaitNs;
    std::optional<uint64_t> haltPollNs;
    std::vector<DeviceInterval> devices;  // most time first
    std::map<std::string, ExitInterval> monitorExits;
    std::optional<std::map<std::string, uint64_t>> kvmExits;  // KVM's counters by cause
};

// The guest's /proc/stat columns over the interval, in nanoseconds (USER_HZ ticks converted).
struct GuestInterval {
    uint64_t cpuTimeNs = 0;           // every column but guest/guest_nice: the guest's CPU-seconds
    // What the guest's percentages are of: its uptime's advance × its CPUs, or cpuTimeNs when
    // the sample has no uptime (IntervalReport.cpp says why the columns fall short of it).
    uint64_t wholeNs = 0;
    uint64_t busyNs = 0;              // user + nice + system + irq + softirq
    uint64_t idleNs = 0;              // idle + iowait
    std::optional<uint64_t> stealNs;  // nullopt: the guest's kernel has no steal column
};

struct GuestView {
    std::optional<std::string> unavailable;  // why there is no guest view, in plain words
    std::optional<std::string> note;         // a caveat that does not void the view
    unsigned onlineCpus = 0;                 // cpuN lines in the later sample
    std::optional<uint64_t> uptimeNs;        // the guest's own clock over the interval
    GuestInterval total;
    std::map<unsigned, GuestInterval> cpus;  // by the guest's CPU number, = the vCPU index
};

struct Comparison {
    // Percentage points: guest steal % of its CPU-seconds minus the host's run delay % of the
    // interval's vCPU-seconds. nullopt when either side is unavailable.
    std::optional<double> stealMinusRunDelayPoints;
    double agreementPoints = 0;  // how far apart they may be and still agree
    std::optional<bool> stealAgrees;
    // The guest's busy % minus the host's guest-mode %: the guest also counts as busy the
    // time its vCPU spent in KVM and the monitor handling its exits.
    std::optional<double> busyMinusGuestModePoints;
};

struct ResourceView {
    bool present = false;
    std::optional<uint64_t> cgroupCpuNs;         // cpu.stat usage_usec in the interval
    std::optional<uint64_t> throttledPeriods;    // cpu.stat nr_throttled in the interval
    std::optional<uint64_t> throttledNs;         // cpu.stat throttled_usec in the interval
    std::optional<uint64_t> memoryCurrentBytes;  // at the later sample
    std::optional<uint64_t> memoryMaxHits;       // memory.events max in the interval
    std::optional<uint64_t> memoryHighHits;      // memory.events high in the interval
    std::optional<uint64_t> oomKills;            // memory.events oom_kill in the interval
    // The same two counters since the cgroup was made (the later sample): loud even when the
    // interval's share is unknown.
    std::optional<uint64_t> memoryMaxHitsSinceStart;
    std::optional<uint64_t> oomKillsSinceStart;
    std::optional<uint64_t> balloonTargetBytes;
    std::optional<uint64_t> balloonActualBytes;
    nlohmann::json limits;  // as the monitor gave them (later sample), null when absent
};

struct IntervalReport {
    std::string vmName;
    uint64_t intervalNs = 0;  // wall time between the samples
    unsigned vcpuCount = 0;   // vCPUs in both samples: the ones counted
    uint64_t vcpuTimeNs = 0;  // intervalNs × vcpuCount: what host percentages are of
    // The monitor restarted between the samples (its counters went back): the figures then
    // cover the time since its start, as the later sample alone tells.
    bool sinceRestart = false;
    HostInterval host;
    std::vector<HostInterval> vcpus;
    ResourceView resources;
    GuestView guest;
    Comparison comparison;
    std::vector<std::string> notes;     // caveats, in plain words
    std::vector<std::string> warnings;  // memory limit hit, OOM kills: to be shown loudly
};

// Throws ingot::Error naming the field when a sample is not a sample document. What the guest
// wrote never throws: a guest view that does not parse becomes `guest.unavailable`.
IntervalReport makeIntervalReport(const nlohmann::json& earlier, const nlohmann::json& later,
                                  const std::string& vmName);

// Share of `part` in `whole`, in percent; nullopt when either is unavailable or whole is 0.
std::optional<double> percentOf(std::optional<uint64_t> part, uint64_t whole);

// One sentence in plain words: where the VM's time went, and what the guest saw.
std::string verdict(const IntervalReport& report);

// `ingot stats`: the host's view next to the guest's, per vCPU, resources, warnings, verdict.
std::string renderTable(const IntervalReport& report);

// `ingot top`: one line per VM under a header.
std::string renderTopHeader();
std::string renderTopRow(const IntervalReport& report);

// `--json`: every figure in ns and percent; unavailable figures are null.
nlohmann::ordered_json toJson(const IntervalReport& report);

}  // namespace ingot::cli
