#pragma once

#include <memory>
#include <string>

#include "devices/virtio/BlockBackend.h"
#include "kvm/FileDescriptor.h"

namespace ingot::vmm::virtio {

// A disk that is a raw image: guest sector n is bytes [512 n, 512 n + 512) of a regular file or
// a host block device. Reads and writes go straight between the file and guest memory
// (preadv/pwritev, no bounce buffer); a flush is fdatasync.
//
// Discard and write-zeroes, for a regular file opened read-write whose file system punches
// holes (probed once, past the end of the file, where it changes nothing): a discard punches a
// hole (fallocate PUNCH_HOLE|KEEP_SIZE), as does a write-zeroes that may unmap; one that may
// not uses ZERO_RANGE, or writes zeros (1 MiB at a time) where the file system has no
// ZERO_RANGE (tmpfs, memfds). Block devices and read-only files do not offer them.
class RawFileBackend : public BlockBackend {
public:
    // Opens `path` read-write, or read-only. Throws ingot::Error (usage) naming the path when it
    // cannot be opened, is neither a regular file nor a block device, or is not a whole number
    // of 512-byte sectors.
    static std::unique_ptr<RawFileBackend> open(const std::string& path, bool readOnly);
    // Takes an open descriptor (tests use memfds); `name` is what messages call it. The same
    // size check as open().
    RawFileBackend(FileDescriptor fd, std::string name, bool readOnly);

    uint64_t sizeBytes() const override { return size_; }
    bool readOnly() const override { return readOnly_; }
    std::string describe() const override { return "raw file " + name_; }
    int read(uint64_t offset, std::span<const iovec> buffers) override;
    int write(uint64_t offset, std::span<const iovec> buffers) override;
    int flush() override;
    uint32_t discardGranularity() const override { return discardGranularity_; }
    int discard(uint64_t offset, uint64_t length) override;
    int writeZeroes(uint64_t offset, uint64_t length, bool mayUnmap) override;

    // The discard granularity of a regular file opened read-write.
    static constexpr uint32_t kDiscardGranularity = 4096;

private:
    bool rangeOk(uint64_t offset, uint64_t length) const {
        return offset <= size_ && length <= size_ - offset;
    }
    int fallocateRange(int mode, uint64_t offset, uint64_t length);
    int writeZeroBuffers(uint64_t offset, uint64_t length);

    FileDescriptor fd_;
    std::string name_;
    bool readOnly_;
    uint64_t size_ = 0;
    uint32_t discardGranularity_ = 0;
};

}  // namespace ingot::vmm::virtio
