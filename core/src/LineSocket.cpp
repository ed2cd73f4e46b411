#include "ingot/core/LineSocket.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "ingot/core/Error.h"

namespace ingot {
namespace {

struct UnixAddress {
    sockaddr_un address{};
    socklen_t length = 0;
};

UnixAddress unixAddress(const std::string& name) {
    UnixAddress a;
    a.address.sun_family = AF_UNIX;
    const bool abstract = !name.empty() && name[0] == '@';
    if (name.size() <= (abstract ? 1u : 0u) || name.size() >= sizeof a.address.sun_path)
        throw Error("socket name '" + name + "': give a path or @NAME of 1 to " +
                        std::to_string(sizeof a.address.sun_path - 1) + " bytes",
                    ExitStatus::kUsage);
    std::memcpy(a.address.sun_path, name.data(), name.size());
    if (abstract) a.address.sun_path[0] = '\0';
    a.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() +
                                      (abstract ? 0 : 1));
    return a;
}

int newSocket(const std::string& name) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throwSystemError("socket for " + name, errno);
    return fd;
}

int msUntil(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return left.count() < 0 ? 0 : static_cast<int>(std::min<long long>(left.count(), 1 << 30));
}

}  // namespace

int listenUnixSocket(const std::string& name) {
    UnixAddress a = unixAddress(name);
    int fd = newSocket(name);
    if (name[0] != '@') ::unlink(name.c_str());  // a socket file left by a killed monitor
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&a.address), a.length) < 0 ||
        ::listen(fd, 8) < 0) {
        int e = errno;
        ::close(fd);
        throwSystemError("cannot listen on " + name, e);
    }
    return fd;
}

int connectUnixSocket(const std::string& name) {
    UnixAddress a = unixAddress(name);
    int fd = newSocket(name);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&a.address), a.length) < 0) {
        int e = errno;
        ::close(fd);
        throwSystemError("cannot connect to " + name, e);
    }
    return fd;
}

bool peerIsSameUser(int fd) {
    ucred peer{};
    socklen_t size = sizeof peer;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) < 0) return false;
    return peer.uid == ::geteuid() || peer.uid == 0;
}

std::optional<std::string> readLine(int fd, std::string& buffer, size_t limit,
                                    std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        if (size_t end = buffer.find('\n'); end != std::string::npos) {
            std::string line = buffer.substr(0, end);
            buffer.erase(0, end + 1);
            return line;
        }
        if (buffer.size() > limit)
            throw Error("a line longer than " + std::to_string(limit) + " bytes");
        pollfd p{fd, POLLIN, 0};
        int ready = ::poll(&p, 1, msUntil(deadline));
        if (ready < 0) {
            if (errno == EINTR) continue;
            throwSystemError("poll", errno);
        }
        if (ready == 0) throw Error("no answer in time");
        char chunk[4096];
        ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            throwSystemError("read", errno);
        }
        if (n == 0) {
            if (buffer.empty()) return std::nullopt;
            throw Error("the line ended without a newline");
        }
        buffer.append(chunk, static_cast<size_t>(n));
    }
}

void writeAllBefore(int fd, const std::string& data,
                    std::chrono::steady_clock::time_point deadline) {
    size_t done = 0;
    while (done < data.size()) {
        pollfd p{fd, POLLOUT, 0};
        int ready = ::poll(&p, 1, msUntil(deadline));
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) throwSystemError("poll", errno);
        if (ready == 0) throw Error("the peer did not take the data in time");
        ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            throwSystemError("write", errno);
        }
        done += static_cast<size_t>(n);
    }
}

}  // namespace ingot
