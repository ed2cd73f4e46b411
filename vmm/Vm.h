#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "GuestMemory.h"
#include "Vcpu.h"
#include "VmConfig.h"
#include "VmLifecycle.h"
#include "acpi/AcpiTables.h"
#include "devices/BootProgress.h"
#include "devices/IoBus.h"
#include "devices/legacy/I8042.h"
#include "devices/legacy/Uart16550.h"
#include "devices/virtio/RawFileBackend.h"
#include "devices/virtio/VirtioBalloon.h"
#include "devices/virtio/VirtioBlk.h"
#include "devices/virtio/VirtioConsole.h"
#include "devices/virtio/VirtioMmioTransport.h"
#include "devices/virtio/VirtioNet.h"
#include "devices/virtio/VirtioRng.h"
#include "devices/virtio/VirtioWorker.h"
#include "kvm/Kvm.h"

namespace ingot::vmm {

// One virtual machine: KVM objects, guest memory, the device buses and the vCPUs. Built
// completely (kernel loaded, tables written) by the constructor; `run` starts the vCPUs and
// returns when the guest stops.
class Vm {
public:
    explicit Vm(const VmConfig& config);
    ~Vm();

    // Runs until poweroff, reboot, debug exit, a crash or requestStop; returns the exit status
    // of the monitor (DESIGN.md, "Exit status").
    // `started` runs once the vCPU threads are started (the monitor pins them then).
    int run(const std::function<void()>& started = {});
    VmLifecycle& lifecycle() { return lifecycle_; }
    Uart16550& console() { return *uart_; }
    // Asks the guest to shut down the way a person at its keyboard would: Ctrl+Alt+Del. False
    // when the guest has no keyboard driver listening (yet), so the request went nowhere.
    bool requestGuestShutdown() { return i8042_->pressCtrlAltDel(); }
    // The stats document `--stats-json` writes at exit.
    std::string statsJson() const;
    // The accounting while the VM runs (what SIGUSR1 writes to `--stats-json`): any thread, any
    // time; two of them give the figures for the interval between.
    std::string accountingJson() const;
    // The same as a document, for the control socket.
    nlohmann::ordered_json accountingDocument() const;
    // The guest agent's channel and the balloon, when configured (--agent, --balloon).
    virtio::VirtioConsole* agent() { return agent_.get(); }
    virtio::VirtioBalloon* balloon() { return balloon_.get(); }
    const VmConfig& config() const { return config_; }
    // The vCPU threads' kernel ids, in vCPU order (0 for one not started yet).
    std::vector<pid_t> vcpuThreadIds() const;

private:
    // A virtio-mmio device with its transport and worker thread. Declared last, the worker is
    // destroyed (stopped) first, before the transport it calls into.
    struct VirtioSlot {
        virtio::BlockBackend* backend = nullptr;  // owned by blk
        std::shared_ptr<virtio::VirtioBlk> blk;   // null for other devices
        std::shared_ptr<virtio::VirtioNet> net;   // likewise
        size_t configIndex = 0;                   // its --disk or --net, in order
        std::shared_ptr<virtio::VirtioMmioTransport> transport;
        std::unique_ptr<virtio::VirtioWorker> worker;
    };

    void loadBootImage();
    void openDisks();
    void openNets();
    void addVirtioDevices(acpi::AcpiLayout& acpiLayout);
    AccountingSnapshot accountingSnapshot() const;

    VmConfig config_;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point end_;
    // Memory first and KVM last: bad flags and bad kernels are reported (exit status 2) before
    // the monitor needs /dev/kvm (exit status 4).
    GuestMemory memory_;
    std::unique_ptr<KvmSystem> kvm_;
    std::unique_ptr<KvmVm> vm_;
    VmLifecycle lifecycle_;
    IoBus pio_;
    IoBus mmio_;
    std::vector<std::unique_ptr<InterruptLine>> irqLines_;
    std::shared_ptr<Uart16550> uart_;
    std::shared_ptr<I8042> i8042_;
    std::shared_ptr<BootProgress> bootProgress_;
    // Opened before KVM so a bad --disk is a usage error (2), not hidden behind no KVM (4).
    std::vector<std::unique_ptr<virtio::BlockBackend>> diskBackends_;
    std::shared_ptr<virtio::VirtioRng> rng_;
    std::shared_ptr<virtio::VirtioConsole> agent_;
    std::shared_ptr<virtio::VirtioBalloon> balloon_;
    // Taps are opened before KVM too, for the same reason.
    std::vector<std::unique_ptr<virtio::NetBackend>> netBackends_;
    // Declared after everything the devices use (memory, VM, buses), so they are destroyed, and
    // their workers stopped, before any of it.
    std::vector<VirtioSlot> virtio_;
    std::vector<std::unique_ptr<Vcpu>> vcpus_;
    std::map<std::string, uint64_t> vmKvmStats_;
    BootEntry entry_{};
};

}  // namespace ingot::vmm
