#pragma once

#include "devices/IoDevice.h"
#include "kvm/Kvm.h"

namespace ingot::vmm {

// A GSI of the in-kernel PIC/IOAPIC driven with KVM_IRQ_LINE.
class KvmInterruptLine : public InterruptLine {
public:
    KvmInterruptLine(KvmVm& vm, uint32_t gsi) : vm_(vm), gsi_(gsi) {}
    void set(bool level) override { vm_.setIrqLine(gsi_, level); }

private:
    KvmVm& vm_;
    uint32_t gsi_;
};

}  // namespace ingot::vmm
