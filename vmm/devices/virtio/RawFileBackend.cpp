#include "devices/virtio/RawFileBackend.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "ingot/core/Error.h"

namespace ingot::vmm::virtio {

namespace {

constexpr uint64_t kSectorBytes = 512;

// preadv/pwritev until every byte moved: both may stop short (signals, file systems that
// split large requests), and each call takes at most IOV_MAX buffers.
template <typename Transfer>
int transferAll(Transfer transfer, uint64_t offset, std::span<const iovec> buffers) {
    std::vector<iovec> rest(buffers.begin(), buffers.end());
    size_t first = 0;
    while (first < rest.size()) {
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

}  // namespace

std::unique_ptr<RawFileBackend> RawFileBackend::open(const std::string& path, bool readOnly) {
    int fd = ::open(path.c_str(), (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        std::string hint = !readOnly && (err == EACCES || err == EROFS)
                               ? " (add ,readonly to --disk to attach it read-only)"
                               : "";
        throwSystemError("cannot open disk " + path + hint, err, ExitStatus::kUsage);
    }
    return std::make_unique<RawFileBackend>(FileDescriptor(fd), path, readOnly);
}

RawFileBackend::RawFileBackend(FileDescriptor fd, std::string name, bool readOnly)
    : fd_(std::move(fd)), name_(std::move(name)), readOnly_(readOnly) {
    struct stat st {};
    if (::fstat(fd_.get(), &st) < 0)
        throwSystemError("cannot stat disk " + name_, errno, ExitStatus::kUsage);
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        throw Error("disk " + name_ + " is neither a regular file nor a block device",
                    ExitStatus::kUsage);
    // st_size is 0 for block devices; the end offset is right for both.
    off_t end = ::lseek(fd_.get(), 0, SEEK_END);
    if (end < 0)
        throwSystemError("cannot find the size of disk " + name_, errno, ExitStatus::kUsage);
    size_ = static_cast<uint64_t>(end);
    if (size_ % kSectorBytes != 0)
        throw Error("disk " + name_ + " is " + std::to_string(size_) +
                        " bytes, not a whole number of 512-byte sectors: pad it (truncate -s "
                        "%512 FILE rounds the size up) or convert it to a raw image",
                    ExitStatus::kUsage);
}

int RawFileBackend::read(uint64_t offset, std::span<const iovec> buffers) {
    int fd = fd_.get();
    return transferAll(
        [fd](const iovec* iov, int count, off_t at) { return ::preadv(fd, iov, count, at); },
        offset, buffers);
}

int RawFileBackend::write(uint64_t offset, std::span<const iovec> buffers) {
    if (readOnly_) return EROFS;
    int fd = fd_.get();
    return transferAll(
        [fd](const iovec* iov, int count, off_t at) { return ::pwritev(fd, iov, count, at); },
        offset, buffers);
}

int RawFileBackend::flush() {
    if (readOnly_) return 0;
    while (::fdatasync(fd_.get()) < 0) {
        if (errno != EINTR) return errno;
    }
    return 0;
}

}  // namespace ingot::vmm::virtio
