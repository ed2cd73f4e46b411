#include "VmLifecycle.h"

namespace ingot::vmm {

const char* stopReasonName(StopReason reason) {
    switch (reason) {
        case StopReason::kNone: return "running";
        case StopReason::kPoweroff: return "poweroff";
        case StopReason::kReboot: return "reboot";
        case StopReason::kDebugExit: return "debug-exit";
        case StopReason::kGuestPanic: return "guest-panic";
        case StopReason::kTripleFault: return "triple-fault";
        case StopReason::kSignal: return "signal";
        case StopReason::kError: return "error";
    }
    return "unknown";
}

void VmLifecycle::requestStop(StopReason reason, int exitStatus, std::string detail) {
    {
        std::lock_guard lock(mutex_);
        if (reason_ != StopReason::kNone) return;
        reason_ = reason;
        exitStatus_ = exitStatus;
        detail_ = std::move(detail);
        stopping_.store(true);
    }
    stopped_.notify_all();
    if (kick_) kick_();
}

void VmLifecycle::waitForStop() {
    std::unique_lock lock(mutex_);
    stopped_.wait(lock, [&] { return reason_ != StopReason::kNone; });
}

}  // namespace ingot::vmm
