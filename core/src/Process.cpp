#include "ingot/core/Process.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>

#include "ingot/core/Error.h"

extern char** environ;

namespace ingot {

namespace {

constexpr size_t kStderrKept = 64 * 1024;

struct Pipe {
    int fds[2] = {-1, -1};
    ~Pipe() {
        for (int fd : fds)
            if (fd >= 0) close(fd);
    }
};

}  // namespace

ProcessOutput runProcess(const ProcessSpec& spec) {
    if (spec.argv.empty()) throw Error("runProcess: empty command");
    Pipe out, err;
    if ((spec.captureStdout && pipe2(out.fds, O_CLOEXEC) < 0) || pipe2(err.fds, O_CLOEXEC) < 0)
        throwSystemError("pipe", errno);

    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
        std::string kv(*e);
        auto eq = kv.find('=');
        if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : spec.environment) env[k] = v;
    std::vector<std::string> envStrings;
    for (const auto& [k, v] : env) envStrings.push_back(k + "=" + v);
    std::vector<char*> envp, argv;
    for (auto& s : envStrings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = spec.argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (spec.captureStdout) posix_spawn_file_actions_adddup2(&actions, out.fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err.fds[1], 2);
    // Only 0, 1 and 2 go to the program: whatever else the caller holds (a registry
    // connection, a lock, a file it was handed) is none of its business, and some peers break
    // on inherited descriptors (mmdebstrap's apt download fails when fds above 2 are open).
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (!spec.directory.empty()) posix_spawn_file_actions_addchdir_np(&actions, spec.directory.c_str());
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throwSystemError("cannot run " + spec.argv[0], rc, ExitStatus::kUsage);
    if (spec.captureStdout) {
        close(out.fds[1]);
        out.fds[1] = -1;
    }
    close(err.fds[1]);
    err.fds[1] = -1;

    ProcessOutput result;
    std::vector<pollfd> fds;
    if (spec.captureStdout) fds.push_back({out.fds[0], POLLIN, 0});
    fds.push_back({err.fds[0], POLLIN, 0});
    char buf[65536];
    size_t open = fds.size();
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(spec.timeoutSeconds);
    while (open > 0) {
        int waitMs = -1;
        if (spec.timeoutSeconds > 0 && !result.timedOut) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                // The pipes close once the program (and whatever inherited them) is gone.
                kill(pid, SIGKILL);
                result.timedOut = true;
            } else {
                waitMs = static_cast<int>(std::min<int64_t>(left.count(), 60'000));
            }
        }
        int ready = poll(fds.data(), fds.size(), waitMs);
        if (ready == 0) continue;
        if (ready < 0) {
            if (errno == EINTR) continue;
            throwSystemError("poll", errno);
        }
        for (auto& p : fds) {
            if (p.fd < 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = read(p.fd, buf, sizeof buf);
            if (n <= 0) {
                if (n < 0 && errno == EINTR) continue;
                p.fd = -1;
                --open;
                continue;
            }
            bool isOut = spec.captureStdout && p.fd == out.fds[0];
            std::string& sink = isOut ? result.out : result.err;
            sink.append(buf, static_cast<size_t>(n));
            if (!isOut && sink.size() > 2 * kStderrKept) sink.erase(0, sink.size() - kStderrKept);
        }
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) throwSystemError("waitpid", errno);
    if (result.err.size() > kStderrKept) result.err.erase(0, result.err.size() - kStderrKept);
    result.exitStatus = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

std::string runProcessOrThrow(const ProcessSpec& spec, const std::string& what) {
    auto r = runProcess(spec);
    if (r.exitStatus != 0) {
        std::string command;
        for (const auto& a : spec.argv) command += (command.empty() ? "" : " ") + a;
        std::string tail = r.err.size() > 2000 ? r.err.substr(r.err.size() - 2000) : r.err;
        while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
        throw Error(what + ": `" + command + "` " +
                        (r.exitStatus < 0 ? "was killed" : "exited with " + std::to_string(r.exitStatus)) +
                        (tail.empty() ? "" : ":\n" + tail),
                    ExitStatus::kUsage);
    }
    return r.out;
}

}  // namespace ingot
