#include "Vm.h"

#include <unistd.h>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "acpi/AcpiTables.h"
#include "boot/LinuxBoot.h"
#include "boot/ResetVector.h"
#include "boot/PvhBoot.h"
#include "boot/X86Layout.h"
#include "devices/DebugExit.h"
#include "devices/PvPanic.h"
#include "devices/legacy/I8042.h"
#include "devices/virtio/Qcow2OverlayDisk.h"
#include "devices/virtio/TapDevice.h"
#include "devices/virtio/VerifiedBaseDisk.h"
#include "devices/virtio/VirtioRng.h"
#include "ingot/sign/Minisign.h"
#include "devices/power/AcpiPowerControl.h"
#include "devices/virtio/VirtioMmioSlots.h"
#include "devices/virtio/VirtioSpec.h"
#include "ingot/core/Error.h"
#include "ingot/core/File.h"
#include "kvm/Cpuid.h"
#include "kvm/KvmInterruptLine.h"
#include "kvm/KvmIrqFd.h"
#include "kvm/KvmStats.h"

namespace ingot::vmm {

namespace {

void writeAllToStdout(std::span<const uint8_t> bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::write(STDOUT_FILENO, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // a closed stdout must not stop the guest
        done += static_cast<size_t>(n);
    }
}

}  // namespace

Vm::Vm(const VmConfig& config)
    : config_(config),
      start_(std::chrono::steady_clock::now()),
      memory_(config.memoryBytes) {
    if (config_.cpus == 0 || config_.cpus > kMaxCpus)
        throw Error("--cpus " + std::to_string(config_.cpus) + " is out of range 1.." +
                        std::to_string(kMaxCpus),
                    ExitStatus::kUsage);
    const size_t devices = config_.disks.size() + config_.nets.size() +
                           (config_.rngBytesPerSecond ? 1 : 0) + (config_.agent ? 1 : 0) +
                           (config_.balloon ? 1 : 0);
    if (devices > virtio::kMaxVirtioMmioDevices)
        throw Error(std::to_string(devices) +
                        " virtio devices (--disk, --net, --rng, --agent and --balloon): at most " +
                        std::to_string(virtio::kMaxVirtioMmioDevices),
                    ExitStatus::kUsage);
    loadBootImage();
    openDisks();
    openNets();

    const char* device = std::getenv("INGOT_KVM_DEVICE");
    kvm_ = std::make_unique<KvmSystem>(device && *device ? device : "/dev/kvm");
    vm_ = std::make_unique<KvmVm>(*kvm_);
    uint32_t slot = 0;
    for (const auto& region : memory_.regions())
        vm_->setUserMemoryRegion(slot++, region.gpa, region.size, region.host);
    vm_->createIrqchip();
    vm_->createPit();
    // virtio GSIs reach only the IOAPIC. A hardware-reduced ACPI guest never programs the PIC,
    // which KVM resets with vector base 0: an edge latched there (ingot-fw uses a disk with
    // interrupts off, then starts Linux) came out as exception vector 5 the moment Linux
    // enabled interrupts, and killed the boot.
    vm_->setPcGsiRouting(layout::kVirtioFirstGsi);

    auto com1Irq = std::make_unique<KvmInterruptLine>(*vm_, layout::kCom1Irq);
    uart_ = std::make_shared<Uart16550>(com1Irq.get(), writeAllToStdout);
    irqLines_.push_back(std::move(com1Irq));
    pio_.add(layout::kCom1Port, 8, uart_);
    auto keyboardIrq = std::make_unique<KvmInterruptLine>(*vm_, layout::kKeyboardIrq);
    i8042_ = std::make_shared<I8042>(lifecycle_, keyboardIrq.get());
    irqLines_.push_back(std::move(keyboardIrq));
    pio_.add(layout::kI8042DataPort, 5, i8042_);
    pio_.add(layout::kDebugExitPort, 1, std::make_shared<DebugExit>(lifecycle_));
    bootProgress_ = std::make_shared<BootProgress>(start_);
    pio_.add(layout::kBootProgressPort, 4, bootProgress_);
    pio_.add(layout::kPvPanicPort, 1, std::make_shared<PvPanic>(lifecycle_));

    acpi::AcpiLayout acpiLayout;
    acpiLayout.cpuCount = config_.cpus;
    acpiLayout.pvpanicPort = layout::kPvPanicPort;
    addVirtioDevices(acpiLayout);
    pio_.add(layout::kSleepControlPort, 8,
             std::make_shared<AcpiPowerControl>(lifecycle_, acpiLayout.s5SleepType,
                                                acpiLayout.resetValue));
    acpi::writeAcpiTables(memory_, acpiLayout);
    writeResetVectorStub(memory_);

    Vcpu::installKickSignal();
    auto supported = kvm_->supportedCpuid();
    for (unsigned i = 0; i < config_.cpus; ++i) {
        auto vcpu = std::make_unique<Vcpu>(*kvm_, *vm_, i,
                                           VcpuBus{pio_, mmio_, lifecycle_, config_.timeExits});
        vcpu->setCpuid(filterCpuid(supported, {i, config_.cpus}));
        vcpu->configureCommon();
        if (i == 0) vcpu->configureBoot(memory_, entry_);
        vcpus_.push_back(std::move(vcpu));
    }
    lifecycle_.setKick([this] {
        for (auto& v : vcpus_) v->kick();
    });
}

Vm::~Vm() {
    lifecycle_.requestStop(StopReason::kError, 5, "monitor shutting down");
    for (auto& v : vcpus_) v->join();
    for (auto& slot : virtio_) slot.transport->device().log().flushSuppressed();
}

void Vm::openDisks() {
    std::vector<sign::MinisignPublicKey> keys;
    for (const auto& disk : config_.disks) {
        if (!disk.verified) {
            diskBackends_.push_back(virtio::RawFileBackend::open(disk.path, disk.readOnly));
            continue;
        }
        if (keys.empty()) {
            if (config_.trustedKeys.empty())
                throw Error("--disk " + disk.path +
                                ": a verified disk (verified or overlay=) needs --trust KEY.pub, "
                                "the minisign key that signed the image",
                            ExitStatus::kUsage);
            for (const auto& path : config_.trustedKeys)
                keys.push_back(sign::readPublicKeyFile(path));
        }
        auto base = virtio::VerifiedBaseDisk::open(disk.path, keys);
        if (disk.overlay.empty())
            diskBackends_.push_back(std::move(base));
        else
            diskBackends_.push_back(
                virtio::Qcow2OverlayDisk::open(disk.overlay, disk.path, std::move(base)));
    }
}

void Vm::openNets() {
    for (const auto& net : config_.nets) netBackends_.push_back(virtio::TapDevice::open(net.tap));
}

void Vm::addVirtioDevices(acpi::AcpiLayout& acpiLayout) {
    if (diskBackends_.empty() && netBackends_.empty() && !config_.rngBytesPerSecond &&
        !config_.agent && !config_.balloon)
        return;
    for (auto [cap, name] : {std::pair{KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
                             std::pair{KVM_CAP_IRQFD, "KVM_CAP_IRQFD"}}) {
        if (!kvm_->hasExtension(cap))
            throw Error(std::string("this KVM lacks ") + name +
                            ", which ingot-vmm's virtio devices need (kernel too old?)",
                        ExitStatus::kNoKvm);
    }
    // Disks first, in --disk order (ingot-fw and the guest's vda, vdb… follow it), then the
    // entropy device, then network cards in --net order (eth0, eth1…), then the agent's
    // console and the balloon (last, so they move no other device's address).
    auto attach = [&](std::shared_ptr<virtio::VirtioDevice> device, const std::string& shortName,
                      VirtioSlot slot) {
        auto slotLayout = virtio::virtioMmioSlot(static_cast<unsigned>(virtio_.size()));
        slot.transport = std::make_shared<virtio::VirtioMmioTransport>(
            memory_, std::move(device), std::make_unique<KvmIrqFd>(*vm_, slotLayout.gsi));
        slot.worker = std::make_unique<virtio::VirtioWorker>(*slot.transport, shortName);
        for (unsigned q = 0; q < slot.transport->queueCount(); ++q)
            vm_->addIoEventFd(slotLayout.base + virtio::mmio::kQueueNotify, 4, q,
                              slot.worker->queueEventFd(q));
        slot.transport->setNotifyHandler(
            [worker = slot.worker.get()](unsigned q) { worker->notify(q); });
        mmio_.add(slotLayout.base, slotLayout.size, slot.transport);
        acpiLayout.virtioMmio.push_back(slotLayout);
        virtio_.push_back(std::move(slot));
    };
    for (unsigned i = 0; i < diskBackends_.size(); ++i) {
        const auto& disk = config_.disks[i];
        std::string shortName = "virtio-blk" + std::to_string(i);
        // GET_ID, the guest's /sys/block/vdX/serial: the image's file name tells disks apart.
        std::string id = disk.path.substr(disk.path.find_last_of('/') + 1);
        VirtioSlot slot;
        slot.configIndex = i;
        slot.backend = diskBackends_[i].get();
        slot.blk = std::make_shared<virtio::VirtioBlk>(
            shortName + " (" + disk.path + ")", std::move(diskBackends_[i]), id,
            virtio::RateLimiter(virtio::RateLimit{disk.bytesPerSecond, disk.opsPerSecond}));
        // A copy first: the order in which arguments are built is unspecified, and the slot is
        // moved into the call.
        std::shared_ptr<virtio::VirtioDevice> device = slot.blk;
        attach(std::move(device), shortName, std::move(slot));
    }
    if (config_.rngBytesPerSecond) {
        rng_ = std::make_shared<virtio::VirtioRng>("virtio-rng", config_.rngBytesPerSecond);
        attach(rng_, "virtio-rng", VirtioSlot{});
    }
    for (unsigned i = 0; i < netBackends_.size(); ++i) {
        const auto& net = config_.nets[i];
        std::string shortName = "virtio-net" + std::to_string(i);
        VirtioSlot slot;
        slot.configIndex = i;
        slot.net = std::make_shared<virtio::VirtioNet>(
            shortName + " (tap " + net.tap + ")", std::move(netBackends_[i]), net.mac,
            virtio::RateLimiter(
                virtio::RateLimit{net.receiveBytesPerSecond, net.receiveFramesPerSecond}),
            virtio::RateLimiter(virtio::RateLimit{net.sendBytesPerSecond, net.sendFramesPerSecond}));
        std::shared_ptr<virtio::VirtioDevice> device = slot.net;  // see the disks' note
        attach(std::move(device), shortName, std::move(slot));
    }
    if (config_.agent) {
        agent_ = std::make_shared<virtio::VirtioConsole>("virtio-console (agent)");
        attach(agent_, "virtio-console", VirtioSlot{});
    }
    if (config_.balloon) {
        balloon_ = std::make_shared<virtio::VirtioBalloon>("virtio-balloon", memory_);
        attach(balloon_, "virtio-balloon", VirtioSlot{});
    }
    diskBackends_.clear();
    netBackends_.clear();
}

void Vm::loadBootImage() {
    std::vector<uint8_t> initrd;
    if (!config_.initrd.empty()) initrd = readWholeFile(config_.initrd, "initrd");
    if (!config_.firmware.empty()) {
        auto fw = readWholeFile(config_.firmware, "firmware", 64ull << 20);
        // The firmware finds its devices on its command line, as under QEMU's microvm; Linux
        // kernels booted directly find them in the DSDT instead (a kernel with
        // CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES would register each twice).
        std::string cmdline = config_.cmdline;
        for (unsigned i = 0; i < config_.disks.size(); ++i) {
            // Two appends, not `" " + word`: GCC 12 at -O3 warns (-Wrestrict) on the temporary.
            cmdline += ' ';
            cmdline += virtio::virtioMmioCmdlineParameter(virtio::virtioMmioSlot(i));
        }
        PvhBootInputs in{fw, "firmware " + config_.firmware, cmdline, {}, acpi::kRsdpAddress};
        if (!initrd.empty()) in.modules.push_back({initrd, {}});
        entry_ = loadPvhElf(memory_, in);
        return;
    }
    if (config_.kernel.empty())
        throw Error("nothing to boot: give --kernel or --firmware", ExitStatus::kUsage);
    auto kernel = readWholeFile(config_.kernel, "kernel", 512ull << 20);
    if (looksLikeBzImage(kernel)) {
        entry_ = loadLinuxBzImage(memory_, {kernel, config_.kernel, initrd, config_.cmdline,
                                            acpi::kRsdpAddress});
    } else {
        PvhBootInputs in{kernel, "kernel " + config_.kernel, config_.cmdline, {}, acpi::kRsdpAddress};
        if (!initrd.empty()) in.modules.push_back({initrd, {}});
        entry_ = loadPvhElf(memory_, in);
    }
}

int Vm::run(const std::function<void()>& started) {
    for (auto& v : vcpus_) v->start();
    if (started) started();
    lifecycle_.waitForStop();
    for (auto& v : vcpus_) v->join();
    end_ = std::chrono::steady_clock::now();
    vmKvmStats_ = readKvmStats(vm_->fd());
    return lifecycle_.exitStatus();
}

AccountingSnapshot Vm::accountingSnapshot() const {
    AccountingSnapshot s;
    for (const auto& v : vcpus_) s.vcpus.push_back(v->accounting());
    // Taken after the vCPUs' readings, so the snapshot's time is the latest of them and no
    // vCPU's wall time exceeds the VM's.
    s.snapshotMonotonicNs = VcpuAccounting::monotonicNs();
    const auto startNs = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(start_.time_since_epoch()).count());
    s.wallNs = s.snapshotMonotonicNs > startNs ? s.snapshotMonotonicNs - startNs : 0;
    s.ticksPerSecond = ::sysconf(_SC_CLK_TCK);
    return s;
}

std::vector<pid_t> Vm::vcpuThreadIds() const {
    std::vector<pid_t> ids;
    for (const auto& v : vcpus_) ids.push_back(v->tid());
    return ids;
}

std::string Vm::accountingJson() const { return accountingDocument().dump(2) + "\n"; }

nlohmann::ordered_json Vm::accountingDocument() const {
    nlohmann::ordered_json doc;
    doc["stopReason"] = stopReasonName(lifecycle_.reason());
    doc["monotonicStartNs"] =
        std::chrono::duration_cast<std::chrono::nanoseconds>(start_.time_since_epoch()).count();
    doc["cpus"] = config_.cpus;
    doc["memoryBytes"] = config_.memoryBytes;
    doc["accounting"] = vmm::accountingJson(accountingSnapshot());
    if (!config_.timeExits) doc["accounting"]["exitsTimed"] = false;
    return doc;
}

std::string Vm::statsJson() const {
    using nlohmann::ordered_json;
    ordered_json doc;
    doc["stopReason"] = stopReasonName(lifecycle_.reason());
    doc["detail"] = lifecycle_.detail();
    doc["exitStatus"] = lifecycle_.exitStatus();
    doc["wallSeconds"] = std::chrono::duration<double>(end_ - start_).count();
    // The boot-progress times count from here; this places them on the host's CLOCK_MONOTONIC
    // (steady_clock's clock), so a caller can line them up with its own (bench/run does).
    doc["monotonicStartNs"] =
        std::chrono::duration_cast<std::chrono::nanoseconds>(start_.time_since_epoch()).count();
    doc["cpus"] = config_.cpus;
    doc["memoryBytes"] = config_.memoryBytes;

    // KVM's own counters summed over vCPUs: every exit, including those the kernel handled.
    std::map<std::string, uint64_t> kvmTotals;
    std::map<std::string, uint64_t> userspace;
    std::map<uint16_t, uint64_t> ports;
    ordered_json vcpus = ordered_json::array();
    const auto accounting = accountingSnapshot();
    for (size_t i = 0; i < vcpus_.size(); ++i) {
        const auto& v = vcpus_[i];
        const auto& s = v->stats();
        for (const auto& [name, value] : s.kvm) kvmTotals[name] += value;
        for (const auto& [name, e] : accounting.vcpus[i].monitorExits) userspace[name] += e.count;
        for (const auto& [port, count] : s.pioExitsByPort) ports[port] += count;
        vcpus.push_back({{"index", v->index()},
                         {"threadCpuSeconds", s.threadCpuSeconds},
                         {"exits", s.kvm.count("exits") ? s.kvm.at("exits") : 0}});
    }
    ordered_json exits;
    exits["total"] = kvmTotals.count("exits") ? kvmTotals["exits"] : 0;
    ordered_json byReason;
    for (auto name : kvmExitCounterNames()) {
        std::string k(name);
        if (k != "exits" && kvmTotals.count(k)) byReason[k] = kvmTotals[k];
    }
    exits["byReason"] = byReason;
    exits["toMonitor"] = userspace;
    ordered_json portJson;
    for (const auto& [port, count] : ports) {
        char name[8];
        std::snprintf(name, sizeof name, "0x%x", port);
        portJson[name] = count;
    }
    exits["pioByPort"] = portJson;
    exits["kvm"] = kvmTotals;
    doc["exits"] = exits;
    doc["vmKvmStats"] = vmKvmStats_;

    ordered_json progress = ordered_json::array();
    for (const auto& e : bootProgress_->events()) {
        ordered_json item{{"code", e.code}, {"seconds", e.nanoseconds / 1e9}};
        if (const char* n = BootProgress::codeName(e.code)) item["name"] = n;
        progress.push_back(item);
    }
    doc["bootProgress"] = progress;
    if (auto measurement = bootProgress_->measurement()) doc["measurement"] = *measurement;
    doc["vcpus"] = vcpus;
    ordered_json disks = ordered_json::array();
    for (const auto& slot : virtio_) {
        if (!slot.blk) continue;
        const auto s = slot.blk->stats();
        const auto& disk = config_.disks[slot.configIndex];
        disks.push_back({{"path", disk.path},
                         {"readOnly", disk.readOnly},
                         {"verified", disk.verified},
                         {"overlay", disk.overlay},
                         {"requests", s.requests},
                         {"bytesRead", s.bytesRead},
                         {"bytesWritten", s.bytesWritten},
                         {"flushes", s.flushes},
                         {"errors", s.errors},
                         {"discards", s.discards},
                         {"writeZeroes", s.writeZeroes},
                         {"throttled", s.throttled}});
        disks.back()["refusedChains"] = slot.transport->refusedChains();
        disks.back()["needsResets"] = slot.transport->needsResets();
        disks.back()["complaints"] = slot.blk->log().total();
        for (const auto& [name, value] : slot.backend->counters()) disks.back()[name] = value;
    }
    doc["disks"] = disks;
    if (rng_) doc["rng"] = {{"bytes", rng_->bytesServed()}};
    ordered_json nets = ordered_json::array();
    for (const auto& slot : virtio_) {
        if (!slot.net) continue;
        const auto s = slot.net->stats();
        char mac[18];
        const auto& m = slot.net->mac();
        std::snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
                      m[4], m[5]);
        nets.push_back({{"tap", config_.nets[slot.configIndex].tap},
                        {"mac", mac},
                        {"receivedFrames", s.receivedFrames},
                        {"receivedBytes", s.receivedBytes},
                        {"sentFrames", s.sentFrames},
                        {"sentBytes", s.sentBytes},
                        {"receiveDropped", s.receiveDropped},
                        {"sendDropped", s.sendDropped},
                        {"refusedChains", s.refusedChains + slot.transport->refusedChains()},
                        {"needsResets", slot.transport->needsResets()},
                        {"receiveThrottled", s.receiveThrottled},
                        {"sendThrottled", s.sendThrottled},
                        {"complaints", slot.net->log().total()}});
    }
    doc["nets"] = nets;
    doc["accounting"] = vmm::accountingJson(accounting);
    if (!config_.timeExits) doc["accounting"]["exitsTimed"] = false;
    return doc.dump(2) + "\n";
}

}  // namespace ingot::vmm
