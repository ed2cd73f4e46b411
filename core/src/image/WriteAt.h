// Positioned writes shared by the image writers (private to core/src/image).
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

#include "ingot/core/Error.h"

namespace ingot::image::detail {

inline void writeAllAt(int fd, const void* data, size_t size, uint64_t offset,
                       std::string_view where) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        ssize_t n = ::pwrite(fd, p, size, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            throwSystemError(
                "cannot write " + std::string(where) + " at byte " + std::to_string(offset), errno);
        p += n;
        size -= static_cast<size_t>(n);
        offset += static_cast<uint64_t>(n);
    }
}

}  // namespace ingot::image::detail
