#include "console/VmSupervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "console/WriteAll.h"
#include "ingot/core/Error.h"
#include "ingot/core/File.h"
#include "ingot/oci/Manifests.h"
#include "ingot/store/Store.h"

namespace ingot::cli::console {
namespace {

// Input from clients waiting for the guest to read it; beyond this, typing is dropped rather
// than held: a guest that never reads its console must not make the supervisor grow.
constexpr size_t kPendingInputLimit = 64 * 1024;
// Console output a client may fall behind by before it is hung up on.
constexpr size_t kClientBacklog = 4 << 20;
// How long a foreground run's supervisor waits for the terminal that started it.
constexpr int kAttachTimeoutMs = 30'000;

// The console socket lives in the abstract namespace, named after the clone directory's real
// path: a socket file cannot be made on every file system a store may sit on (9p and NFS refuse
// or mishandle them) and sun_path holds only 108 bytes. An abstract name has no file
// permissions, so the supervisor lets in only its own user (and root) by SO_PEERCRED.
class SocketAddress {
public:
    explicit SocketAddress(const std::string& dir) {
        std::error_code error;
        std::string real = std::filesystem::canonical(dir, error).string();
        if (error) throw Error("cannot find " + dir + ": " + error.message(), ExitStatus::kUsage);
        const std::string name = "ingot-console-" + oci::sha256Digest(real).substr(7, 40);
        address_.sun_family = AF_UNIX;
        address_.sun_path[0] = '\0';
        std::memcpy(address_.sun_path + 1, name.data(), name.size());
        length_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    }
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&address_); }
    socklen_t length() const { return length_; }

private:
    sockaddr_un address_{};
    socklen_t length_ = 0;
};

bool sameUser(int client) {
    ucred peer{};
    socklen_t size = sizeof peer;
    if (::getsockopt(client, SOL_SOCKET, SO_PEERCRED, &peer, &size) < 0) return false;
    return peer.uid == ::geteuid() || peer.uid == 0;
}

void setFlag(int fd, int flag) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | flag);
}


// console.log, rotated at kConsoleLogLimit.
class ConsoleLog {
public:
    explicit ConsoleLog(std::string path) : path_(std::move(path)) { open(); }
    ~ConsoleLog() {
        if (fd_ >= 0) ::close(fd_);
    }
    void append(const char* data, size_t size) {
        if (size_ + size > kConsoleLogLimit) {
            ::close(fd_);
            ::rename(path_.c_str(), (path_ + ".1").c_str());
            ::unlink(path_.c_str());
            open();
        }
        writeAll(fd_, data, size);
        size_ += size;
    }

private:
    void open() {
        fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd_ < 0) throwSystemError("cannot open " + path_, errno);
        off_t end = ::lseek(fd_, 0, SEEK_END);
        size_ = end > 0 ? static_cast<size_t>(end) : 0;
    }
    std::string path_;
    int fd_ = -1;
    size_t size_ = 0;
};

