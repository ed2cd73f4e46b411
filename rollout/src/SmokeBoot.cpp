#include "ingot/rollout/SmokeBoot.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>

#include "ingot/core/Error.h"
#include "ingot/rollout/ConsolePattern.h"

namespace ingot::rollout {
namespace {

using Clock = std::chrono::steady_clock;

// The clone's `ingot run`, in its own process group, console on two pipes.
class ConsoleProcess {
public:
    ConsoleProcess(const std::vector<std::string>& argv, const std::string& logPath) {
        log_ = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (log_ < 0) throwSystemError("cannot write the smoke console log " + logPath, errno);
        int in[2], out[2];
        if (::pipe2(in, O_CLOEXEC) < 0 || ::pipe2(out, O_CLOEXEC) < 0)
            throwSystemError("cannot make the smoke boot's pipes", errno);
        std::vector<char*> args;
        for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        pid_ = ::fork();
        if (pid_ < 0) throwSystemError("cannot start the smoke boot", errno);
        if (pid_ == 0) {
            ::setpgid(0, 0);
            ::signal(SIGPIPE, SIG_DFL);  // ignored by the rollout only while it types
            ::dup2(in[0], STDIN_FILENO);
            ::dup2(out[1], STDOUT_FILENO);
            ::dup2(out[1], STDERR_FILENO);
            ::execvp(args[0], args.data());
            ::_exit(127);
        }
        ::setpgid(pid_, pid_);
        ::close(in[0]);
        ::close(out[1]);
        input_ = in[1];
        output_ = out[0];
    }
    ~ConsoleProcess() {
        stop();
        if (input_ >= 0) ::close(input_);
        ::close(output_);
        ::close(log_);
    }

    // Up to `until`, new console text; nullopt once the console closed (the clone ended).
    std::optional<std::string> read(Clock::time_point until) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
        pollfd p{output_, POLLIN, 0};
        int n = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
        if (n < 0 && errno != EINTR) throwSystemError("poll on the smoke console", errno);
        if (n <= 0) return std::string();
        char buf[4096];
        ssize_t got = ::read(output_, buf, sizeof buf);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) return std::string();
        if (got <= 0) return std::nullopt;
        if (::write(log_, buf, static_cast<size_t>(got)) < 0) {
            // The log is evidence, not the check: a full disk must not fail a good image here.
        }
        return std::string(buf, static_cast<size_t>(got));
    }

    bool type(const std::string& line) {
        size_t done = 0;
        while (done < line.size()) {
            ssize_t n = ::write(input_, line.data() + done, line.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            done += static_cast<size_t>(n);
        }
        return true;
    }

    // SIGTERM asks `ingot run` to stop the clone; its whole group is killed if it does not.
    int stop() {
        if (pid_ <= 0) return status_;
        ::kill(pid_, SIGTERM);
        for (int i = 0; i < 300 && !exited(); ++i) {
            drain();
            ::usleep(100 * 1000);
        }
        return reap();
    }

    // After the console closed: the exit status of `ingot run`.
    int wait() {
        if (pid_ <= 0) return status_;
        siginfo_t info{};
        while (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) < 0 &&
               errno == EINTR) {
        }
        return reap();
    }

private:
    // Whether the leader has exited; it is left unreaped.
    bool exited() {
        siginfo_t info{};
        return ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
               info.si_pid == pid_;
    }
    // Whatever of the group outlives its leader (a command still running at the prompt when
    // the shell died of SIGTERM, say) is killed while the unreaped leader still holds the
    // group's id, so that no other group can have it; then the leader is reaped.
    int reap() {
        ::kill(-pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        finish(status);
        return status_;
    }
    void finish(int status) {
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        pid_ = -1;
    }
    // Keeps the log complete while the clone shuts down.
    void drain() {
        pollfd p{output_, POLLIN, 0};
        while (::poll(&p, 1, 0) > 0) {
            char buf[4096];
            ssize_t got = ::read(output_, buf, sizeof buf);
            if (got <= 0) return;
            if (::write(log_, buf, static_cast<size_t>(got)) < 0) return;
        }
    }

    pid_t pid_ = -1;
    int status_ = -1;
    int input_ = -1, output_ = -1, log_ = -1;
};

// Lines of console text, the last one possibly still being written (a prompt has no newline).
class ConsoleLines {
public:
    void add(const std::string& text) {
        for (char c : text) {
            if (c == '\n') {
                complete_.push_back(std::move(partial_));
                partial_.clear();
            } else if (partial_.size() < 4096) {
                partial_ += c;
            }
        }
    }
    // The first complete line from `from` on matching `pattern`, or the partial line.
    std::optional<std::vector<std::string>> find(const ConsolePattern& pattern, size_t& from,
                                                 bool partialToo) {
        for (; from < complete_.size(); ++from)
            if (auto m = pattern.search(complete_[from])) {
                ++from;
                return m;
            }
        if (partialToo) return pattern.search(partial_);
        return std::nullopt;
    }
    std::string last() const {
        if (!partial_.empty()) return partial_;
        for (auto it = complete_.rbegin(); it != complete_.rend(); ++it)
            if (!it->empty()) return *it;
        return {};
    }
    size_t completeCount() const { return complete_.size(); }

private:
    std::vector<std::string> complete_;
    std::string partial_;
};

std::string quoteForReason(std::string text) {
    for (char& c : text)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    if (text.size() > 200) text = text.substr(text.size() - 200);
    return "'" + text + "'";
}

}  // namespace

