#pragma once

#include <linux/kvm.h>
#include <pthread.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "GuestMemory.h"
#include "SmallStackThread.h"
#include "VmLifecycle.h"
#include "accounting/VcpuAccounting.h"
#include "boot/BootEntry.h"
#include "devices/IoBus.h"
#include "kvm/FileDescriptor.h"
#include "kvm/Kvm.h"
#include "kvm/KvmStats.h"

namespace ingot::vmm {

// What one vCPU thread counted while it ran, complete once it has been joined. (The exits by
// reason and device are in its accounting, which can be read while it runs.)
struct VcpuStats {
    // Port I/O exits by port: where the guest spends the monitor's time.
    std::map<uint16_t, uint64_t> pioExitsByPort;
    double threadCpuSeconds = 0;
    std::map<std::string, uint64_t> kvm;  // KVM's own counters for this vCPU
};

struct VcpuBus {
    IoBus& pio;
    IoBus& mmio;
    VmLifecycle& lifecycle;
    // False (`--no-accounting`) skips the per-exit timing, so bench/accounting can measure
    // what it costs.
    bool timeExits = true;
};

// One vCPU: its KVM file descriptor, the shared kvm_run page, and the thread that runs it.
class Vcpu {
public:
    Vcpu(const KvmSystem& kvm, KvmVm& vm, unsigned index, VcpuBus bus);
    ~Vcpu();
    Vcpu(const Vcpu&) = delete;
    Vcpu& operator=(const Vcpu&) = delete;

    unsigned index() const { return index_; }
    void setCpuid(const std::vector<kvm_cpuid_entry2>& entries);
    // MSRs, FPU and the local APIC's LINT0/LINT1 wiring, for every vCPU.
    void configureCommon();
    // Registers for the boot vCPU; the others wait for INIT/SIPI from the guest.
    void configureBoot(GuestMemory& memory, const BootEntry& entry);

    void start();
    // The vCPU thread's kernel id, 0 until it has started: what cgroup and affinity calls take.
    pid_t tid() const { return tid_.load(std::memory_order_acquire); }
    // Makes KVM_RUN return (now or at its next call) so the thread sees the stop request.
    void kick();
    void join();
    const VcpuStats& stats() const { return stats_; }
    // The accounting figures from the thread's start until now (or its end): any thread, any
    // time.
    VcpuFigures accounting() const { return accounting_.figures(index_, kvmStats_.read()); }

    // Installs the no-op signal handler kick() relies on; call once per process.
    static void installKickSignal();
    // The signal kick() sends: a real-time one, leaving SIGUSR1 to the monitor's operator.
    static int kickSignal();

private:
    void runLoop();
    // Handles the exit in kvm_run; names the device it went to, if any, for the accounting.
    bool handleExit(VcpuAccounting::DeviceRef& device);

    unsigned index_;
    VcpuBus bus_;
    FileDescriptor fd_;
    kvm_run* run_ = nullptr;
    size_t runSize_ = 0;
    SmallStackThread thread_;
    std::atomic<bool> threadStarted_{false};
    std::atomic<pid_t> tid_{0};
    pthread_t pthread_{};
    VcpuStats stats_;
    // Opened before the thread starts: KVM_GET_STATS_FD waits for a vCPU to leave KVM_RUN.
    KvmStatsFile kvmStats_;
    VcpuAccounting accounting_;
};

}  // namespace ingot::vmm
