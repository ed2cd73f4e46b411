#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace ingot::cli::console {

// Writes all of `data` to `fd`, retrying short writes and EINTR; false when the other end is
// gone or the write fails (the caller decides whether that ends anything).
inline bool writeAll(int fd, const char* data, size_t size) {
    while (size > 0) {
        ssize_t n = ::write(fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data += n;
        size -= static_cast<size_t>(n);
    }
    return true;
}

}  // namespace ingot::cli::console
