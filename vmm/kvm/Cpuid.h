#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

namespace ingot::vmm {

struct CpuTopology {
    unsigned vcpuIndex;  // also the APIC id
    unsigned vcpuCount;
};

// KVM's paravirtual CPUID leaves (Documentation/virt/kvm/x86/cpuid.rst).
constexpr uint32_t kKvmCpuidSignature = 0x40000000;
constexpr uint32_t kKvmCpuidFeatures = 0x40000001;
constexpr uint32_t kKvmFeatureClocksource = 1u << 0;
constexpr uint32_t kKvmFeatureClocksource2 = 1u << 3;
constexpr uint32_t kKvmFeatureStealTime = 1u << 5;

// Turns KVM_GET_SUPPORTED_CPUID into what one vCPU of this VM reports: its APIC id and the VM's
// processor count in the topology leaves (1, 4, 0xB, 0x80000008), the hypervisor bit set, and
// the performance-monitoring leaf cleared (the monitor exposes no PMU). KVM's paravirtual
// leaves keep the "KVMKVMKVM" signature and every feature KVM offers, steal time
// (KVM_FEATURE_STEAL_TIME) and kvmclock among them. Everything else KVM supports passes
// through unchanged, so a guest sees the host's real features.
std::vector<kvm_cpuid_entry2> filterCpuid(std::vector<kvm_cpuid_entry2> supported,
                                          const CpuTopology& topology);

}  // namespace ingot::vmm
