#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ingot::vmm {

// The accounting figures (docs/vmm.md, "Accounting"): the arithmetic from raw readings to
// figures and the JSON document, in one place. Every time is in nanoseconds.

struct ExitFigure {
    uint64_t count = 0;
    uint64_t ns = 0;
};

struct DeviceFigure {
    std::string bus;  // "pio" or "mmio"
    ExitFigure exits;
};

// Cumulative readings of one vCPU thread at one instant.
struct VcpuSample {
    uint64_t monotonicNs = 0;            // CLOCK_MONOTONIC
    uint64_t cpuNs = 0;                  // the thread's CPU clock
    std::optional<uint64_t> runDelayNs;  // schedstat, field 2
    std::optional<uint64_t> guestTicks;  // stat, field 43
};

// The monitor's own counters of one vCPU, by name.
struct VcpuExitCounts {
    std::map<std::string, ExitFigure> byReason;      // every exit that reached the monitor
    std::map<std::string, DeviceFigure> byDevice;    // its port I/O and MMIO exits
};

// What one vCPU (or, summed, the VM) did between two samples.
struct VcpuFigures {
    unsigned index = 0;
    uint64_t wallNs = 0;
    uint64_t cpuNs = 0;
    uint64_t guestNs = 0;
    uint64_t monitorNs = 0;
    uint64_t deviceNs = 0;
    uint64_t runDelayNs = 0;
    uint64_t haltWaitNs = 0;
    uint64_t haltPollNs = 0;
    std::map<std::string, ExitFigure> monitorExits;
    std::map<std::string, DeviceFigure> devices;
    std::map<std::string, uint64_t> kvmExits;
    // Figures left at 0 because their source is missing on this host.
    std::set<std::string> unavailable;
};

// Figures from the samples at the vCPU thread's start and now, the monitor's counters and
// KVM's binary statistics of the vCPU (cumulative since its creation, before which it never
// ran). `ticksPerSecond` is the unit of guest_time (sysconf(_SC_CLK_TCK)).
VcpuFigures vcpuFigures(unsigned index, const VcpuSample& start, const VcpuSample& now,
                        const VcpuExitCounts& counts, const std::map<std::string, uint64_t>& kvm,
                        long ticksPerSecond);

// The VM's totals: every figure summed over the vCPUs, devices and exits merged by name.
VcpuFigures sumFigures(const std::vector<VcpuFigures>& vcpus);

// `ticks` clock ticks in nanoseconds, without overflow for any tick count a thread can reach.
uint64_t ticksToNs(uint64_t ticks, long ticksPerSecond);

struct AccountingSnapshot {
    uint64_t snapshotMonotonicNs = 0;
    uint64_t wallNs = 0;  // since the monitor started
    long ticksPerSecond = 100;
    std::vector<VcpuFigures> vcpus;
};

// The "accounting" object of the stats document.
nlohmann::ordered_json accountingJson(const AccountingSnapshot& snapshot);

// kvm_run's exit_reason as the stats document names it ("io", "mmio", …; "reason-N" for others).
std::string exitReasonName(uint32_t reason);

// KVM's binary statistics that count exits by cause (those present are reported).
const std::vector<std::string_view>& kvmExitCounterNames();

}  // namespace ingot::vmm
