#include "Progress.h"

#include <unistd.h>

#include <cstdio>

#include "ingot/core/Size.h"

namespace ingot::registry {

Progress::Progress(std::string label, uint64_t totalBytes)
    : label_(std::move(label)),
      total_(totalBytes),
      terminal_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
    finish();
}

void Progress::add(uint64_t bytes) {
    done_ += bytes;
    draw(false);
}

void Progress::finish() {
    std::lock_guard lock(drawMutex_);
    if (finished_) return;
    finished_ = true;
    if (terminal_) std::fputc('\n', stderr);
}

void Progress::draw(bool force) {
    if (!terminal_) return;
    std::lock_guard lock(drawMutex_);
    if (finished_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!force && now - lastDraw_ < std::chrono::milliseconds(100)) return;
    lastDraw_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const uint64_t done = done_.load();
    const double rate = seconds > 0 ? done / seconds : 0;
    const int width = 24;
    const int filled = total_ ? static_cast<int>(width * std::min<double>(1.0, double(done) / total_)) : width;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(width, '.');
    std::string eta = "--";
    if (rate > 0 && total_ > done) {
        char t[16];
        std::snprintf(t, sizeof t, "%.0fs", (total_ - done) / rate);
        eta = t;
    }
    std::fprintf(stderr, "\r\033[K%s [%s] %s / %s  %s/s  ETA %s", label_.c_str(), bar.c_str(),
                 formatSize(done).c_str(), formatSize(total_).c_str(), formatSize(static_cast<uint64_t>(rate)).c_str(),
                 eta.c_str());
    std::fflush(stderr);
}

}  // namespace ingot::registry
