#include "Cpuid.h"

#include <cstdint>

namespace ingot::vmm {

namespace {
constexpr uint32_t kLeaf1EcxHypervisor = 1u << 31;
constexpr uint32_t kLeaf1EdxHtt = 1u << 28;
constexpr uint32_t kClflushLineSize = 8;  // in 8-byte units: 64 bytes

// log2 of the smallest power of two >= n.
unsigned bitsFor(unsigned n) {
    unsigned bits = 0;
    while ((1u << bits) < n) ++bits;
    return bits;
}
}  // namespace

std::vector<kvm_cpuid_entry2> filterCpuid(std::vector<kvm_cpuid_entry2> entries,
                                          const CpuTopology& topo) {
    const unsigned n = topo.vcpuCount ? topo.vcpuCount : 1;
    for (auto& e : entries) {
        switch (e.function) {
            case 1:
                e.ebx = (topo.vcpuIndex << 24) | ((n & 0xff) << 16) | (kClflushLineSize << 8);
                e.ecx |= kLeaf1EcxHypervisor;
                if (n > 1)
                    e.edx |= kLeaf1EdxHtt;
                else
                    e.edx &= ~kLeaf1EdxHtt;
                break;
            case 4:
                // Cores per package - 1 in EAX[31:26]; one core per vCPU, no SMT siblings.
                e.eax = (e.eax & 0x03ffffffu) | (((n - 1) & 0x3f) << 26);
                // Threads sharing this cache - 1 in EAX[25:14]: L1/L2 private, L3 shared by all.
                {
                    unsigned level = (e.eax >> 5) & 7;
                    unsigned sharing = level >= 3 ? n - 1 : 0;
                    e.eax = (e.eax & ~(0xfffu << 14)) | ((sharing & 0xfff) << 14);
                }
                break;
            case 0xa:  // architectural performance monitoring: none
                e.eax = e.ebx = e.ecx = e.edx = 0;
                break;
            case 0xb:
            case 0x1f:  // V2 extended topology: the same levels, so the two never disagree
                // Level 0: SMT (one thread per core); level 1: cores (all vCPUs); then end.
                e.edx = topo.vcpuIndex;
                if (e.index == 0) {
                    e.eax = 0;
                    e.ebx = 1;
                    e.ecx = (1u << 8) | 0;
                } else if (e.index == 1) {
                    e.eax = bitsFor(n);
                    e.ebx = n;
                    e.ecx = (2u << 8) | 1;
                } else {
                    e.eax = e.ebx = 0;
                    e.ecx = e.index;
                }
                break;
            case kKvmCpuidSignature:
                // The leaf a guest looks for before it trusts any paravirtual feature bit: EAX
                // is the highest paravirtual leaf, EBX:ECX:EDX read "KVMKVMKVM\0\0\0". KVM
                // supplies both; written here too, so the guest's view never depends on it.
                e.eax = e.eax > kKvmCpuidFeatures ? e.eax : kKvmCpuidFeatures;
                e.ebx = 0x4b4d564b;  // "KVMK"
                e.ecx = 0x564b4d56;  // "VMKV"
                e.edx = 0x0000004d;  // "M\0\0\0"
                break;
            case kKvmCpuidFeatures:
                // Kept as KVM offers them. Steal time (bit 5) is how a guest learns how long
                // its vCPUs waited for a host CPU: once the guest enables it with
                // MSR_KVM_STEAL_TIME, KVM copies the vCPU thread's scheduler run delay into
                // guest memory on every entry. KVM offers the bit only when the host kernel
                // tracks run delay (CONFIG_SCHED_INFO); forcing it on a host that does not
                // would make the guest's wrmsr fault, so it is passed on, never invented.
                break;
            case 0x80000008:
                // AMD: NC (cores - 1) in ECX[7:0], APIC id size in ECX[15:12].
                e.ecx = (e.ecx & ~0xf0ffu) | ((n - 1) & 0xff) | (bitsFor(n) << 12);
                break;
            default:
                break;
        }
    }
    return entries;
}

}  // namespace ingot::vmm
