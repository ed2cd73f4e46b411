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
#include "boot/BootEntry.h"
#include "devices/IoBus.h"
#include "kvm/FileDescriptor.h"
#include "kvm/Kvm.h"

namespace ingot::vmm {

// What one vCPU thread counted while it ran.
struct VcpuStats {
    // KVM_RUN returns by kvm_run::exit_reason (these are the exits that reach the monitor).
    std::map<uint32_t, uint64_t> userspaceExits;
    // Port I/O exits by port: where the guest spends the monitor's time.
    std::map<uint16_t, uint64_t> pioExitsByPort;
    uint64_t mmioExits = 0;
    double threadCpuSeconds = 0;
    std::map<std::string, uint64_t> kvm;  // KVM's own counters for this vCPU
};

struct VcpuBus {
    IoBus& pio;
    IoBus& mmio;
    VmLifecycle& lifecycle;
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
    // Makes KVM_RUN return (now or at its next call) so the thread sees the stop request.
    void kick();
    void join();
    const VcpuStats& stats() const { return stats_; }

    // Installs the no-op signal handler kick() relies on; call once per process.
    static void installKickSignal();

private:
    void runLoop();
    bool handleExit();

    unsigned index_;
    VcpuBus bus_;
    FileDescriptor fd_;
    kvm_run* run_ = nullptr;
    size_t runSize_ = 0;
    SmallStackThread thread_;
    std::atomic<bool> threadStarted_{false};
    pthread_t pthread_{};
    VcpuStats stats_;
};

}  // namespace ingot::vmm
