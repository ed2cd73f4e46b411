#pragma once

#include <linux/kvm.h>

#include <vector>

namespace ingot::vmm {

struct CpuTopology {
    unsigned vcpuIndex;  // also the APIC id
    unsigned vcpuCount;
};

// Turns KVM_GET_SUPPORTED_CPUID into what one vCPU of this VM reports: its APIC id and the VM's
// processor count in the topology leaves (1, 4, 0xB, 0x80000008), the hypervisor bit set, and
// the performance-monitoring leaf cleared (the monitor exposes no PMU). Everything else KVM
// supports passes through unchanged, so a guest sees the host's real features.
std::vector<kvm_cpuid_entry2> filterCpuid(std::vector<kvm_cpuid_entry2> supported,
                                          const CpuTopology& topology);

}  // namespace ingot::vmm
