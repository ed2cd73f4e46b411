#pragma once

// Shared by the benches that race ingot-vmm against QEMU: run one monitor process with its
// console on a pipe, hand each console line to the caller as it arrives (so the caller can
// sample the live process — KVM's exit counter, /proc — at that moment), and end the process
// once the caller has what it needs or the deadline passes.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ingot::bench {

// Exits of the VM owned by `pid`, from KVM's debugfs directory "<pid>-<vmfd>" (summed over VMs,
// though a monitor has one).
inline std::optional<uint64_t> vmExits(pid_t pid) {
    DIR* d = opendir("/sys/kernel/debug/kvm");
    if (!d) return std::nullopt;
    std::optional<uint64_t> result;
    std::string prefix = std::to_string(pid) + "-";
    while (dirent* e = readdir(d)) {
        if (std::string(e->d_name).rfind(prefix, 0) != 0) continue;
        std::ifstream f(std::string("/sys/kernel/debug/kvm/") + e->d_name + "/exits");
        uint64_t v;
        if (f >> v) result = result.value_or(0) + v;
    }
    closedir(d);
    return result;
}

struct MonitorRun {
    std::string output;   // the whole console, for failure reports
    int exitStatus = -1;  // -1 when killed (deadline or the caller stopped it)
    bool timedOut = false;
};

// What the caller's line handler decides.
enum class Watch { Continue, Stop };

// Runs argv with stdin on /dev/null and stdout+stderr on a pipe. onLine(pid, line, seconds) sees
// every console line (without its line ending) the moment it is complete, with the wall time
// since the spawn; the process is still alive then, so sampling it is exact to the line. Stop
// kills the process at once; otherwise the run ends when the process closes its console (or at
// `timeout` seconds, when it is killed).
template <typename OnLine>
MonitorRun runMonitor(const std::vector<std::string>& argv, double timeout, OnLine&& onLine) {
    MonitorRun r;
    int out[2];
    if (pipe2(out, O_CLOEXEC) < 0) return r;
    auto start = std::chrono::steady_clock::now();
    auto elapsed = [&] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        _exit(127);
    }
    close(out[1]);
    char buf[4096];
    size_t lineStart = 0;
    bool stopped = false;
    while (!stopped) {
        if (elapsed() > timeout) {
            r.timedOut = true;
            break;
        }
        pollfd p{out[0], POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        ssize_t n = read(out[0], buf, sizeof buf);
        if (n <= 0) break;
        r.output.append(buf, static_cast<size_t>(n));
        double now = elapsed();
        for (size_t nl; !stopped && (nl = r.output.find('\n', lineStart)) != std::string::npos;
             lineStart = nl + 1) {
            std::string_view line(r.output.data() + lineStart, nl - lineStart);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            stopped = onLine(pid, line, now) == Watch::Stop;
        }
    }
    if (!stopped && !r.timedOut && lineStart < r.output.size())
        onLine(pid, std::string_view(r.output).substr(lineStart), elapsed());
    close(out[0]);
    kill(pid, SIGKILL);  // no-op when the guest already ended
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status)) r.exitStatus = WEXITSTATUS(status);
    return r;
}

}  // namespace ingot::bench
