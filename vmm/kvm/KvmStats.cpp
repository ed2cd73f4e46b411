#include "KvmStats.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "FileDescriptor.h"
#include "KvmAbi.h"

namespace ingot::vmm {

std::map<std::string, uint64_t> readKvmStats(int objectFd) {
    std::map<std::string, uint64_t> out;
#ifdef KVM_GET_STATS_FD
    FileDescriptor fd(::ioctl(objectFd, KVM_GET_STATS_FD, nullptr));
    if (!fd.valid()) return out;
    kvm_stats_header header{};
    if (::pread(fd.get(), &header, sizeof header, 0) != static_cast<ssize_t>(sizeof header))
        return out;
    if (header.num_desc > 4096 || header.name_size > 1024) return out;
    size_t descSize = sizeof(kvmabi::StatsDescHeader) + header.name_size;
    std::vector<uint8_t> descs(descSize * header.num_desc);
    if (::pread(fd.get(), descs.data(), descs.size(), header.desc_offset) !=
        static_cast<ssize_t>(descs.size()))
        return out;
    for (uint32_t i = 0; i < header.num_desc; ++i) {
        kvmabi::StatsDescHeader d0;
        std::memcpy(&d0, descs.data() + i * descSize, sizeof d0);
        const auto* d = &d0;
        const char* descName = reinterpret_cast<const char*>(descs.data() + i * descSize + sizeof d0);
        uint32_t type = d->flags & KVM_STATS_TYPE_MASK;
        if (d->size != 1 || (type != KVM_STATS_TYPE_CUMULATIVE && type != KVM_STATS_TYPE_INSTANT &&
                             type != KVM_STATS_TYPE_PEAK))
            continue;
        uint64_t value = 0;
        if (::pread(fd.get(), &value, sizeof value, header.data_offset + d->offset) !=
            static_cast<ssize_t>(sizeof value))
            continue;
        std::string name(descName, strnlen(descName, header.name_size));
        out[name] = value;
    }
#else
    (void)objectFd;
#endif
    return out;
}

}  // namespace ingot::vmm
