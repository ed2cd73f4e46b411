#include "Kvm.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "ingot/core/Error.h"
#include "KvmAbi.h"

namespace ingot::vmm {
namespace {

// Whether the CPU shows hardware virtualization (a "vmx" or "svm" flag in /proc/cpuinfo). A
// software KVM such as kvm-pvm offers /dev/kvm without it and runs only guest kernels built for
// it; Debian's kernel and ingot-fw spin there instead of failing, so this is checked up front.
bool cpuHasHardwareVirtualization() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (line.rfind("flags", 0) != 0) continue;
        std::istringstream words(line.substr(line.find(':') + 1));
        for (std::string w; words >> w;)
            if (w == "vmx" || w == "svm") return true;
        return false;
    }
    return true;  // no flags line (not x86 /proc): let KVM itself decide
}

}  // namespace

KvmSystem::KvmSystem(const char* path) {
    int fd = ::open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        std::string hint = err == ENOENT ? " (no KVM on this host: load kvm-intel/kvm-amd, or run "
                                           "inside the test rig, tests/rig/rig-run)"
                           : err == EACCES ? " (add yourself to the 'kvm' group)"
                                           : "";
        throw Error(std::string("cannot open ") + path + ": " + std::strerror(err) + hint,
                    ExitStatus::kNoKvm);
    }
    fd_ = FileDescriptor(fd);
    if (!cpuHasHardwareVirtualization())
        throw Error(std::string(path) +
                        " is a KVM without hardware virtualization (no vmx or svm flag in "
                        "/proc/cpuinfo; kvm-pvm?), which runs only guests built for it: run "
                        "inside the test rig, tests/rig/rig-run",
                    ExitStatus::kNoKvm);
    int version = ::ioctl(fd, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION)
        throw Error("KVM API version " + std::to_string(version) + " is not the expected " +
                        std::to_string(KVM_API_VERSION),
                    ExitStatus::kNoKvm);
    for (long cap : {KVM_CAP_IRQCHIP, KVM_CAP_USER_MEMORY, KVM_CAP_EXT_CPUID, KVM_CAP_PIT2,
                     KVM_CAP_IRQ_ROUTING, KVM_CAP_IMMEDIATE_EXIT}) {
        if (!hasExtension(cap))
            throw Error("this KVM lacks capability " + std::to_string(cap) +
                            " that ingot-vmm needs (kernel too old?)",
                        ExitStatus::kNoKvm);
    }
    vcpuMmapSize_ = ::ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (vcpuMmapSize_ < static_cast<int>(sizeof(kvm_run)))
        throwSystemError("KVM_GET_VCPU_MMAP_SIZE", errno, ExitStatus::kNoKvm);
}

bool KvmSystem::hasExtension(long cap) const {
    return ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, cap) > 0;
}

