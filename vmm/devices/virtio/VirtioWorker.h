#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "SmallStackThread.h"
#include "devices/virtio/RateLimiter.h"
#include "devices/virtio/VirtioMmioTransport.h"
#include "kvm/FileDescriptor.h"

namespace ingot::vmm::virtio {

// The thread a virtio device works on. It waits on one eventfd per queue, which KVM signals
// itself when the guest writes that queue's index to QueueNotify (ioeventfd): a notification
// costs the guest a short exit into the kernel, never a trip through a vCPU thread, and disk
// I/O never stalls a vCPU.
//
// It also waits on a timerfd (CLOCK_MONOTONIC, which std::chrono::steady_clock reads): a device
// that stops early because of a rate limit (a Throttleable device, which the worker hands
// wakeAfter at construction) gets its queue processed again when its tokens are back, without
// the guest having to notify again.
//
// A device with host-side input (HostInput: virtio-net's tap) also gets its descriptor polled,
// while the device wants input.
class VirtioWorker {
public:
    // Starts the thread. Throws ingot::Error when eventfds or the thread cannot be created.
    VirtioWorker(VirtioMmioTransport& transport, std::string threadName);
    // Stops the thread after the work in progress.
    ~VirtioWorker();
    VirtioWorker(const VirtioWorker&) = delete;
    VirtioWorker& operator=(const VirtioWorker&) = delete;

    int queueEventFd(unsigned queue) const { return queueEvents_[queue].get(); }
    // For notifications that reached the monitor as MMIO exits after all.
    void notify(unsigned queue);
    // Processes `queue` again `after` from now (at the earliest; at least 1 µs). Several
    // requests share one timer set to the earliest of them; every queue asked for is processed
    // when it fires, and a queue that is still short asks again. Any thread.
    void wakeAfter(unsigned queue, std::chrono::nanoseconds after);

private:
    void loop();
    void timerExpired();

    VirtioMmioTransport& transport_;
    std::string threadName_;
    std::vector<FileDescriptor> queueEvents_;
    FileDescriptor stop_;
    FileDescriptor timer_;
    Throttleable* throttleable_ = nullptr;  // the device, when it can be throttled
    HostInput* hostInput_ = nullptr;        // the device, when it takes host input

    std::mutex timerMutex_;     // guards the three below
    uint64_t timerQueues_ = 0;  // bit q: process queue q when the timer fires
    bool timerArmed_ = false;
    std::chrono::steady_clock::time_point timerDeadline_{};

    SmallStackThread thread_;
};

}  // namespace ingot::vmm::virtio
