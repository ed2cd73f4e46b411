#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace ingot::vmm {

// Reads KVM's binary statistics (KVM_GET_STATS_FD, Linux 5.14+) of a VM or vCPU file
// descriptor: every cumulative or instantaneous counter by name ("exits", "io_exits", …).
// Histograms are skipped. Returns an empty map when the kernel has no binary stats.
std::map<std::string, uint64_t> readKvmStats(int kvmObjectFd);

}  // namespace ingot::vmm
