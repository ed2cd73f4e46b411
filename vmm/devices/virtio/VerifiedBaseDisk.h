#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "RateLimitedLog.h"
#include "devices/virtio/BlockBackend.h"
#include "ingot/image/Manifest.h"
#include "ingot/image/Verity.h"
#include "ingot/sign/Minisign.h"
#include "kvm/FileDescriptor.h"

namespace ingot::vmm::virtio {

// A gold image's raw disk, served read-only and only as far as its signature vouches for it
// (docs/virtio.md, "Verified base disks"). Opening checks the image the way ingot-fw does: a
// canonical GPT and boot pack, a manifest signed by a trusted key, kernel and initrd digests.
// Afterwards every root-partition block is checked against the manifest's dm-verity root hash
// the first time the guest reads it, and every tree block of root-verity likewise; a block that
// does not match fails the request with EIO and a log line naming it, and is never served.
// Bytes no check covers (the alignment gaps between partitions) read as zeros.
//
// A verified block is remembered and later served straight from the file: the base is
// immutable once published to the store, and the guest cannot write it. Used by one worker
// thread.
class VerifiedBaseDisk : public BlockBackend {
public:
    // Throws ingot::Error with status kVerification (exit 3) when the image does not verify,
    // kUsage when it cannot be opened.
    static std::unique_ptr<VerifiedBaseDisk> open(
        const std::string& path, const std::vector<sign::MinisignPublicKey>& trustedKeys);
    ~VerifiedBaseDisk() override;

    uint64_t sizeBytes() const override { return size_; }
    bool readOnly() const override { return true; }
    std::string describe() const override { return "verified image " + path_; }
    int read(uint64_t offset, std::span<const iovec> buffers) override;
    int write(uint64_t, std::span<const iovec>) override { return EROFS; }
    int flush() override { return 0; }

    std::vector<std::pair<std::string, uint64_t>> counters() const override {
        return {{"verifiedBlocks", blocksVerified_}, {"verificationFailures", failures_}};
    }

    const image::Manifest& manifest() const { return manifest_; }
    const std::string& keyId() const { return keyId_; }
    uint64_t blocksVerified() const { return blocksVerified_; }
    uint64_t verificationFailures() const { return failures_; }
    RateLimitedLog& log() { return log_; }

private:
    enum class Kind { kSigned, kZero, kRoot, kTree };
    struct Extent {
        uint64_t start, end;  // bytes of the disk
        Kind kind;
    };

    explicit VerifiedBaseDisk(const std::string& path)
        : path_(path), log_("verified disk " + path) {}
    int readRoot(uint64_t offset, std::span<const iovec> buffers);
    int readTree(uint64_t offset, std::span<const iovec> buffers);
    void addExtent(uint64_t start, uint64_t end, Kind kind);

    std::string path_;
    FileDescriptor fd_;
    uint64_t size_ = 0;
    image::Manifest manifest_;
    std::string keyId_;
    std::vector<Extent> extents_;  // sorted, covering [0, size_)
    uint64_t rootStart_ = 0;       // bytes
    uint64_t rootBlocks_ = 0;      // verity data blocks
    uint64_t hashAreaStart_ = 0;   // bytes: the root-verity partition
    std::unique_ptr<image::VerityVerifier> verifier_;
    std::vector<bool> rootVerified_;  // per data block
    std::vector<bool> treeVerified_;  // per hash-area block
    std::vector<uint8_t> bounce_;
    uint64_t blocksVerified_ = 0;
    uint64_t failures_ = 0;
    RateLimitedLog log_;
};

}  // namespace ingot::vmm::virtio
