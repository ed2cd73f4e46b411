#pragma once

// Runs ingot-vmm (or any command) as a child with captured output, optional input and a
// deadline, for tests that assert on what a guest printed and how the monitor exited.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace ingot::testing {

struct ProcessResult {
    int exitStatus = -1;  // -1: killed by a signal or by the deadline
    bool timedOut = false;
    std::string output;   // stdout and stderr interleaved
    double seconds = 0;
};

inline std::string requireEnv(const char* name) {
    const char* v = std::getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "environment variable %s is not set (run through ctest)\n", name);
        std::exit(2);
    }
    return v;
}

// A scratch directory of this test process's own under INGOT_TEST_SCRATCH: the rig runs each kvm
// test in its own process and several at once, so fixed names there would collide. Removed when
// the process ends.
inline std::string processScratchDir() {
    struct Owned {
        std::filesystem::path path;
        Owned() {
            // mkdtemp, not the pid: every rig boot is a fresh guest, so two rigs running at once
            // give their test processes the same pid.
            auto root = std::filesystem::path(requireEnv("INGOT_TEST_SCRATCH"));
            std::filesystem::create_directories(root);
            std::string pattern = (root / "run.XXXXXX").string();
            if (!mkdtemp(pattern.data())) {
                perror(("mkdtemp " + pattern).c_str());
                std::exit(2);
            }
            path = pattern;
        }
        ~Owned() {
            std::error_code ignored;
            std::filesystem::remove_all(path, ignored);
        }
    };
    static Owned owned;
    return owned.path.string();
}

struct ProcessOptions {
    std::string input;          // written to the child's stdin
    std::string inputAfter;     // when set, the input waits until the output contains this
    double timeoutSeconds = 300;
    double sigtermAfterSeconds = 0;  // when > 0, SIGTERM the child after this long…
    std::string sigtermAfterOutput;  // …counted from when the output contains this (if set)
};

// Starts argv[0] (a path) with stdin from a pipe (*input, to write) and stdout and stderr to
// one pipe (*output, to read). Returns the pid, or -1 when the pipes cannot be made.
inline pid_t spawnWithPipes(const std::vector<std::string>& argv, int* input, int* output) {
    int out[2], in[2];
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(in, O_CLOEXEC) < 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    close(out[1]);
    close(in[0]);
    *input = in[1];
    *output = out[0];
    return pid;
}

inline ProcessResult runProcess(const std::vector<std::string>& argv, const ProcessOptions& options) {
    auto start = std::chrono::steady_clock::now();
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    pid_t pid = spawnWithPipes(argv, &in[1], &out[0]);
    if (pid < 0) return {};
    bool inputSent = options.input.empty();
    auto sendInput = [&] {
        if (write(in[1], options.input.data(), options.input.size()) < 0) {
        }
        inputSent = true;
    };
    if (!inputSent && options.inputAfter.empty()) sendInput();
    ProcessResult r;
    bool terminated = false;
    // A signal sent before the child has blocked it kills the child outright; a test that means
    // to stop a running monitor waits until the monitor says it runs.
    bool sigtermArmed = options.sigtermAfterOutput.empty();
    double sigtermBase = 0;
    char buf[4096];
    for (;;) {
        double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (elapsed > options.timeoutSeconds) {
            kill(pid, SIGKILL);
            r.timedOut = true;
            break;
        }
        if (options.sigtermAfterSeconds > 0 && sigtermArmed && !terminated &&
            elapsed > sigtermBase + options.sigtermAfterSeconds) {
            kill(pid, SIGTERM);
            terminated = true;
        }
        pollfd p{out[0], POLLIN, 0};
        int n = poll(&p, 1, 200);
        if (n <= 0) continue;
        ssize_t got = read(out[0], buf, sizeof buf);
        if (got <= 0) break;
        r.output.append(buf, static_cast<size_t>(got));
        if (!inputSent && r.output.find(options.inputAfter) != std::string::npos) sendInput();
        if (!sigtermArmed && r.output.find(options.sigtermAfterOutput) != std::string::npos) {
            sigtermArmed = true;
            sigtermBase = elapsed;
        }
    }
    close(out[0]);
    close(in[1]);
    // After end-of-output the child is exiting; after the deadline it was killed. A child stuck
    // in uninterruptible sleep must still not hang the whole suite: give up after a minute.
    int status = 0;
    bool reaped = false;
    for (int tick = 0; tick < 6000; ++tick) {
        reaped = waitpid(pid, &status, WNOHANG) == pid;
        if (reaped) break;
        if (tick == 3000) kill(pid, SIGKILL);
        usleep(10 * 1000);
    }
    if (!reaped) {
        r.output += "\n[runProcess: the child did not end within a minute, even after SIGKILL]\n";
        r.timedOut = true;
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!r.timedOut && WIFEXITED(status)) r.exitStatus = WEXITSTATUS(status);
    return r;
}

}  // namespace ingot::testing
