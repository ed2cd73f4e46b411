#include "devices/virtio/VirtioWorker.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ingot/core/Error.h"

namespace ingot::vmm::virtio {

namespace {
FileDescriptor makeEventFd(const std::string& what) {
    int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) throwSystemError("eventfd for " + what, errno);
    return FileDescriptor(fd);
}
void signal(int fd) {
    uint64_t one = 1;
    // EAGAIN means the counter is saturated: the reader wakes anyway.
    if (::write(fd, &one, sizeof one) < 0) {
    }
}
}  // namespace

VirtioWorker::VirtioWorker(VirtioMmioTransport& transport, std::string threadName)
    : transport_(transport), threadName_(std::move(threadName)) {
    for (unsigned q = 0; q < transport_.queueCount(); ++q)
        queueEvents_.push_back(makeEventFd(threadName_ + " queue " + std::to_string(q)));
    stop_ = makeEventFd(threadName_ + " stop");
    thread_ = SmallStackThread([this] { loop(); });
}

VirtioWorker::~VirtioWorker() {
    signal(stop_.get());
    thread_.join();
}

void VirtioWorker::notify(unsigned queue) {
    if (queue < queueEvents_.size()) signal(queueEvents_[queue].get());
}

void VirtioWorker::loop() {
    pthread_setname_np(pthread_self(), threadName_.substr(0, 15).c_str());
    std::vector<pollfd> fds;
    for (const auto& e : queueEvents_) fds.push_back({e.get(), POLLIN, 0});
    fds.push_back({stop_.get(), POLLIN, 0});
    for (;;) {
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            transport_.device().log().report(std::string("worker stopped: poll: ") +
                                             std::strerror(errno));
            return;
        }
        if (fds.back().revents) return;
        for (unsigned q = 0; q < queueEvents_.size(); ++q) {
            if (!fds[q].revents) continue;
            uint64_t count;
            // Reset the counter before looking at the ring: a notification that arrives while
            // the queue is processed then wakes the next poll rather than getting lost.
            if (::read(fds[q].fd, &count, sizeof count) < 0 && errno != EAGAIN) continue;
            transport_.processQueue(q);
        }
    }
}

}  // namespace ingot::vmm::virtio
