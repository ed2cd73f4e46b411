#include "KvmStats.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "KvmAbi.h"

namespace ingot::vmm {

KvmStatsFile::KvmStatsFile([[maybe_unused]] int objectFd) {
#ifdef KVM_GET_STATS_FD
    FileDescriptor fd(::ioctl(objectFd, KVM_GET_STATS_FD, nullptr));
    if (!fd.valid()) return;
    kvm_stats_header header{};
    if (::pread(fd.get(), &header, sizeof header, 0) != static_cast<ssize_t>(sizeof header))
        return;
    if (header.num_desc > 4096 || header.name_size > 1024) return;
    size_t descSize = sizeof(kvmabi::StatsDescHeader) + header.name_size;
    std::vector<uint8_t> descs(descSize * header.num_desc);
    if (::pread(fd.get(), descs.data(), descs.size(), header.desc_offset) !=
        static_cast<ssize_t>(descs.size()))
        return;
    for (uint32_t i = 0; i < header.num_desc; ++i) {
        kvmabi::StatsDescHeader d;
        std::memcpy(&d, descs.data() + i * descSize, sizeof d);
        const char* name = reinterpret_cast<const char*>(descs.data() + i * descSize + sizeof d);
        uint32_t type = d.flags & KVM_STATS_TYPE_MASK;
        if (d.size != 1 || (type != KVM_STATS_TYPE_CUMULATIVE && type != KVM_STATS_TYPE_INSTANT &&
                            type != KVM_STATS_TYPE_PEAK))
            continue;
        // The data block's size is not in the header; it ends after the last counter we read.
        if (d.offset > (64u << 10)) continue;
        counters_.push_back({std::string(name, strnlen(name, header.name_size)), d.offset});
        dataBytes_ = std::max<size_t>(dataBytes_, size_t{d.offset} + sizeof(uint64_t));
    }
    dataOffset_ = header.data_offset;
    fd_ = std::move(fd);
#endif
}

std::map<std::string, uint64_t> KvmStatsFile::read() const {
    std::map<std::string, uint64_t> out;
    if (!fd_.valid() || counters_.empty()) return out;
    // One read of the whole block, so the counters come from (nearly) one instant.
    std::vector<uint8_t> data(dataBytes_);
    if (::pread(fd_.get(), data.data(), data.size(), static_cast<off_t>(dataOffset_)) !=
        static_cast<ssize_t>(data.size()))
        return out;
    for (const auto& c : counters_) {
        uint64_t value;
        std::memcpy(&value, data.data() + c.offset, sizeof value);
        out[c.name] = value;
    }
    return out;
}

std::map<std::string, uint64_t> readKvmStats(int objectFd) { return KvmStatsFile(objectFd).read(); }

}  // namespace ingot::vmm
