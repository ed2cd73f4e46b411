// Positioned reads shared by the image readers (private to core/src/image).
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

#include "ingot/core/Error.h"

namespace ingot::image::detail {

// Reads exactly `size` bytes at `offset`. A short file is the image's fault (status
// kVerification): callers check sizes first, so hitting the end means the file shrank under us.
inline void readAllAt(int fd, void* data, size_t size, uint64_t offset, std::string_view where) {
    char* p = static_cast<char*>(data);
    while (size > 0) {
        ssize_t n = ::pread(fd, p, size, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            throwSystemError(
                "cannot read " + std::string(where) + " at byte " + std::to_string(offset), errno,
                ExitStatus::kUsage);
        if (n == 0)
            throw Error(std::string(where) + ": file ends at byte " + std::to_string(offset) +
                            " (truncated, or changed while being read)",
                        ExitStatus::kVerification);
        p += n;
        size -= static_cast<size_t>(n);
        offset += static_cast<uint64_t>(n);
    }
}

}  // namespace ingot::image::detail
