#pragma once

#include <limits.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace ingot {

// Byte sequences given as iovec lists (a guest request's data buffers, in order), for code that
// serves one request from several places: the monitor's block backends and the qcow2 overlay.

inline uint64_t totalBytes(std::span<const iovec> buffers) {
    uint64_t total = 0;
    for (const auto& b : buffers) total += b.iov_len;
    return total;
}

// The bytes [skip, skip + length) of `buffers` as iovecs of their own.
inline std::vector<iovec> sliceIovecs(std::span<const iovec> buffers, uint64_t skip,
                                      uint64_t length) {
    std::vector<iovec> out;
    for (const auto& b : buffers) {
        if (length == 0) break;
        if (skip >= b.iov_len) {
            skip -= b.iov_len;
            continue;
        }
        size_t take = static_cast<size_t>(std::min<uint64_t>(b.iov_len - skip, length));
        out.push_back({static_cast<uint8_t*>(b.iov_base) + skip, take});
        length -= take;
        skip = 0;
    }
    return out;
}

inline void zeroIovecs(std::span<const iovec> buffers) {
    for (const auto& b : buffers) std::memset(b.iov_base, 0, b.iov_len);
}

// Copies all of `buffers`, in order, to `out`.
inline void copyFromIovecs(std::span<const iovec> buffers, uint8_t* out) {
    for (const auto& b : buffers) {
        std::memcpy(out, b.iov_base, b.iov_len);
        out += b.iov_len;
    }
}

// Copies `size` bytes from `data` into `buffers`, in order.
inline void copyToIovecs(std::span<const iovec> buffers, const uint8_t* data, size_t size) {
    for (const auto& b : buffers) {
        if (size == 0) break;
        size_t take = std::min(b.iov_len, size);
        std::memcpy(b.iov_base, data, take);
        data += take;
        size -= take;
    }
}

// preadv/pwritev until every byte moved: both may stop short (signals, file systems that split
// large requests), and each call takes at most IOV_MAX buffers. Returns 0 or an errno value.
template <typename Transfer>
int transferAll(Transfer transfer, uint64_t offset, std::span<const iovec> buffers) {
    std::vector<iovec> rest(buffers.begin(), buffers.end());
    size_t first = 0;
    while (first < rest.size()) {
        if (rest[first].iov_len == 0) {
            ++first;
            continue;
        }
        int count = static_cast<int>(std::min<size_t>(rest.size() - first, IOV_MAX));
        ssize_t n = transfer(&rest[first], count, static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n == 0) return EIO;  // the file ended early: it shrank under the VM
        offset += static_cast<uint64_t>(n);
        auto left = static_cast<size_t>(n);
        while (first < rest.size() && left >= rest[first].iov_len) {
            left -= rest[first].iov_len;
            ++first;
        }
        if (left) {
            rest[first].iov_base = static_cast<uint8_t*>(rest[first].iov_base) + left;
            rest[first].iov_len -= left;
        }
    }
    return 0;
}

inline int preadAll(int fd, uint64_t offset, std::span<const iovec> buffers) {
    return transferAll([fd](const iovec* v, int n, off_t at) { return ::preadv(fd, v, n, at); },
                       offset, buffers);
}

inline int pwriteAll(int fd, uint64_t offset, std::span<const iovec> buffers) {
    return transferAll([fd](const iovec* v, int n, off_t at) { return ::pwritev(fd, v, n, at); },
                       offset, buffers);
}

}  // namespace ingot
