#pragma once

#include <time.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "AccountingReport.h"
#include "ExitCounter.h"
#include "ThreadProcStats.h"

namespace ingot::vmm {

// The always-on accounting of one vCPU (docs/vmm.md, "Accounting"). The vCPU thread times each
// exit that reaches the monitor with two CLOCK_MONOTONIC reads and adds it to per-reason and
// per-device counters that only it writes; any thread can take `figures` at any time, reading
// those counters with relaxed atomics and the kernel's per-thread figures from /proc.
class VcpuAccounting {
public:
    // KVM_EXIT_* reasons get a counter each; any later reason shares the last one.
    static constexpr size_t kReasonSlots = 64;
    enum class Bus : uint8_t { kNone, kPio, kMmio };
    // The device an exit went to: a range number of its bus (IoBus::Claim::range), or none for
    // an address no device claims.
    struct DeviceRef {
        Bus bus = Bus::kNone;
        std::optional<size_t> range;
    };

    // The device name of each range of the two buses (IoBus::rangeNames), fixed for the VM's
    // life: the buses are filled before any vCPU exists.
    VcpuAccounting(std::vector<std::string> pioNames, std::vector<std::string> mmioNames);
    VcpuAccounting(const VcpuAccounting&) = delete;
    VcpuAccounting& operator=(const VcpuAccounting&) = delete;

    // The exit path, on the vCPU thread.
    static uint64_t monotonicNs() {
        timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
    }
    void recordExit(uint32_t reason, const DeviceRef& device, uint64_t ns) {
        reasons_[reason < kReasonSlots ? reason : kReasonSlots - 1].add(ns);
        if (device.bus == Bus::kNone) return;
        const auto& names = device.bus == Bus::kPio ? pioNames_ : mmioNames_;
        ExitCounter* slots = device.bus == Bus::kPio ? pio_.get() : mmio_.get();
        // The last slot is the bus's "unclaimed" one.
        size_t slot = device.range && *device.range < names.size() ? *device.range : names.size();
        slots[slot].add(ns);
    }

    // On the vCPU thread: first thing, and last thing before it ends. After `threadFinished`
    // the figures stay at its readings.
    void threadStarted();
    void threadFinished();

    // Any thread, any time: the figures from the thread's start until now (or its end). `kvm`
    // is KVM's binary statistics of this vCPU.
    VcpuFigures figures(unsigned index, const std::map<std::string, uint64_t>& kvm) const;
    // The monitor's own counters alone.
    VcpuExitCounts exitCounts() const;

private:
    VcpuSample sample() const;

    std::vector<std::string> pioNames_;
    std::vector<std::string> mmioNames_;
    std::array<ExitCounter, kReasonSlots> reasons_;
    std::unique_ptr<ExitCounter[]> pio_;   // pioNames_.size() + 1
    std::unique_ptr<ExitCounter[]> mmio_;  // mmioNames_.size() + 1
    long ticksPerSecond_;

    // Set by the vCPU thread before `started_`/`finished_` publish them (release), read after.
    std::unique_ptr<ThreadProcStats> proc_;
    clockid_t cpuClock_{};
    VcpuSample start_;
    VcpuSample end_;
    std::atomic<bool> started_{false};
    std::atomic<bool> finished_{false};
};

}  // namespace ingot::vmm
