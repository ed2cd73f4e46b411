#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "FileDescriptor.h"

namespace ingot::vmm {

// KVM's binary statistics (KVM_GET_STATS_FD, Linux 5.14+) of one VM or vCPU: every cumulative,
// instantaneous or peak counter by name ("exits", "io_exits", "halt_wait_ns", …); histograms
// are skipped. The descriptors are read once at construction and `read` only reads the values,
// so it is cheap, and it may be called from any thread at any time: reading the stats file
// takes no lock of the vCPU, whereas KVM_GET_STATS_FD itself waits for a vCPU to leave KVM_RUN.
class KvmStatsFile {
public:
    KvmStatsFile() = default;
    // Opens the statistics of a VM or vCPU file descriptor. A kernel without binary stats leaves
    // the object empty (`read` then returns an empty map), which is not an error.
    explicit KvmStatsFile(int kvmObjectFd);

    bool available() const { return fd_.valid(); }
    std::map<std::string, uint64_t> read() const;

private:
    struct Counter {
        std::string name;
        uint32_t offset;  // in the data block
    };
    FileDescriptor fd_;
    uint64_t dataOffset_ = 0;
    size_t dataBytes_ = 0;
    std::vector<Counter> counters_;
};

// Every counter of a VM or vCPU file descriptor, once (an empty map without binary stats).
std::map<std::string, uint64_t> readKvmStats(int kvmObjectFd);

}  // namespace ingot::vmm
