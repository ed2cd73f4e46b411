// qcow2 overlays from arbitrary bytes (core/src/image/Qcow2.cpp): the input is the whole image
// file. It is opened writable (a hostile overlay is opened that way by the monitor, after
// `ingot run` made it), then a fixed schedule of reads, a partial and a whole-cluster write,
// zeroing and discards runs over it, with a backing file of a repeated byte. Opening may throw
// only ingot::Error; requests may fail only with an errno value; nothing may crash, hang or
// allocate without bound.
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "FuzzCheck.h"
#include "ingot/core/Error.h"
#include "ingot/image/Qcow2.h"

namespace {

using ingot::image::Qcow2Image;

constexpr uint64_t kMaxRequest = 128 << 10;

// A request inside the disk: `fraction`/16 of the way in, 512-aligned, at most `length` long.
bool place(uint64_t size, unsigned fraction, uint64_t length, uint64_t& offset, uint64_t& out) {
    if (size < 512) return false;
    offset = (size / 16 * fraction) & ~uint64_t{511};
    out = std::min(length, (size - offset) & ~uint64_t{511});
    return out > 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    int fd = ::memfd_create("qcow2", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(::write(fd, data, size) == static_cast<ssize_t>(size));
    std::string path = "/proc/self/fd/" + std::to_string(fd);
    std::unique_ptr<Qcow2Image> image;
    try {
        image = Qcow2Image::open(path, false);
    } catch (const ingot::Error&) {
        ::close(fd);
        return 0;
    }
    image->setBacking([](uint64_t, std::span<const iovec> buffers) {
        for (const iovec& v : buffers) std::memset(v.iov_base, 0x5a, v.iov_len);
        return 0;
    });

    const uint64_t disk = image->virtualSize();
    const uint64_t cluster = image->clusterSize();
    std::vector<uint8_t> buffer(kMaxRequest, 0xc3);
    auto read = [&](unsigned fraction, uint64_t length) {
        uint64_t offset, n;
        if (!place(disk, fraction, length, offset, n)) return;
        // Two buffers, so the run splitting across iovecs is exercised too.
        iovec v[2] = {{buffer.data(), static_cast<size_t>(n / 2 & ~uint64_t{511})},
                      {buffer.data() + n / 2, static_cast<size_t>(n - (n / 2 & ~uint64_t{511}))}};
        int error = image->read(offset, std::span<const iovec>(v, 2));
        FUZZ_CHECK(error >= 0);
    };
    auto write = [&](unsigned fraction, uint64_t length, uint64_t skew) {
        uint64_t offset, n;
        if (!place(disk, fraction, length + skew, offset, n) || n <= skew) return;
        iovec v{buffer.data(), static_cast<size_t>(n - skew)};
        int error = image->write(offset + skew, std::span<const iovec>(&v, 1));
        FUZZ_CHECK(error >= 0);
        if (error == 0) {
            std::vector<uint8_t> back(n - skew, 0);
            iovec r{back.data(), back.size()};
            (void)image->read(offset + skew, std::span<const iovec>(&r, 1));
        }
    };

    read(0, kMaxRequest);
    read(7, 4096);
    read(15, kMaxRequest);
    write(1, 1024, 512);  // partial cluster: copy-on-write
    write(0, std::min(cluster, kMaxRequest), 0);
    write(9, 2 * cluster < kMaxRequest ? 2 * cluster : kMaxRequest, 512);
    uint64_t offset, n;
    if (place(disk, 3, 4 * cluster, offset, n)) FUZZ_CHECK(image->writeZeroes(offset, n) >= 0);
    if (place(disk, 0, 2 * cluster, offset, n)) FUZZ_CHECK(image->discard(offset, n) >= 0);
    write(3, std::min(cluster, kMaxRequest), 0);
    read(0, kMaxRequest);
    FUZZ_CHECK(image->flush() >= 0);
    (void)image->stats();
    image.reset();
    ::close(fd);
    return 0;
}
