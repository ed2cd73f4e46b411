#include "kvm/Cpuid.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace ingot::vmm {
namespace {

kvm_cpuid_entry2 leaf(uint32_t function, uint32_t index, uint32_t eax, uint32_t ebx, uint32_t ecx,
                      uint32_t edx, uint32_t flags = 0) {
    kvm_cpuid_entry2 e{};
    e.function = function;
    e.index = index;
    e.flags = flags;
    e.eax = eax;
    e.ebx = ebx;
    e.ecx = ecx;
    e.edx = edx;
    return e;
}

constexpr uint32_t kSignificantIndex = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;

// Leaf 4 EAX: cache type in 4:0, level in 7:5, self-initialising bit 8, the host's sharing
// count in 25:14 and cores per package in 31:26.
uint32_t cacheEax(uint32_t type, uint32_t level, uint32_t sharing, uint32_t cores) {
    return type | (level << 5) | (1u << 8) | ((sharing - 1) << 14) | ((cores - 1) << 26);
}

// Roughly what KVM_GET_SUPPORTED_CPUID returns on a 16-thread Intel host.
std::vector<kvm_cpuid_entry2> hostCpuid() {
    return {
        leaf(0, 0, 0x16, 0x756e6547, 0x6c65746e, 0x49656e69),
        leaf(1, 0, 0x000906ea, 0x0a100800 | 0x42, 0x7ffafbff, 0xbfebfbff),
        leaf(4, 0, cacheEax(1, 1, 2, 8), 0x01c0003f, 0x3f, 0, kSignificantIndex),
        leaf(4, 1, cacheEax(2, 1, 2, 8), 0x01c0003f, 0x3f, 0, kSignificantIndex),
        leaf(4, 2, cacheEax(3, 2, 2, 8), 0x00c0003f, 0x3ff, 0, kSignificantIndex),
        leaf(4, 3, cacheEax(3, 3, 16, 8), 0x03c0003f, 0x2fff, 6, kSignificantIndex),
        leaf(7, 0, 0, 0x029c6fbf, 0x40000000, 0xbc000400, kSignificantIndex),
        leaf(0xa, 0, 0x07300404, 0, 0, 0x603),
        leaf(0xb, 0, 1, 2, 0x100, 0x0a, kSignificantIndex),
        leaf(0xb, 1, 4, 16, 0x201, 0x0a, kSignificantIndex),
        leaf(0xb, 2, 0, 0, 2, 0x0a, kSignificantIndex),
        // KVM's paravirtual leaves as Linux 6.1's KVM reports them: the signature, then
        // kvmclock (bits 0 and 3), steal time (bit 5), PV EOI, PV unhalt, … and the stable bit.
        leaf(0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d),
        leaf(0x40000001, 0, 0x01007afb, 0, 0, 0),
        leaf(0x80000008, 0, 0x3027, 0, 0x0003'a70f, 0),
    };
}

const kvm_cpuid_entry2& find(const std::vector<kvm_cpuid_entry2>& entries, uint32_t function,
                             uint32_t index = 0) {
    for (const auto& e : entries)
        if (e.function == function && e.index == index) return e;
    throw std::runtime_error("no such leaf");
}

struct Topology {
    unsigned index, count;
};
class CpuidFilter : public ::testing::TestWithParam<Topology> {
protected:
    std::vector<kvm_cpuid_entry2> host = hostCpuid();
    std::vector<kvm_cpuid_entry2> out = filterCpuid(host, {GetParam().index, GetParam().count});
    unsigned apic = GetParam().index;
    unsigned n = GetParam().count;
};

unsigned bitsFor(unsigned n) {
    unsigned bits = 0;
    while ((1u << bits) < n) ++bits;
    return bits;
}

TEST_P(CpuidFilter, KeepsEveryLeafInOrder) {
    ASSERT_EQ(out.size(), host.size());
    for (size_t i = 0; i < out.size(); ++i) {
        EXPECT_EQ(out[i].function, host[i].function);
        EXPECT_EQ(out[i].index, host[i].index);
        EXPECT_EQ(out[i].flags, host[i].flags);
    }
}

TEST_P(CpuidFilter, Leaf1ReportsApicIdCountAndClflush) {
    const auto& e = find(out, 1);
    EXPECT_EQ(e.ebx >> 24, apic);
    EXPECT_EQ((e.ebx >> 16) & 0xff, n);
    EXPECT_EQ((e.ebx >> 8) & 0xff, 8u);  // 64-byte lines
    EXPECT_EQ(e.eax, find(host, 1).eax);
}

TEST_P(CpuidFilter, Leaf1SetsTheHypervisorBit) {
    const auto& e = find(out, 1);
    EXPECT_TRUE(e.ecx & (1u << 31));
    EXPECT_EQ(e.ecx & ~(1u << 31), find(host, 1).ecx);
}

TEST_P(CpuidFilter, Leaf1HttOnlyWithSeveralProcessors) {
    const auto& e = find(out, 1);
    EXPECT_EQ((e.edx >> 28) & 1, n > 1 ? 1u : 0u);
    EXPECT_EQ(e.edx & ~(1u << 28), find(host, 1).edx & ~(1u << 28));
}

TEST_P(CpuidFilter, Leaf0bDescribesOneThreadPerCoreAndAllCoresInThePackage) {
    const auto& smt = find(out, 0xb, 0);
    EXPECT_EQ(smt.eax & 0x1f, 0u);
    EXPECT_EQ(smt.ebx & 0xffff, 1u);
    EXPECT_EQ((smt.ecx >> 8) & 0xff, 1u);  // level type SMT
    EXPECT_EQ(smt.ecx & 0xff, 0u);
    EXPECT_EQ(smt.edx, apic);

    const auto& core = find(out, 0xb, 1);
    EXPECT_EQ(core.eax & 0x1f, bitsFor(n));
    EXPECT_EQ(core.ebx & 0xffff, n);
    EXPECT_EQ((core.ecx >> 8) & 0xff, 2u);  // level type core
    EXPECT_EQ(core.ecx & 0xff, 1u);
    EXPECT_EQ(core.edx, apic);

    const auto& end = find(out, 0xb, 2);
    EXPECT_EQ(end.eax, 0u);
    EXPECT_EQ(end.ebx, 0u);
    EXPECT_EQ((end.ecx >> 8) & 0xff, 0u);  // invalid: no more levels
    EXPECT_EQ(end.ecx & 0xff, 2u);
    EXPECT_EQ(end.edx, apic);
}

TEST_P(CpuidFilter, Leaf4ReportsCoresAndCacheSharing) {
    for (uint32_t sub = 0; sub < 4; ++sub) {
        SCOPED_TRACE(sub);
        const auto& e = find(out, 4, sub);
        const auto& h = find(host, 4, sub);
        EXPECT_EQ(e.eax >> 26, n - 1);
        unsigned level = (h.eax >> 5) & 7;
        EXPECT_EQ((e.eax >> 14) & 0xfff, level == 3 ? n - 1 : 0u);
        EXPECT_EQ(e.eax & 0x3fff, h.eax & 0x3fff);  // type, level, flags unchanged
        EXPECT_EQ(e.ebx, h.ebx);
        EXPECT_EQ(e.ecx, h.ecx);
        EXPECT_EQ(e.edx, h.edx);
    }
}

TEST_P(CpuidFilter, Leaf0aIsCleared) {
    const auto& e = find(out, 0xa);
    EXPECT_EQ(e.eax, 0u);
    EXPECT_EQ(e.ebx, 0u);
    EXPECT_EQ(e.ecx, 0u);
    EXPECT_EQ(e.edx, 0u);
}

TEST_P(CpuidFilter, Leaf80000008ReportsCoreCount) {
    const auto& e = find(out, 0x80000008);
    const auto& h = find(host, 0x80000008);
    EXPECT_EQ(e.ecx & 0xff, n - 1);
    EXPECT_EQ((e.ecx >> 12) & 0xf, bitsFor(n));
    EXPECT_EQ(e.ecx & ~0xf0ffu, h.ecx & ~0xf0ffu);
    EXPECT_EQ(e.eax, h.eax);
}

TEST_P(CpuidFilter, KeepsTheKvmSignatureLeaf) {
    const auto& e = find(out, kKvmCpuidSignature);
    char signature[13] = {};
    std::memcpy(signature, &e.ebx, 4);
    std::memcpy(signature + 4, &e.ecx, 4);
    std::memcpy(signature + 8, &e.edx, 4);
    EXPECT_EQ(std::string(signature, 12), std::string("KVMKVMKVM\0\0\0", 12));
    EXPECT_GE(e.eax, kKvmCpuidFeatures);  // the features leaf is within reach
}

TEST_P(CpuidFilter, AdvertisesStealTimeAndKeepsKvmclock) {
    const auto& e = find(out, kKvmCpuidFeatures);
    EXPECT_TRUE(e.eax & kKvmFeatureStealTime);
    EXPECT_TRUE(e.eax & kKvmFeatureClocksource);
    EXPECT_TRUE(e.eax & kKvmFeatureClocksource2);
    EXPECT_EQ(e.eax, find(host, kKvmCpuidFeatures).eax);  // nothing KVM offers is dropped
}

TEST_P(CpuidFilter, LeavesOtherLeavesByteForByte) {
    for (uint32_t function : {0u, 7u, kKvmCpuidSignature, kKvmCpuidFeatures}) {
        const auto& e = find(out, function);
        const auto& h = find(host, function);
        EXPECT_EQ(std::memcmp(&e, &h, sizeof e), 0) << std::hex << function;
    }
}

INSTANTIATE_TEST_SUITE_P(Topologies, CpuidFilter,
                         ::testing::Values(Topology{0, 1}, Topology{0, 4}, Topology{3, 4},
                                           Topology{5, 6}, Topology{1, 2}),
                         [](const ::testing::TestParamInfo<Topology>& info) {
                             return "vcpu" + std::to_string(info.param.index) + "of" +
                                    std::to_string(info.param.count);
                         });

TEST(CpuidFilterZeroCount, TreatsZeroVcpusAsOne) {
    auto out = filterCpuid(hostCpuid(), {0, 0});
    const auto& e = find(out, 1);
    EXPECT_EQ((e.ebx >> 16) & 0xff, 1u);
    EXPECT_FALSE(e.edx & (1u << 28));
    EXPECT_EQ(find(out, 4, 3).eax >> 26, 0u);
    EXPECT_EQ(find(out, 0x80000008).ecx & 0xff, 0u);
}

TEST(CpuidFilterParavirt, WritesTheSignatureWhateverKvmSaid) {
    auto out = filterCpuid({leaf(kKvmCpuidSignature, 0, 0, 0, 0, 0),
                            leaf(kKvmCpuidFeatures, 0, kKvmFeatureStealTime, 0, 0, 0)},
                           {0, 1});
    const auto& e = find(out, kKvmCpuidSignature);
    EXPECT_EQ(e.eax, kKvmCpuidFeatures);
    EXPECT_EQ(e.ebx, 0x4b4d564bu);
    EXPECT_EQ(e.ecx, 0x564b4d56u);
    EXPECT_EQ(e.edx, 0x4du);
    EXPECT_TRUE(find(out, kKvmCpuidFeatures).eax & kKvmFeatureStealTime);
}

TEST(CpuidFilterParavirt, NeverInventsStealTime) {
    // A host kernel without run-delay tracking: KVM leaves bit 5 out, and a guest told otherwise
    // would fault on MSR_KVM_STEAL_TIME.
    auto host = hostCpuid();
    for (auto& e : host)
        if (e.function == kKvmCpuidFeatures) e.eax &= ~kKvmFeatureStealTime;
    auto out = filterCpuid(host, {0, 2});
    EXPECT_FALSE(find(out, kKvmCpuidFeatures).eax & kKvmFeatureStealTime);
    EXPECT_TRUE(find(out, kKvmCpuidFeatures).eax & kKvmFeatureClocksource2);
}

TEST(CpuidFilterEmpty, ReturnsNothingForNothing) {
    EXPECT_TRUE(filterCpuid({}, {0, 2}).empty());
}

}  // namespace
}  // namespace ingot::vmm
