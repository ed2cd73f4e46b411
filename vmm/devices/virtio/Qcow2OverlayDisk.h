#pragma once

#include <memory>
#include <string>

#include "devices/virtio/BlockBackend.h"
#include "ingot/image/Qcow2.h"
#include "kvm/FileDescriptor.h"

namespace ingot::vmm::virtio {

// A clone's disk: the guest's writes go to a qcow2 (v3) overlay, everything it has not written
// comes from the base (a VerifiedBaseDisk, so unverified bytes never reach the guest). The base
// is never written. The overlay is locked (flock) for as long as the VM runs, so two monitors
// can never share one.
class Qcow2OverlayDisk : public BlockBackend {
public:
    // Opens `overlayPath`, or creates it over `base` when it does not exist. An existing overlay
    // must name `basePath` as its backing file and have the base's size. Throws ingot::Error
    // (usage) naming the overlay otherwise, or when another process holds it.
    static std::unique_ptr<Qcow2OverlayDisk> open(const std::string& overlayPath,
                                                  const std::string& basePath,
                                                  std::unique_ptr<BlockBackend> base);

    uint64_t sizeBytes() const override { return size_; }
    bool readOnly() const override { return false; }
    std::string describe() const override;
    int read(uint64_t offset, std::span<const iovec> buffers) override;
    int write(uint64_t offset, std::span<const iovec> buffers) override;
    int flush() override;
    uint32_t discardGranularity() const override { return granularity_; }
    int discard(uint64_t offset, uint64_t length) override;
    int writeZeroes(uint64_t offset, uint64_t length, bool mayUnmap) override;
    std::vector<std::pair<std::string, uint64_t>> counters() const override;

private:
    Qcow2OverlayDisk() = default;

    std::string path_;
    FileDescriptor lock_;
    std::unique_ptr<BlockBackend> base_;
    std::unique_ptr<image::Qcow2Image> overlay_;
    uint64_t size_ = 0;
    uint32_t granularity_ = 0;
};

}  // namespace ingot::vmm::virtio
