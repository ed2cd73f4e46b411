#include "devices/virtio/Qcow2OverlayDisk.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>

#include "ingot/core/Error.h"

namespace ingot::vmm::virtio {

namespace {

// The same file, however it was spelled: the overlay records the base's path as it was given.
bool sameFile(const std::string& a, const std::string& b) {
    struct stat sa {}, sb {};
    return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

}  // namespace

std::unique_ptr<Qcow2OverlayDisk> Qcow2OverlayDisk::open(const std::string& overlayPath,
                                                         const std::string& basePath,
                                                         std::unique_ptr<BlockBackend> base) {
    std::unique_ptr<Qcow2OverlayDisk> disk(new Qcow2OverlayDisk());
    disk->path_ = overlayPath;
    disk->size_ = base->sizeBytes();
    std::error_code ec;
    if (!std::filesystem::exists(overlayPath, ec)) {
        image::Qcow2CreateOptions options;
        options.virtualSize = disk->size_;
        options.backingFile = std::filesystem::absolute(basePath).lexically_normal().string();
        options.backingFormat = "raw";
        image::createQcow2(overlayPath, options);
    }
    int fd = ::open(overlayPath.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throwSystemError("cannot open overlay " + overlayPath, errno, ExitStatus::kUsage);
    disk->lock_ = FileDescriptor(fd);
    if (::flock(fd, LOCK_EX | LOCK_NB) < 0)
        throw Error("overlay " + overlayPath +
                        " is in use by another virtual machine (it holds the overlay's lock)",
                    ExitStatus::kUsage);

    disk->overlay_ = image::Qcow2Image::open(overlayPath, false);
    const image::Qcow2Image& q = *disk->overlay_;
    if (q.virtualSize() != disk->size_)
        throw Error("overlay " + overlayPath + " is " + std::to_string(q.virtualSize()) +
                        " bytes, but its base " + basePath + " is " + std::to_string(disk->size_),
                    ExitStatus::kUsage);
    if (q.backingFile().empty() || !sameFile(q.backingFile(), basePath))
        throw Error("overlay " + overlayPath + " belongs to base '" + q.backingFile() +
                        "', not " + basePath + ": its unwritten blocks would come from the "
                        "wrong disk",
                    ExitStatus::kUsage);
    if (!q.backingFormat().empty() && q.backingFormat() != "raw")
        throw Error("overlay " + overlayPath + " says its base is " + q.backingFormat() +
                        ", but ingot bases are raw disks",
                    ExitStatus::kUsage);
    disk->base_ = std::move(base);
    disk->overlay_->setBacking([b = disk->base_.get()](uint64_t offset,
                                                       std::span<const iovec> buffers) {
        return b->read(offset, buffers);
    });
    disk->granularity_ = disk->overlay_->clusterSize();
    return disk;
}

std::string Qcow2OverlayDisk::describe() const {
    return "overlay " + path_ + " over " + base_->describe();
}

int Qcow2OverlayDisk::read(uint64_t offset, std::span<const iovec> buffers) {
    return overlay_->read(offset, buffers);
}

int Qcow2OverlayDisk::write(uint64_t offset, std::span<const iovec> buffers) {
    return overlay_->write(offset, buffers);
}

int Qcow2OverlayDisk::flush() {
    return overlay_->flush();
}

int Qcow2OverlayDisk::discard(uint64_t offset, uint64_t length) {
    return overlay_->discard(offset, length);
}

int Qcow2OverlayDisk::writeZeroes(uint64_t offset, uint64_t length, bool) {
    // Zero clusters in qcow2 are a flag in the L2 entry: freeing the data costs nothing extra.
    return overlay_->writeZeroes(offset, length);
}

std::vector<std::pair<std::string, uint64_t>> Qcow2OverlayDisk::counters() const {
    auto counters = base_->counters();
    auto s = overlay_->stats();
    counters.emplace_back("overlayClusters", s.allocatedClusters);
    counters.emplace_back("overlayFileBytes", s.fileBytes);
    return counters;
}

}  // namespace ingot::vmm::virtio
