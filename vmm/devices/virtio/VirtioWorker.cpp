#include "devices/virtio/VirtioWorker.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

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
    int timer = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (timer < 0) throwSystemError("timerfd for " + threadName_, errno);
    timer_ = FileDescriptor(timer);
    // Before the thread starts, and before the transport is on the bus: nothing processes the
    // device's queues yet.
    throttleable_ = dynamic_cast<Throttleable*>(&transport_.device());
    if (throttleable_)
        throttleable_->setWakeUp(
            [this](unsigned queue, std::chrono::nanoseconds after) { wakeAfter(queue, after); });
    hostInput_ = dynamic_cast<HostInput*>(&transport_.device());
    thread_ = SmallStackThread([this] { loop(); });
}

VirtioWorker::~VirtioWorker() {
    signal(stop_.get());
    thread_.join();
    if (throttleable_) throttleable_->setWakeUp(nullptr);
}

void VirtioWorker::notify(unsigned queue) {
    if (queue < queueEvents_.size()) signal(queueEvents_[queue].get());
}

void VirtioWorker::wakeAfter(unsigned queue, std::chrono::nanoseconds after) {
    if (queue >= queueEvents_.size() || queue >= 64) return;
    // A zero it_value would disarm the timer instead of firing it at once.
    after = std::max<std::chrono::nanoseconds>(after, std::chrono::microseconds(1));
    const auto deadline = std::chrono::steady_clock::now() + after;
    std::lock_guard lock(timerMutex_);
    timerQueues_ |= uint64_t{1} << queue;
    if (timerArmed_ && timerDeadline_ <= deadline) return;
    itimerspec spec{};
    spec.it_value.tv_sec = static_cast<time_t>(after.count() / 1'000'000'000);
    spec.it_value.tv_nsec = static_cast<long>(after.count() % 1'000'000'000);
    if (::timerfd_settime(timer_.get(), 0, &spec, nullptr) < 0) {
        // Cannot happen with a valid fd and value; the next notification resumes the queue.
        transport_.device().log().report(std::string("rate-limit timer: timerfd_settime: ") +
                                         std::strerror(errno));
        return;
    }
    timerArmed_ = true;
    timerDeadline_ = deadline;
}

void VirtioWorker::timerExpired() {
    uint64_t expirations;
    if (::read(timer_.get(), &expirations, sizeof expirations) < 0) return;  // EAGAIN: re-armed
    uint64_t queues;
    {
        std::lock_guard lock(timerMutex_);
        queues = std::exchange(timerQueues_, 0);
        timerArmed_ = false;
    }
    for (unsigned q = 0; q < queueEvents_.size() && q < 64; ++q)
        if (queues & (uint64_t{1} << q)) transport_.processQueue(q);
}

void VirtioWorker::loop() {
    pthread_setname_np(pthread_self(), threadName_.substr(0, 15).c_str());
    std::vector<pollfd> fds;
    for (const auto& e : queueEvents_) fds.push_back({e.get(), POLLIN, 0});
    const size_t hostSlot = fds.size();
    fds.push_back({hostInput_ ? hostInput_->hostInputFd() : -1, 0, 0});
    const size_t timerSlot = fds.size();
    fds.push_back({timer_.get(), POLLIN, 0});
    fds.push_back({stop_.get(), POLLIN, 0});
    for (;;) {
        // Only while the device has somewhere to put it: a readable tap the device cannot take
        // from would wake this loop forever.
        if (hostInput_) fds[hostSlot].events = hostInput_->wantsHostInput() ? POLLIN : 0;
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
        if (const short host = fds[hostSlot].revents) {
            if (host & POLLIN) {
                transport_.processQueue(hostInput_->hostInputQueue());
            } else {
                // An error or hang-up is reported whatever the events asked for: stop polling
                // the descriptor rather than spin on it.
                transport_.device().log().report("host input descriptor failed (poll revents " +
                                                 std::to_string(host) + "); no more input");
                fds[hostSlot].fd = -1;
            }
        }
        if (fds[timerSlot].revents) timerExpired();
    }
}

}  // namespace ingot::vmm::virtio
