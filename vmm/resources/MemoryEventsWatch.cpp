#include "resources/MemoryEventsWatch.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <optional>

#include "ingot/core/Size.h"
#include "resources/Cgroup.h"

namespace ingot::vmm {
namespace {

struct Counts {
    uint64_t high = 0, max = 0, oom = 0, oomKill = 0;
};

Counts countsOf(const CgroupStats& s) {
    return {s.memoryHighEvents.value_or(0), s.memoryMaxEvents.value_or(0),
            s.memoryOomEvents.value_or(0), s.memoryOomKillEvents.value_or(0)};
}

std::string limitText(const std::optional<uint64_t>& bytes) {
    return bytes && *bytes != kUnlimited ? " (" + formatSize(*bytes) + ")" : "";
}

}  // namespace

MemoryEventsWatch::MemoryEventsWatch(const std::string& cgroupDir) : dir_(cgroupDir) {
    fd_ = ::open((dir_ + "/memory.events").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return;
    wake_ = ::eventfd(0, EFD_CLOEXEC);
    if (wake_ < 0) {
        ::close(fd_);
        fd_ = -1;
        return;
    }
    thread_ = SmallStackThread([this] { watch(); });
}

MemoryEventsWatch::~MemoryEventsWatch() {
    if (wake_ >= 0) {
        uint64_t one = 1;
        if (::write(wake_, &one, sizeof one) < 0) {
        }
    }
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
    if (wake_ >= 0) ::close(wake_);
}

void MemoryEventsWatch::watch() {
    pthread_setname_np(pthread_self(), "memory-events");
    Counts seen = countsOf(readCgroupStats(dir_));
    for (;;) {
        // A read arms the next notification.
        char buffer[512];
        if (::pread(fd_, buffer, sizeof buffer, 0) < 0) return;
        pollfd fds[2] = {{fd_, POLLPRI, 0}, {wake_, POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (fds[1].revents) return;
        // One read: the counters and the limits they are reported against.
        const CgroupStats stats = readCgroupStats(dir_);
        const Counts now = countsOf(stats);
        if (now.max > seen.max)
            std::cerr << "ingot-vmm: the VM reached its memory.max" << limitText(stats.limits.memoryMax)
                      << " (" << now.max << " times so far): the host is reclaiming its memory, "
                      << "and the kernel kills the VM when nothing is left to reclaim\n";
        if (now.oom > seen.oom)
            std::cerr << "ingot-vmm: the VM's cgroup ran out of memory at its memory.max"
                      << limitText(stats.limits.memoryMax) << "\n";
        if (now.oomKill > seen.oomKill)
            std::cerr << "ingot-vmm: the kernel's OOM killer killed a process in the VM's cgroup\n";
        if (now.high > seen.high && seen.high == 0)
            std::cerr << "ingot-vmm: the VM went over its memory.high"
                      << limitText(stats.limits.memoryHigh)
                      << ": the host reclaims its memory and slows it down\n";
        seen = now;
    }
}

}  // namespace ingot::vmm
