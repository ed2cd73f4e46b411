#pragma once

#include <memory>
#include <string>

#include "devices/virtio/BlockBackend.h"
#include "kvm/FileDescriptor.h"

namespace ingot::vmm::virtio {

// A disk that is a raw image: guest sector n is bytes [512 n, 512 n + 512) of a regular file or
// a host block device. Reads and writes go straight between the file and guest memory
// (preadv/pwritev, no bounce buffer); a flush is fdatasync.
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

private:
    FileDescriptor fd_;
    std::string name_;
    bool readOnly_;
    uint64_t size_ = 0;
};

}  // namespace ingot::vmm::virtio
