#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

namespace ingot::vmm {

// Why a VM ended. The first stop request wins; later ones (other vCPUs racing to report the
// same poweroff, a SIGTERM during shutdown) are ignored.
enum class StopReason { kNone, kPoweroff, kReboot, kDebugExit, kGuestPanic, kTripleFault, kSignal, kError };

const char* stopReasonName(StopReason reason);

class VmLifecycle {
public:
    // `kick` interrupts every vCPU blocked in KVM_RUN; set by the VM before vCPUs start.
    void setKick(std::function<void()> kick) { kick_ = std::move(kick); }
    void requestStop(StopReason reason, int exitStatus, std::string detail = {});
    // Read by every vCPU before each KVM_RUN: a flag, not the mutex. Sequentially consistent
    // (still a plain load on x86) so that a vCPU that clears kvm_run's immediate_exit after a
    // kick set it is sure to see the stop on its next look.
    bool stopping() const { return stopping_.load(); }
    void waitForStop();
    StopReason reason() const {
        std::lock_guard lock(mutex_);
        return reason_;
    }
    int exitStatus() const {
        std::lock_guard lock(mutex_);
        return exitStatus_;
    }
    std::string detail() const {
        std::lock_guard lock(mutex_);
        return detail_;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable stopped_;
    StopReason reason_ = StopReason::kNone;
    int exitStatus_ = 0;
    std::string detail_;
    std::atomic<bool> stopping_{false};
    std::function<void()> kick_;
};

}  // namespace ingot::vmm