std::string ConsoleText::feed(const std::string& bytes) {
    std::string out;
    for (char ch : bytes) {
        const unsigned char c = static_cast<unsigned char>(ch);
        switch (state_) {
            case State::kText:
                if (c == 0x1b) state_ = State::kEscape;
                else if (c != '\r' && c != 0) out += ch;
                break;
            case State::kEscape:
                // CSI (ESC [), OSC and other strings (ESC ] P ^ _), intermediate bytes up to the
                // final byte (ESC ( B), else a two-byte sequence.
                state_ = c == '[' ? State::kCsi
                         : (c == ']' || c == 'P' || c == '^' || c == '_') ? State::kString
                         : (c >= 0x20 && c <= 0x2f)                       ? State::kEscape
                                                                          : State::kText;
                break;
            case State::kCsi:
                if (c >= 0x40 && c <= 0x7e) state_ = State::kText;
                break;
            case State::kString:
                // Ended by BEL or ST (ESC \): the ESC of ST starts an escape that takes the '\'.
                if (c == 0x07) state_ = State::kText;
                else if (c == 0x1b) state_ = State::kEscape;
                break;
        }
    }
    return out;
}

SmokeOutcome runSmoke(const SmokeRequest& request) {
    SmokeOutcome outcome;
    outcome.consoleLog = request.consoleLog;
    const auto started = Clock::now();
    const auto elapsed = [&] {
        return std::chrono::duration<double>(Clock::now() - started).count();
    };
    const ConsolePattern prompt(request.spec.expect);
    // A child that closed its console must not kill the rollout with SIGPIPE when typed to.
    // Ignored for the smoke boot only: what the rollout starts later gets the disposition back.
    struct IgnorePipe {
        void (*saved)(int) = ::signal(SIGPIPE, SIG_IGN);
        ~IgnorePipe() { ::signal(SIGPIPE, saved); }
    } ignorePipe;
    ConsoleProcess clone(request.command, request.consoleLog);
    ConsoleText text;
    ConsoleLines lines;
    size_t scanned = 0;

    const auto fail = [&](const std::string& why) {
        outcome.result = "failed";
        outcome.reason = why;
        clone.stop();
        outcome.seconds = elapsed();
        return outcome;
    };
    // Reads until `pattern` shows up or `until` passes; false with the reason set otherwise.
    std::optional<std::vector<std::string>> match;
    std::string why;
    const auto await = [&](const ConsolePattern& pattern, Clock::time_point until, bool partialToo,
                           const std::string& what) {
        for (;;) {
            if ((match = lines.find(pattern, scanned, partialToo))) return true;
            if (Clock::now() >= until) {
                why = what + " did not come within the deadline; the console's last line: " +
                      quoteForReason(lines.last());
                return false;
            }
            std::optional<std::string> got = clone.read(until);
            if (!got) {
                const int status = clone.wait();
                why = "the clone stopped (ingot run exited " + std::to_string(status) + ") before " +
                      what + "; the console's last line: " + quoteForReason(lines.last());
                return false;
            }
            lines.add(text.feed(*got));
        }
    };

    if (!await(prompt, started + request.spec.deadline, true,
               "the prompt (/" + request.spec.expect + "/)"))
        return fail(why);
    for (size_t k = 0; k < request.spec.commands.size(); ++k) {
        const std::string& command = request.spec.commands[k];
        // The status line as printed differs from the line as echoed ("%s=%d" is not
        // "ingot-smoke-K="), so the echo of what was typed never counts as the answer.
        const std::string marker = "ingot-smoke-" + std::to_string(k);
        scanned = lines.completeCount();
        if (!clone.type(command + " ; printf '%s=%d\\n' " + marker + " \"$?\"\n"))
            return fail("the console closed before '" + command + "' could be typed");
        const ConsolePattern answer(marker + "=([0-9]+)");
        if (!await(answer,
                   Clock::now() + request.spec.commandTimeout, false, "the end of '" + command + "'"))
            return fail(why);
        const std::string status = (*match)[1];
        if (status != "0") return fail("'" + command + "' exited " + status);
        // The next command is typed once the prompt is back.
        if (!await(prompt, Clock::now() + request.spec.commandTimeout, true,
                   "the prompt after '" + command + "'"))
            return fail(why);
    }
    outcome.result = "passed";
    clone.stop();
    outcome.seconds = elapsed();
    return outcome;
}

}  // namespace ingot::rollout
