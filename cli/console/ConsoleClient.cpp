#include "console/ConsoleClient.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "console/WriteAll.h"
#include "ingot/core/Error.h"
#include "ingot/core/RawTerminal.h"

namespace ingot::cli::console {
namespace {

// SIGINT, SIGTERM and SIGHUP as readable events for as long as it lives.
class StopSignals {
public:
    StopSignals() {
        sigemptyset(&set_);
        sigaddset(&set_, SIGINT);
        sigaddset(&set_, SIGTERM);
        sigaddset(&set_, SIGHUP);
        ::sigprocmask(SIG_BLOCK, &set_, &saved_);
        fd_ = ::signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK);
        if (fd_ < 0) throwSystemError("signalfd", errno);
    }
    ~StopSignals() {
        ::close(fd_);
        ::sigprocmask(SIG_SETMASK, &saved_, nullptr);
    }
    int fd() const { return fd_; }
    void drain() {
        signalfd_siginfo info;
        while (::read(fd_, &info, sizeof info) == sizeof info) {
        }
    }

private:
    sigset_t set_{}, saved_{};
    int fd_ = -1;
};


}  // namespace

AttachEnd attachConsole(int socket, const std::function<void()>& onSignal) {
    // A closed stdout or a supervisor gone mid-write are ends of the relay, not deaths.
    struct IgnorePipe {
        void (*saved)(int) = ::signal(SIGPIPE, SIG_IGN);
        ~IgnorePipe() { ::signal(SIGPIPE, saved); }
    } ignorePipe;
    StopSignals signals;
    RawTerminal raw;
    bool readingStdin = true;
    std::vector<char> buffer(16384);
    AttachEnd end = AttachEnd::kVmStopped;
    for (;;) {
        pollfd fds[3] = {{socket, POLLIN, 0},
                         {readingStdin ? STDIN_FILENO : -1, POLLIN, 0},
                         {signals.fd(), POLLIN, 0}};
        if (::poll(fds, 3, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[2].revents & POLLIN) {
            signals.drain();
            if (!onSignal) {
                end = AttachEnd::kDetached;
                break;
            }
            onSignal();
        }
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = ::read(STDIN_FILENO, buffer.data(), buffer.size());
            if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN))) {
                readingStdin = false;
            } else if (n > 0) {
                size_t length = static_cast<size_t>(n);
                bool detach = false;
                for (size_t i = 0; i < length; ++i)
                    if (buffer[i] == kDetachKey) {
                        length = i;
                        detach = true;
                        break;
                    }
                if (!writeAll(socket, buffer.data(), length)) break;  // the clone is gone
                if (detach) {
                    end = AttachEnd::kDetached;
                    break;
                }
            }
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = ::read(socket, buffer.data(), buffer.size());
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;  // the supervisor hung up: the monitor has exited
            if (!writeAll(STDOUT_FILENO, buffer.data(), static_cast<size_t>(n))) {
                end = AttachEnd::kDetached;  // our stdout is gone; the clone need not be
                break;
            }
        }
    }
    ::close(socket);
    return end;
}

}  // namespace ingot::cli::console
