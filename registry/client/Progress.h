#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace ingot::registry {

// A one-line progress bar on stderr — bytes done of the total, rate, ETA — redrawn at most ten
// times a second, and only when stderr is a terminal (logs and tests get the summary lines
// alone). Thread-safe: transfer threads report bytes as they move them.
class Progress {
public:
    Progress(std::string label, uint64_t totalBytes);
    ~Progress();
    void add(uint64_t bytes);
    // Ends the bar's line.
    void finish();
    uint64_t done() const { return done_.load(); }

private:
    void draw(bool force);

    std::string label_;
    uint64_t total_;
    std::atomic<uint64_t> done_{0};
    bool terminal_;
    bool finished_ = false;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point lastDraw_{};
    std::mutex drawMutex_;
};

}  // namespace ingot::registry
