#pragma once

// A monitor driven step by step: wait for guest output, signal it, type to its console.
// (runProcess runs a child to the end; these steps happen while it runs.)
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "VmmProcess.h"

namespace ingot::testing {

class LiveMonitor {
public:
    explicit LiveMonitor(const std::vector<std::string>& argv) {
        pid_ = spawnWithPipes(argv, &in_, &out_);
    }
    ~LiveMonitor() {
        if (pid_ > 0 && !reaped_) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        if (out_ >= 0) close(out_);
        if (in_ >= 0) close(in_);
    }

    // Reads output until it holds `text` (true) or the deadline or end of output (false).
    bool waitFor(const std::string& text, double seconds) {
        auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
        while (output_.find(text) == std::string::npos) {
            if (std::chrono::steady_clock::now() > end || !readSome()) return false;
        }
        return true;
    }
    void type(const std::string& line) {
        if (write(in_, line.data(), line.size()) < 0) {
        }
    }
    void signal(int sig) { kill(pid_, sig); }
    pid_t pid() const { return pid_; }
    // Reads to the end of output and reaps the monitor: its exit status, or -1 when it had to
    // be killed at the deadline.
    int finish(double seconds) {
        auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
        while (std::chrono::steady_clock::now() < end && readSome()) {
        }
        // The output ends while the monitor is still exiting: wait for that, not for ever.
        int status = 0;
        while (waitpid(pid_, &status, WNOHANG) != pid_) {
            if (std::chrono::steady_clock::now() > end) {
                kill(pid_, SIGKILL);
                waitpid(pid_, &status, 0);
                reaped_ = true;
                return -1;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    const std::string& output() const { return output_; }

private:
    bool readSome() {
        pollfd p{out_, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) return true;
        char buf[4096];
        ssize_t got = read(out_, buf, sizeof buf);
        if (got <= 0) return false;
        output_.append(buf, static_cast<size_t>(got));
        return true;
    }

    pid_t pid_ = -1;
    int out_ = -1, in_ = -1;
    bool reaped_ = false;
    std::string output_;
};

}  // namespace ingot::testing