[[noreturn]] void execMonitor(const std::vector<std::string>& argv, int terminal) {
    ::setsid();
    ::ioctl(terminal, TIOCSCTTY, 0);
    ::dup2(terminal, STDIN_FILENO);
    ::dup2(terminal, STDOUT_FILENO);
    ::dup2(terminal, STDERR_FILENO);
    if (terminal > STDERR_FILENO) ::close(terminal);
    ::signal(SIGHUP, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::string message = "ingot: cannot run " + argv[0] + ": " + std::strerror(errno) + "\r\n";
    writeAll(STDERR_FILENO, message.data(), message.size());
    ::_exit(127);
}

// Relays between the pseudo-terminal's master side and the clients until the monitor (and
// everything that inherited the terminal) is gone.
void relay(int master, int listener, ConsoleLog& log, const std::vector<int>& attached) {
    struct Client {
        int fd;
        std::string pending;  // console output it has not taken yet
    };
    std::vector<Client> clients;
    for (int fd : attached) clients.push_back({fd, {}});
    std::string toGuest;
    std::vector<char> buffer(16384);
    for (;;) {
        std::vector<pollfd> fds;
        fds.push_back({master, static_cast<short>(POLLIN | (toGuest.empty() ? 0 : POLLOUT)), 0});
        fds.push_back({listener, POLLIN, 0});
        for (const Client& c : clients)
            fds.push_back({c.fd, static_cast<short>(POLLIN | (c.pending.empty() ? 0 : POLLOUT)), 0});
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            throwSystemError("console poll", errno);
        }
        std::vector<bool> gone(clients.size(), false);
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = ::read(master, buffer.data(), buffer.size());
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            } else if (n <= 0) {
                break;  // EIO: the last holder of the terminal's other side closed it
            } else {
                log.append(buffer.data(), static_cast<size_t>(n));
                // A client that falls kClientBacklog behind is dropped, not waited for: the
                // VM's console never stalls on a slow reader.
                for (size_t i = 0; i < clients.size(); ++i) {
                    clients[i].pending.append(buffer.data(), static_cast<size_t>(n));
                    if (clients[i].pending.size() > kClientBacklog) gone[i] = true;
                }
            }
        }
        if ((fds[0].revents & POLLOUT) && !toGuest.empty()) {
            ssize_t n = ::write(master, toGuest.data(), toGuest.size());
            if (n > 0) toGuest.erase(0, static_cast<size_t>(n));
        }
        for (size_t i = 0; i < clients.size(); ++i) {
            const short events = fds[i + 2].revents;
            Client& c = clients[i];
            if (events & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t n = ::read(c.fd, buffer.data(), buffer.size());
                if (n > 0) {
                    size_t room = kPendingInputLimit - std::min(kPendingInputLimit, toGuest.size());
                    toGuest.append(buffer.data(), std::min(room, static_cast<size_t>(n)));
                } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                    gone[i] = true;
                }
            }
            if (!c.pending.empty() && !gone[i]) {
                ssize_t n = ::send(c.fd, c.pending.data(), c.pending.size(),
                                   MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n > 0) c.pending.erase(0, static_cast<size_t>(n));
                else if (n < 0 && errno != EAGAIN && errno != EINTR) gone[i] = true;
            }
        }
        // Accepted after the sweep above, so `gone` and `fds` still line up with `clients`.
        for (size_t i = clients.size(); i-- > 0;) {
            if (!gone[i]) continue;
            ::close(clients[i].fd);
            clients.erase(clients.begin() + static_cast<std::ptrdiff_t>(i));
        }
        if (fds[1].revents & POLLIN) {
            int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd >= 0 && sameUser(fd)) clients.push_back({fd, {}});
            else if (fd >= 0) ::close(fd);
        }
    }
    // What the console printed last still reaches every client before the hang-up.
    for (Client& c : clients) {
        ::fcntl(c.fd, F_SETFL, ::fcntl(c.fd, F_GETFL) & ~O_NONBLOCK);
        timeval limit{2, 0};  // a client that stopped reading does not hold the lease
        ::setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
        writeAll(c.fd, c.pending.data(), c.pending.size());
        ::close(c.fd);
    }
}

