#include "Vcpu.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "boot/CpuSetup.h"
#include "devices/PvPanic.h"
#include "ingot/core/Error.h"
#include "kvm/KvmAbi.h"
#include "kvm/KvmStats.h"

namespace ingot::vmm {

namespace {
constexpr int kInternalStatus = 5;

void ioctlOrThrow(int fd, unsigned long request, void* arg, const char* what, unsigned index) {
    if (::ioctl(fd, request, arg) < 0)
        throwSystemError(std::string(what) + " on vCPU " + std::to_string(index), errno);
}
}  // namespace

int Vcpu::kickSignal() { return SIGRTMIN; }

void Vcpu::installKickSignal() {
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
    sigaction(kickSignal(), &sa, nullptr);
}

Vcpu::Vcpu(const KvmSystem& kvm, KvmVm& vm, unsigned index, VcpuBus bus)
    : index_(index),
      bus_(bus),
      fd_(vm.createVcpu(index)),
      kvmStats_(fd_.get()),
      accounting_(bus.pio.rangeNames(), bus.mmio.rangeNames()) {
    runSize_ = static_cast<size_t>(kvm.vcpuMmapSize());
    void* p = ::mmap(nullptr, runSize_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
    if (p == MAP_FAILED) throwSystemError("mmap kvm_run of vCPU " + std::to_string(index), errno);
    run_ = static_cast<kvm_run*>(p);
}

Vcpu::~Vcpu() {
    if (thread_.joinable()) {
        kick();
        thread_.join();
    }
    if (run_) ::munmap(run_, runSize_);
}

void Vcpu::setCpuid(const std::vector<kvm_cpuid_entry2>& entries) {
    size_t bytes = sizeof(kvmabi::Cpuid2Header) + entries.size() * sizeof(kvm_cpuid_entry2);
    std::unique_ptr<uint8_t[]> buf(new uint8_t[bytes]());
    auto* header = reinterpret_cast<kvmabi::Cpuid2Header*>(buf.get());
    header->nent = static_cast<uint32_t>(entries.size());
    std::memcpy(buf.get() + sizeof *header, entries.data(), entries.size() * sizeof(kvm_cpuid_entry2));
    ioctlOrThrow(fd_.get(), kvmabi::kSetCpuid2, header, "KVM_SET_CPUID2", index_);
}

void Vcpu::configureCommon() {
    auto msrs = bootMsrs();
    size_t bytes = sizeof(kvmabi::MsrsHeader) + msrs.size() * sizeof(kvm_msr_entry);
    std::unique_ptr<uint8_t[]> buf(new uint8_t[bytes]());
    auto* list = reinterpret_cast<kvmabi::MsrsHeader*>(buf.get());
    auto* entries = reinterpret_cast<kvm_msr_entry*>(buf.get() + sizeof *list);
    list->nmsrs = static_cast<uint32_t>(msrs.size());
    for (size_t i = 0; i < msrs.size(); ++i) {
        entries[i].index = msrs[i].index;
        entries[i].data = msrs[i].value;
    }
    int set = ::ioctl(fd_.get(), kvmabi::kSetMsrs, list);
    if (set != static_cast<int>(msrs.size()))
        throw Error("KVM_SET_MSRS on vCPU " + std::to_string(index_) + " set " +
                    std::to_string(set) + " of " + std::to_string(msrs.size()) + " MSRs");

    kvm_fpu fpu{};
    fpu.fcw = 0x37f;
    fpu.mxcsr = 0x1f80;
    ioctlOrThrow(fd_.get(), KVM_SET_FPU, &fpu, "KVM_SET_FPU", index_);

    // LINT0 delivers the PIC's ExtINT, LINT1 NMIs: the wiring PC firmware leaves behind and
    // that Linux expects when it starts with the legacy PIC.
    kvm_lapic_state lapic{};
    ioctlOrThrow(fd_.get(), KVM_GET_LAPIC, &lapic, "KVM_GET_LAPIC", index_);
    auto setLvt = [&](size_t reg, uint32_t mode) {
        uint32_t v;
        std::memcpy(&v, lapic.regs + reg, 4);
        v = (v & ~0x700u) | (mode << 8);
        std::memcpy(lapic.regs + reg, &v, 4);
    };
    setLvt(0x350, 7);  // LVT LINT0: ExtINT
    setLvt(0x360, 4);  // LVT LINT1: NMI
    ioctlOrThrow(fd_.get(), KVM_SET_LAPIC, &lapic, "KVM_SET_LAPIC", index_);
}

void Vcpu::configureBoot(GuestMemory& memory, const BootEntry& entry) {
    kvm_sregs sregs{};
    ioctlOrThrow(fd_.get(), KVM_GET_SREGS, &sregs, "KVM_GET_SREGS", index_);
    sregs = bootSpecialRegisters(memory, entry.mode, sregs);
    ioctlOrThrow(fd_.get(), KVM_SET_SREGS, &sregs, "KVM_SET_SREGS", index_);
    kvm_regs regs = bootRegisters(entry);
    ioctlOrThrow(fd_.get(), KVM_SET_REGS, &regs, "KVM_SET_REGS", index_);
}

void Vcpu::start() {
    thread_ = SmallStackThread([this] {
        accounting_.threadStarted();
        pthread_ = pthread_self();
        tid_.store(::gettid(), std::memory_order_release);
        threadStarted_.store(true, std::memory_order_release);
        char name[16];
        std::snprintf(name, sizeof name, "vcpu%u", index_);
        pthread_setname_np(pthread_self(), name);
        sigset_t unblock;
        sigemptyset(&unblock);
        sigaddset(&unblock, kickSignal());
        pthread_sigmask(SIG_UNBLOCK, &unblock, nullptr);
        runLoop();
        timespec ts{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        stats_.threadCpuSeconds = static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
        accounting_.threadFinished();
        stats_.kvm = kvmStats_.read();
    });
}

void Vcpu::kick() {
    // immediate_exit covers the window before the thread enters KVM_RUN; the signal covers a
    // thread already inside it.
    __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (threadStarted_.load(std::memory_order_acquire)) pthread_kill(pthread_, kickSignal());
}

void Vcpu::join() {
    if (thread_.joinable()) thread_.join();
}

void Vcpu::runLoop() {
    auto& lifecycle = bus_.lifecycle;
    while (!lifecycle.stopping()) {
        if (::ioctl(fd_.get(), KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                // A kick that arrives while the VM keeps running must not make the next
                // KVM_RUN return at once forever.
                if (!lifecycle.stopping()) __atomic_store_n(&run_->immediate_exit, 0, __ATOMIC_SEQ_CST);
                continue;
            }
            lifecycle.requestStop(StopReason::kError, kInternalStatus,
                                  "KVM_RUN on vCPU " + std::to_string(index_) + ": " +
                                      std::strerror(errno));
            return;
        }
        VcpuAccounting::DeviceRef device;
        if (!bus_.timeExits) {
            if (!handleExit(device)) return;
            continue;
        }
        // The accounting's whole cost on the exit path: two vDSO clock reads and a few plain
        // stores to counters only this thread writes.
        const uint64_t exitedAt = VcpuAccounting::monotonicNs();
        const uint32_t reason = run_->exit_reason;
        const bool keepRunning = handleExit(device);
        accounting_.recordExit(reason, device, VcpuAccounting::monotonicNs() - exitedAt);
        if (!keepRunning) return;
    }
}

bool Vcpu::handleExit(VcpuAccounting::DeviceRef& device) {
    auto& lifecycle = bus_.lifecycle;
    switch (run_->exit_reason) {
        case KVM_EXIT_IO: {
            auto& io = run_->io;
            uint64_t bytes = uint64_t{io.size} * io.count;
            if (io.data_offset > runSize_ || bytes > runSize_ - io.data_offset) {
                lifecycle.requestStop(StopReason::kError, kInternalStatus, "malformed KVM_EXIT_IO");
                return false;
            }
            auto* data = reinterpret_cast<uint8_t*>(run_) + io.data_offset;
            ++stats_.pioExitsByPort[io.port];
            auto claim = bus_.pio.claim(io.port);
            device = {VcpuAccounting::Bus::kPio,
                      claim ? std::optional<size_t>(claim->range) : std::nullopt};
            for (uint32_t i = 0; i < io.count; ++i) {
                std::span<uint8_t> access(data + i * io.size, io.size);
                if (!claim) {
                    if (io.direction != KVM_EXIT_IO_OUT) fillAccess(access, ~0ull);
                } else if (io.direction == KVM_EXIT_IO_OUT) {
                    claim->device->write(claim->offset, access);
                } else {
                    claim->device->read(claim->offset, access);
                }
            }
            return true;
        }
        case KVM_EXIT_MMIO: {
            auto& mmio = run_->mmio;
            uint32_t len = mmio.len > 8 ? 8 : mmio.len;
            std::span<uint8_t> access(mmio.data, len);
            auto claim = bus_.mmio.claim(mmio.phys_addr);
            device = {VcpuAccounting::Bus::kMmio,
                      claim ? std::optional<size_t>(claim->range) : std::nullopt};
            if (!claim) {
                if (!mmio.is_write) fillAccess(access, ~0ull);
            } else if (mmio.is_write) {
                claim->device->write(claim->offset, access);
            } else {
                claim->device->read(claim->offset, access);
            }
            return true;
        }
        case KVM_EXIT_HLT:
        case KVM_EXIT_INTR:
            return true;
        case KVM_EXIT_SHUTDOWN:
            lifecycle.requestStop(StopReason::kTripleFault, PvPanic::kGuestCrashStatus,
                                  "vCPU " + std::to_string(index_) + " triple fault");
            return false;
        case KVM_EXIT_SYSTEM_EVENT:
            switch (run_->system_event.type) {
                case KVM_SYSTEM_EVENT_SHUTDOWN:
                    lifecycle.requestStop(StopReason::kPoweroff, 0, "system event shutdown");
                    break;
                case KVM_SYSTEM_EVENT_RESET:
                    lifecycle.requestStop(StopReason::kReboot, 0, "system event reset");
                    break;
                default:
                    lifecycle.requestStop(StopReason::kGuestPanic, PvPanic::kGuestCrashStatus,
                                          "system event crash");
                    break;
            }
            return false;
        case KVM_EXIT_FAIL_ENTRY: {
            char buf[96];
            std::snprintf(buf, sizeof buf, "vCPU %u: VM entry failed (reason 0x%llx)", index_,
                          static_cast<unsigned long long>(
                              run_->fail_entry.hardware_entry_failure_reason));
            lifecycle.requestStop(StopReason::kError, kInternalStatus, buf);
            return false;
        }
        case KVM_EXIT_INTERNAL_ERROR:
            lifecycle.requestStop(StopReason::kError, kInternalStatus,
                                  "vCPU " + std::to_string(index_) + ": KVM internal error " +
                                      std::to_string(run_->internal.suberror));
            return false;
        default:
            lifecycle.requestStop(StopReason::kError, kInternalStatus,
                                  "vCPU " + std::to_string(index_) + ": unhandled exit reason " +
                                      std::to_string(run_->exit_reason));
            return false;
    }
}

}  // namespace ingot::vmm
