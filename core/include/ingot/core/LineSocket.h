#pragma once

// Unix stream sockets carrying one JSON document per line, the form of the monitor's control
// socket (docs/vmm.md, "Control socket"): the address forms, connecting and listening, and
// reading a line with a size bound and a deadline, because either end may be hostile or hung.
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace ingot {

// `name` is a socket file's path, or "@NAME" for Linux's abstract namespace (no file to leave
// behind, and no 108-byte path limit to hit with a deep store). Throws kUsage for an empty name
// or one longer than sun_path.
int listenUnixSocket(const std::string& name);
// Throws ingot::Error naming the socket when nobody listens there.
int connectUnixSocket(const std::string& name);
// Whether the peer of a connected socket runs as this process's user or as root. An abstract
// socket has no file permissions, so this is its access check.
bool peerIsSameUser(int fd);

// Reads from `fd` into `buffer` until it holds a newline; returns the line without it and
// leaves what followed in `buffer`. std::nullopt at end of file (with nothing pending). Throws
// ingot::Error when the line grows past `limit` bytes, the deadline passes, or reading fails.
std::optional<std::string> readLine(int fd, std::string& buffer, size_t limit,
                                    std::chrono::steady_clock::time_point deadline);
// Writes all of `data` (EINTR and short writes handled) before the deadline, or throws.
void writeAllBefore(int fd, const std::string& data,
                    std::chrono::steady_clock::time_point deadline);

}  // namespace ingot