// The supervisor's life; reports on `report` ("ok" or the reason it could not start, then the
// monitor's exit status). Returns the supervisor's own exit status.
int supervise(const SupervisedVm& vm, int report) {
    pid_t monitor = -1;
    std::string monitorPid = vm.dir + "/monitor.pid";
    int status = 0;
    {
        int master = -1, listener = -1;
        try {
            ::signal(SIGHUP, SIG_IGN);
            ::signal(SIGINT, SIG_IGN);
            ::signal(SIGPIPE, SIG_IGN);
            store::VmLease lease(vm.dir, vm.name);
            // Off the terminal of whoever started it: the supervisor outlives that session.
            int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
            ::dup2(null, STDIN_FILENO);
            ::dup2(null, STDOUT_FILENO);
            ::dup2(null, STDERR_FILENO);
            if (null > STDERR_FILENO) ::close(null);

            int terminal = -1;
            if (::openpty(&master, &terminal, nullptr, nullptr, nullptr) < 0)
                throwSystemError("cannot open a pseudo-terminal for " + vm.name, errno);
            ::fcntl(master, F_SETFD, FD_CLOEXEC);
            setFlag(master, O_NONBLOCK);
            termios raw{};
            if (::tcgetattr(terminal, &raw) == 0) {
                ::cfmakeraw(&raw);
                ::tcsetattr(terminal, TCSANOW, &raw);
            }

            listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (listener < 0) throwSystemError("cannot make the console socket", errno);
            SocketAddress address(vm.dir);
            if (::bind(listener, address.get(), address.length()) < 0 || ::listen(listener, 8) < 0)
                throwSystemError("cannot listen for " + vm.name + "'s console", errno);
            ConsoleLog log(consoleLogPath(vm.dir));

            int first = -1;
            if (vm.waitForAttach) {
                writeAll(report, "ok\n", 3);
                pollfd wait{listener, POLLIN, 0};
                if (::poll(&wait, 1, kAttachTimeoutMs) <= 0)
                    throw Error("nobody attached to " + vm.name + " within 30 s");
                first = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
                if (first >= 0 && !sameUser(first))
                    throw Error("someone else attached to " + vm.name + " first");
            }
            monitor = ::fork();
            if (monitor < 0) throwSystemError("cannot start " + vm.argv[0], errno);
            if (monitor == 0) execMonitor(vm.argv, terminal);
            ::close(terminal);
            writeFileAtomically(monitorPid, std::to_string(monitor) + "\n");
            if (!vm.waitForAttach) writeAll(report, "ok\n", 3);
            std::vector<int> clients;
            if (first >= 0) {
                setFlag(first, O_NONBLOCK);
                clients.push_back(first);
            }
            relay(master, listener, log, clients);
            int wait = 0;
            while (::waitpid(monitor, &wait, 0) < 0 && errno == EINTR) {
            }
            status = WIFEXITED(wait) ? WEXITSTATUS(wait) : 128 + WTERMSIG(wait);
            ::unlink(monitorPid.c_str());
        } catch (const std::exception& e) {
            std::string message = std::string(e.what()) + "\n";
            writeAll(report, message.data(), message.size());
            if (monitor > 0) ::kill(monitor, SIGKILL);
            return 1;
        }
        if (master >= 0) ::close(master);
        if (listener >= 0) ::close(listener);
    }  // the lease ends here
    if (vm.removeWhenStopped) {
        try {
            store::Store(vm.storeRoot).removeVm(vm.name);
        } catch (const std::exception&) {
            // Someone else holds it already (a new run of the same name): theirs now.
        }
    }
    std::string exit = "exit " + std::to_string(status) + "\n";
    writeAll(report, exit.data(), exit.size());
    return 0;
}

std::string readLine(int fd) {
    std::string line;
    char c = 0;
    for (;;) {
        ssize_t n = ::read(fd, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || c == '\n') return line;
        line += c;
    }
}

}  // namespace

Supervisor Supervisor::start(const SupervisedVm& vm) {
    int pipe[2];
    if (::pipe2(pipe, O_CLOEXEC) < 0) throwSystemError("cannot start a supervisor", errno);
    pid_t pid = ::fork();
    if (pid < 0) throwSystemError("cannot start a supervisor", errno);
    if (pid == 0) {
        ::close(pipe[0]);
        ::setsid();
        ::_exit(supervise(vm, pipe[1]));
    }
    ::close(pipe[1]);
    Supervisor started(pipe[0]);
    std::string line = readLine(pipe[0]);
    if (line != "ok")
        throw Error("cannot start " + vm.name + ": " +
                        (line.empty() ? std::string("its supervisor died") : line),
                    ExitStatus::kInternal);
    return started;
}

Supervisor::~Supervisor() {
    if (pipe_ >= 0) ::close(pipe_);
}

int Supervisor::waitForExit() {
    std::string line = readLine(pipe_);
    if (line.rfind("exit ", 0) != 0)
        throw Error("the clone's supervisor ended without its exit status" +
                        (line.empty() ? std::string() : ": " + line),
                    ExitStatus::kInternal);
    return std::atoi(line.c_str() + 5);
}

std::string consoleLogPath(const std::string& dir) {
    return dir + "/console.log";
}

int connectConsole(const std::string& dir, const std::string& name) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throwSystemError("cannot make a socket", errno);
    try {
        SocketAddress address(dir);
        if (::connect(fd, address.get(), address.length()) == 0) return fd;
    } catch (const Error&) {
    }
    ::close(fd);
    throw Error(name + " is not running (`ingot ps -a` lists the clones)", ExitStatus::kUsage);
}

}  // namespace ingot::cli::console
