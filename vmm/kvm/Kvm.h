#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "FileDescriptor.h"

namespace ingot::vmm {

// /dev/kvm: the system-wide handle. Construction fails with ExitStatus::kNoKvm and a message
// that says what to do when KVM is missing, inaccessible or too old.
class KvmSystem {
public:
    explicit KvmSystem(const char* path = "/dev/kvm");
    int fd() const { return fd_.get(); }
    int vcpuMmapSize() const { return vcpuMmapSize_; }
    bool hasExtension(long cap) const;
    std::vector<kvm_cpuid_entry2> supportedCpuid() const;

private:
    FileDescriptor fd_;
    int vcpuMmapSize_ = 0;
};

// One VM file descriptor with the ioctls the monitor uses.
class KvmVm {
public:
    explicit KvmVm(const KvmSystem& kvm);
    int fd() const { return fd_.get(); }
    void setUserMemoryRegion(uint32_t slot, uint64_t gpa, uint64_t size, void* host);
    void createIrqchip();
    void createPit();
    // Raises or lowers an interrupt line of the in-kernel irqchip.
    void setIrqLine(uint32_t gsi, bool level);
    // KVM's default routing sends GSI 0 (the PIT) to IOAPIC pin 0; PC firmware convention and
    // our MADT override put it on pin 2. ISA IRQs below `picIrqLimit` also reach the 8259 PIC;
    // the ones from there on reach only the IOAPIC.
    void setPcGsiRouting(uint32_t picIrqLimit = 16);
    int createVcpu(unsigned index);
    // A `length`-byte guest write of `value` to MMIO address `gpa` signals `eventFd` inside KVM
    // (KVM_IOEVENTFD with datamatch); the vCPU never exits to the monitor for it.
    void addIoEventFd(uint64_t gpa, uint32_t length, uint64_t value, int eventFd);
    // A write to `eventFd` pulses `gsi` (KVM_IRQFD), from any thread.
    void addIrqFd(uint32_t gsi, int eventFd);

private:
    FileDescriptor fd_;
};

}  // namespace ingot::vmm
