#pragma once

// Runs a VM process and notes when each console marker first appears (wall time since spawn).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace ingot::bench {

struct ConsoleTimes {
    std::map<std::string, double> seconds;  // marker → first sight
    std::string output;
    int exitStatus = -1;
};

inline ConsoleTimes runWithMarkers(const std::vector<std::string>& argv,
                                   const std::vector<std::string>& markers, double timeout) {
    ConsoleTimes t;
    int out[2];
    if (pipe2(out, O_CLOEXEC) < 0) return t;
    auto start = std::chrono::steady_clock::now();
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
    for (;;) {
        double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (elapsed > timeout) break;
        pollfd p{out[0], POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        ssize_t n = read(out[0], buf, sizeof buf);
        if (n <= 0) break;
        t.output.append(buf, static_cast<size_t>(n));
        double now = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        for (const auto& m : markers)
            if (!t.seconds.count(m) && t.output.find(m) != std::string::npos) t.seconds[m] = now;
    }
    close(out[0]);
    kill(pid, SIGKILL);  // no-op when the guest already ended
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status)) t.exitStatus = WEXITSTATUS(status);
    return t;
}

}  // namespace ingot::bench
