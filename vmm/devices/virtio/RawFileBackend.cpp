#include "devices/virtio/RawFileBackend.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "ingot/core/Error.h"
#include "ingot/core/IoVectors.h"

namespace ingot::vmm::virtio {

namespace {

constexpr uint64_t kSectorBytes = 512;
// The zero buffer of the write-zeroes fallback: big enough for few syscalls, small enough to
// allocate per request.
constexpr uint64_t kZeroChunkBytes = 1 << 20;

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
    // Discard needs hole punching. Probe it where it cannot change anything: one granule past
    // the end of the file, keeping the size. A file system without it (or a file the open
    // flags do not let us change) answers EOPNOTSUPP and the device does not offer discard.
    if (!readOnly_ && S_ISREG(st.st_mode) &&
        fallocateRange(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, size_, kDiscardGranularity) == 0)
        discardGranularity_ = kDiscardGranularity;
}

int RawFileBackend::read(uint64_t offset, std::span<const iovec> buffers) {
    return preadAll(fd_.get(), offset, buffers);
}

int RawFileBackend::write(uint64_t offset, std::span<const iovec> buffers) {
    if (readOnly_) return EROFS;
    return pwriteAll(fd_.get(), offset, buffers);
}

int RawFileBackend::flush() {
    if (readOnly_) return 0;
    while (::fdatasync(fd_.get()) < 0) {
        if (errno != EINTR) return errno;
    }
    return 0;
}

int RawFileBackend::fallocateRange(int mode, uint64_t offset, uint64_t length) {
    while (::fallocate(fd_.get(), mode, static_cast<off_t>(offset), static_cast<off_t>(length)) <
           0) {
        if (errno != EINTR) return errno;
    }
    return 0;
}

int RawFileBackend::writeZeroBuffers(uint64_t offset, uint64_t length) {
    std::vector<uint8_t> zeros(static_cast<size_t>(std::min(length, kZeroChunkBytes)));
    while (length > 0) {
        uint64_t n = std::min<uint64_t>(length, zeros.size());
        iovec iov{zeros.data(), static_cast<size_t>(n)};
        if (int err = pwriteAll(fd_.get(), offset, {&iov, 1})) return err;
        offset += n;
        length -= n;
    }
    return 0;
}

int RawFileBackend::discard(uint64_t offset, uint64_t length) {
    if (readOnly_) return EROFS;
    if (discardGranularity_ == 0) return EOPNOTSUPP;
    if (!rangeOk(offset, length)) return EINVAL;
    if (length == 0) return 0;
    return fallocateRange(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
}

// Works on any writable disk (ZERO_RANGE and plain writes need no hole punching), though the
// device only asks where discardGranularity() says so.
int RawFileBackend::writeZeroes(uint64_t offset, uint64_t length, bool mayUnmap) {
    if (readOnly_) return EROFS;
    if (!rangeOk(offset, length)) return EINVAL;
    if (length == 0) return 0;
    if (mayUnmap) {
        int err = fallocateRange(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
        if (err != EOPNOTSUPP) return err;
    }
    int err = fallocateRange(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, length);
    if (err != EOPNOTSUPP) return err;
    return writeZeroBuffers(offset, length);
}

}  // namespace ingot::vmm::virtio
