#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "devices/IoDevice.h"
#include "ingot/core/Error.h"
#include "kvm/FileDescriptor.h"
#include "kvm/Kvm.h"

namespace ingot::vmm {

// A GSI pulsed through KVM_IRQFD: an edge on the in-kernel IOAPIC from any thread, with no
// ioctl per interrupt. virtio devices raise their used-buffer interrupts this way from their
// worker threads.
class KvmIrqFd : public EdgeInterrupt {
public:
    KvmIrqFd(KvmVm& vm, uint32_t gsi) {
        int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0) throwSystemError("eventfd for GSI " + std::to_string(gsi), errno);
        fd_ = FileDescriptor(fd);
        vm.addIrqFd(gsi, fd);
    }
    void trigger() override {
        uint64_t one = 1;
        // EAGAIN: the counter is saturated, an edge is pending anyway.
        if (::write(fd_.get(), &one, sizeof one) < 0) {
        }
    }

private:
    FileDescriptor fd_;
};

}  // namespace ingot::vmm
