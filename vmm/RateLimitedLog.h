#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace ingot::vmm {

// Reports guest-caused device errors on stderr without letting a guest flood the host's log:
// the first report is printed, later ones at most once per interval, each saying how many were
// left out in between. A broken or hostile driver can fail requests in a tight loop; the
// monitor's log must stay readable and its stderr must not become the bottleneck.
class RateLimitedLog {
public:
    using Sink = std::function<void(const std::string& line)>;
    using Clock = std::chrono::steady_clock;

    explicit RateLimitedLog(std::string source,
                            std::chrono::nanoseconds interval = std::chrono::seconds(5))
        : source_(std::move(source)), interval_(interval) {}

    // Tests capture the lines instead of printing them, and may want every one of them.
    void setSink(Sink sink) {
        std::lock_guard lock(mutex_);
        sink_ = std::move(sink);
    }
    void setInterval(std::chrono::nanoseconds interval) {
        std::lock_guard lock(mutex_);
        interval_ = interval;
    }

    void report(const std::string& message) {
        std::string line;
        {
            std::lock_guard lock(mutex_);
            ++total_;
            auto now = Clock::now();
            if (printed_ != 0 && now - last_ < interval_) {
                ++suppressed_;
                return;
            }
            line = "ingot-vmm: " + source_ + ": " + message;
            if (suppressed_)
                line += " (" + std::to_string(suppressed_) + " similar message" +
                        (suppressed_ == 1 ? "" : "s") + " left out)";
            line += "\n";
            suppressed_ = 0;
            last_ = now;
            ++printed_;
            if (sink_) {
                sink_(line);
                return;
            }
        }
        writeToStderr(line);
    }

    // Prints how many lines were left out since the last one printed, if any: called when the
    // device goes away, so a burst at the end of a run is still counted in the log.
    void flushSuppressed() {
        std::string line;
        {
            std::lock_guard lock(mutex_);
            if (!suppressed_) return;
            line = "ingot-vmm: " + source_ + ": " + std::to_string(suppressed_) +
                   " similar message" + (suppressed_ == 1 ? "" : "s") +
                   " left out since the last one\n";
            suppressed_ = 0;
            if (sink_) {
                sink_(line);
                return;
            }
        }
        writeToStderr(line);
    }

    uint64_t total() const {
        std::lock_guard lock(mutex_);
        return total_;
    }
    const std::string& source() const { return source_; }

private:
    // One write(2) per line, so lines from several device threads never interleave.
    static void writeToStderr(const std::string& line) {
        if (::write(STDERR_FILENO, line.data(), line.size()) < 0) {
        }
    }

    const std::string source_;
    std::chrono::nanoseconds interval_;
    mutable std::mutex mutex_;
    Sink sink_;
    Clock::time_point last_{};
    uint64_t printed_ = 0;
    uint64_t suppressed_ = 0;
    uint64_t total_ = 0;
};

}  // namespace ingot::vmm