std::vector<kvm_cpuid_entry2> KvmSystem::supportedCpuid() const {
    // KVM says E2BIG until the buffer is large enough.
    for (unsigned n = 64; n <= 4096; n *= 2) {
        size_t bytes = sizeof(kvmabi::Cpuid2Header) + n * sizeof(kvm_cpuid_entry2);
        std::unique_ptr<uint8_t[]> buf(new uint8_t[bytes]());
        auto* header = reinterpret_cast<kvmabi::Cpuid2Header*>(buf.get());
        header->nent = n;
        if (::ioctl(fd_.get(), kvmabi::kGetSupportedCpuid, header) == 0) {
            std::vector<kvm_cpuid_entry2> entries(header->nent);
            std::memcpy(entries.data(), buf.get() + sizeof *header,
                        header->nent * sizeof(kvm_cpuid_entry2));
            return entries;
        }
        if (errno != E2BIG) throwSystemError("KVM_GET_SUPPORTED_CPUID", errno);
    }
    throw Error("KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
}

KvmVm::KvmVm(const KvmSystem& kvm) {
    int fd;
    do {
        fd = ::ioctl(kvm.fd(), KVM_CREATE_VM, 0);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) throwSystemError("KVM_CREATE_VM", errno, ExitStatus::kNoKvm);
    fd_ = FileDescriptor(fd);
    // Intel VMX needs these three pages for real-mode emulation; AMD ignores them. They sit
    // in the MMIO hole just below the IOAPIC, never in guest RAM.
    if (::ioctl(fd, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0)
        throwSystemError("KVM_SET_TSS_ADDR", errno);
    uint64_t identityMap = 0xfffbc000;
    if (::ioctl(fd, KVM_SET_IDENTITY_MAP_ADDR, &identityMap) < 0)
        throwSystemError("KVM_SET_IDENTITY_MAP_ADDR", errno);
}

void KvmVm::setUserMemoryRegion(uint32_t slot, uint64_t gpa, uint64_t size, void* host) {
    kvm_userspace_memory_region region{};
    region.slot = slot;
    region.guest_phys_addr = gpa;
    region.memory_size = size;
    region.userspace_addr = reinterpret_cast<uint64_t>(host);
    if (::ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0)
        throwSystemError("KVM_SET_USER_MEMORY_REGION", errno);
}

void KvmVm::createIrqchip() {
    if (::ioctl(fd_.get(), KVM_CREATE_IRQCHIP, 0) < 0) throwSystemError("KVM_CREATE_IRQCHIP", errno);
}

void KvmVm::createPit() {
    kvm_pit_config config{};
    config.flags = KVM_PIT_SPEAKER_DUMMY;
    if (::ioctl(fd_.get(), KVM_CREATE_PIT2, &config) < 0) throwSystemError("KVM_CREATE_PIT2", errno);
}

void KvmVm::setIrqLine(uint32_t gsi, bool level) {
    kvm_irq_level irq{};
    irq.irq = gsi;
    irq.level = level ? 1 : 0;
    if (::ioctl(fd_.get(), KVM_IRQ_LINE, &irq) < 0) throwSystemError("KVM_IRQ_LINE", errno);
}

void KvmVm::setPcGsiRouting(uint32_t picIrqLimit) {
    constexpr unsigned kPins = 24;
    constexpr unsigned kMaxEntries = 64;
    size_t bytes = sizeof(kvmabi::IrqRoutingHeader) + kMaxEntries * sizeof(kvm_irq_routing_entry);
    std::unique_ptr<uint8_t[]> buf(new uint8_t[bytes]());
    auto* routing = reinterpret_cast<kvmabi::IrqRoutingHeader*>(buf.get());
    auto* entries = reinterpret_cast<kvm_irq_routing_entry*>(buf.get() + sizeof *routing);
    unsigned n = 0;
    auto add = [&](uint32_t gsi, uint32_t chip, uint32_t pin) {
        auto& e = entries[n++];
        e.gsi = gsi;
        e.type = KVM_IRQ_ROUTING_IRQCHIP;
        e.u.irqchip.irqchip = chip;
        e.u.irqchip.pin = pin;
    };
    for (uint32_t i = 0; i < 16 && i < picIrqLimit; ++i) {
        if (i == 2) continue;  // the cascade
        add(i, i < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, i % 8);
    }
    for (uint32_t i = 0; i < kPins; ++i) {
        if (i == 2) continue;
        add(i, KVM_IRQCHIP_IOAPIC, i == 0 ? 2 : i);
    }
    routing->nr = n;
    if (::ioctl(fd_.get(), kvmabi::kSetGsiRouting, routing) < 0)
        throwSystemError("KVM_SET_GSI_ROUTING", errno);
}

int KvmVm::createVcpu(unsigned index) {
    int fd = ::ioctl(fd_.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(index));
    if (fd < 0) throwSystemError("KVM_CREATE_VCPU " + std::to_string(index), errno);
    return fd;
}

void KvmVm::addIoEventFd(uint64_t gpa, uint32_t length, uint64_t value, int eventFd) {
    kvm_ioeventfd io{};
    io.datamatch = value;
    io.addr = gpa;
    io.len = length;
    io.fd = eventFd;
    io.flags = KVM_IOEVENTFD_FLAG_DATAMATCH;
    if (::ioctl(fd_.get(), KVM_IOEVENTFD, &io) < 0) throwSystemError("KVM_IOEVENTFD", errno);
}

void KvmVm::addIrqFd(uint32_t gsi, int eventFd) {
    kvm_irqfd irq{};
    irq.fd = static_cast<uint32_t>(eventFd);
    irq.gsi = gsi;
    if (::ioctl(fd_.get(), KVM_IRQFD, &irq) < 0)
        throwSystemError("KVM_IRQFD for GSI " + std::to_string(gsi), errno);
}

}  // namespace ingot::vmm
