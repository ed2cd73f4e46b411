#pragma once

#include <cstdint>
#include <string>

#include "SmallStackThread.h"

namespace ingot::vmm {

// Says on the monitor's stderr, as it happens, when the VM's cgroup hits memory.high or
// memory.max or runs out of memory (the counters of memory.events). A memory.max below what the
// guest touches ends in the kernel's OOM killer taking the monitor: the line written when the
// limit is first hit, before the kernel gives up reclaiming, is what tells the user why.
//
// The kernel marks memory.events changed for poll (POLLPRI) on every new event, so the thread
// sleeps until then. Nothing happens without a cgroup or a memory controller.
class MemoryEventsWatch {
public:
    // `cgroupDir` is the VM's cgroup; an unreadable memory.events makes this do nothing.
    explicit MemoryEventsWatch(const std::string& cgroupDir);
    ~MemoryEventsWatch();
    MemoryEventsWatch(const MemoryEventsWatch&) = delete;
    MemoryEventsWatch& operator=(const MemoryEventsWatch&) = delete;

private:
    void watch();

    std::string dir_;
    int fd_ = -1;
    int wake_ = -1;
    SmallStackThread thread_;
};

}  // namespace ingot::vmm
