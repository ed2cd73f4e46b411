#pragma once

#include <linux/kvm.h>

#include <cstdint>

// The uapi headers declare KVM's variable-length structures with __DECLARE_FLEX_ARRAY, which in
// C++ inserts an empty struct before the array: sizeof and the array's offset then differ from
// the kernel's C layout (kvm_irq_routing becomes 16 bytes, its entries move to offset 16), and
// the ioctl numbers, which encode sizeof, stop matching. These are the C layouts, checked
// against the kernel's documented sizes.
namespace ingot::vmm::kvmabi {

struct Cpuid2Header {  // struct kvm_cpuid2; kvm_cpuid_entry2[nent] follows
    uint32_t nent;
    uint32_t padding;
};
struct MsrsHeader {  // struct kvm_msrs; kvm_msr_entry[nmsrs] follows
    uint32_t nmsrs;
    uint32_t pad;
};
struct IrqRoutingHeader {  // struct kvm_irq_routing; kvm_irq_routing_entry[nr] follows
    uint32_t nr;
    uint32_t flags;
};
struct StatsDescHeader {  // struct kvm_stats_desc; char name[name_size] follows
    uint32_t flags;
    int16_t exponent;
    uint16_t size;
    uint32_t offset;
    uint32_t bucketSize;
};
static_assert(sizeof(Cpuid2Header) == 8 && sizeof(MsrsHeader) == 8);
static_assert(sizeof(IrqRoutingHeader) == 8 && sizeof(StatsDescHeader) == 16);
static_assert(sizeof(kvm_cpuid_entry2) == 40 && sizeof(kvm_msr_entry) == 16);
static_assert(sizeof(kvm_irq_routing_entry) == 48);

constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, Cpuid2Header);
constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, Cpuid2Header);
constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, MsrsHeader);
constexpr unsigned long kSetGsiRouting = _IOW(KVMIO, 0x6a, IrqRoutingHeader);

}  // namespace ingot::vmm::kvmabi
