#include "VcpuAccounting.h"

#include <pthread.h>
#include <unistd.h>

namespace ingot::vmm {

namespace {
uint64_t readClock(clockid_t clock) {
    timespec ts{};
    if (clock_gettime(clock, &ts) != 0) return 0;
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}
}  // namespace

VcpuAccounting::VcpuAccounting(std::vector<std::string> pioNames, std::vector<std::string> mmioNames)
    : pioNames_(std::move(pioNames)),
      mmioNames_(std::move(mmioNames)),
      pio_(new ExitCounter[pioNames_.size() + 1]),
      mmio_(new ExitCounter[mmioNames_.size() + 1]),
      ticksPerSecond_(::sysconf(_SC_CLK_TCK)) {}

void VcpuAccounting::threadStarted() {
    proc_ = std::make_unique<ThreadProcStats>();
    // The thread's CPU clock as an id any thread can read; CLOCK_THREAD_CPUTIME_ID would be
    // the reader's own.
    if (pthread_getcpuclockid(pthread_self(), &cpuClock_) != 0) cpuClock_ = CLOCK_THREAD_CPUTIME_ID;
    start_ = sample();
    started_.store(true, std::memory_order_release);
}

void VcpuAccounting::threadFinished() {
    end_ = sample();
    finished_.store(true, std::memory_order_release);
}

VcpuSample VcpuAccounting::sample() const {
    VcpuSample s;
    s.monotonicNs = monotonicNs();
    s.cpuNs = readClock(cpuClock_);
    auto proc = proc_->read();
    s.runDelayNs = proc.runDelayNs;
    s.guestTicks = proc.guestTicks;
    return s;
}

VcpuExitCounts VcpuAccounting::exitCounts() const {
    VcpuExitCounts c;
    auto load = [](const ExitCounter& e) {
        return ExitFigure{e.count.load(std::memory_order_relaxed), e.ns.load(std::memory_order_relaxed)};
    };
    for (uint32_t r = 0; r < kReasonSlots; ++r) {
        auto e = load(reasons_[r]);
        if (e.count) c.byReason[r + 1 < kReasonSlots ? exitReasonName(r) : "reason-other"] = e;
    }
    auto devices = [&](const std::vector<std::string>& names, const ExitCounter* slots,
                       const char* bus) {
        for (size_t i = 0; i <= names.size(); ++i) {
            auto e = load(slots[i]);
            if (!e.count) continue;
            // Several ranges of one device (or two devices of one name) are one entry.
            auto& d = c.byDevice[i < names.size() ? names[i] : std::string("unclaimed-") + bus];
            d.bus = bus;
            d.exits.count += e.count;
            d.exits.ns += e.ns;
        }
    };
    devices(pioNames_, pio_.get(), "pio");
    devices(mmioNames_, mmio_.get(), "mmio");
    return c;
}

VcpuFigures VcpuAccounting::figures(unsigned index, const std::map<std::string, uint64_t>& kvm) const {
    if (!started_.load(std::memory_order_acquire)) {
        VcpuFigures f;
        f.index = index;
        return f;
    }
    VcpuSample now;
    if (finished_.load(std::memory_order_acquire)) {
        now = end_;
    } else {
        now = sample();
        // The thread may have ended (and its id been reused) while this read its clock and
        // files: its own last readings are the ones that count then.
        if (finished_.load(std::memory_order_acquire)) now = end_;
    }
    return vcpuFigures(index, start_, now, exitCounts(), kvm, ticksPerSecond_);
}

}  // namespace ingot::vmm
