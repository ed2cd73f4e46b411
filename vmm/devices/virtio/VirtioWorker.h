#pragma once

#include <string>
#include <vector>

#include "SmallStackThread.h"
#include "devices/virtio/VirtioMmioTransport.h"
#include "kvm/FileDescriptor.h"

namespace ingot::vmm::virtio {

// The thread a virtio device works on. It waits on one eventfd per queue, which KVM signals
// itself when the guest writes that queue's index to QueueNotify (ioeventfd): a notification
// costs the guest a short exit into the kernel, never a trip through a vCPU thread, and disk
// I/O never stalls a vCPU.
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

private:
    void loop();

    VirtioMmioTransport& transport_;
    std::string threadName_;
    std::vector<FileDescriptor> queueEvents_;
    FileDescriptor stop_;
    SmallStackThread thread_;
};

}  // namespace ingot::vmm::virtio
