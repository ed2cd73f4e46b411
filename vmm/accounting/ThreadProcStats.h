#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kvm/FileDescriptor.h"

namespace ingot::vmm {

// What the kernel's scheduler knows about one thread, from /proc: the time it was runnable but
// waited for a CPU (schedstat's run delay, nanoseconds) and its time in guest mode (stat's
// guest_time, field 43, in clock ticks). Either is absent when the file is missing (a kernel
// without CONFIG_SCHED_INFO has no schedstat) or does not parse.
struct ThreadProcReading {
    std::optional<uint64_t> runDelayNs;
    std::optional<uint64_t> guestTicks;
};

// The two /proc files of the thread that constructs it, kept open so that any thread can read
// them later: a descriptor opened through /proc/thread-self stays bound to that thread. Once
// the thread has exited the reads fail and the figures are absent.
class ThreadProcStats {
public:
    // `dir` is the thread's /proc directory; tests give another one.
    explicit ThreadProcStats(const std::string& dir = "/proc/thread-self");

    ThreadProcReading read() const;

    // schedstat: "<cpu ns> <run delay ns> <timeslices>\n". The run delay, or nothing when the
    // text is not that.
    static std::optional<uint64_t> parseRunDelay(std::string_view schedstat);
    // stat: "pid (comm) state …": field 43, guest_time in clock ticks. comm may hold spaces and
    // parentheses, so fields are counted from the last ')'.
    static std::optional<uint64_t> parseGuestTicks(std::string_view stat);

private:
    FileDescriptor schedstat_;
    FileDescriptor stat_;
};

}  // namespace ingot::vmm
