#include "devices/virtio/VerifiedBaseDisk.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>

#include "ingot/core/Error.h"
#include "ingot/core/IoVectors.h"
#include "ingot/image/Gpt.h"
#include "ingot/image/ImageReader.h"

namespace ingot::vmm::virtio {

namespace {

constexpr uint64_t kSector = image::kSectorSize;

const image::ManifestPartition& partitionFor(const image::Manifest& manifest,
                                             const std::string& role, const std::string& path) {
    for (const auto& p : manifest.partitions)
        if (p.role == role) return p;
    throw Error(path + ": the signed manifest lists no '" + role +
                    "' partition, so its blocks cannot be verified",
                ExitStatus::kVerification);
}

}  // namespace

std::unique_ptr<VerifiedBaseDisk> VerifiedBaseDisk::open(
    const std::string& path, const std::vector<sign::MinisignPublicKey>& trustedKeys) {
    if (trustedKeys.empty())
        throw Error("disk " + path + ": a verified base needs at least one trusted key (--trust)",
                    ExitStatus::kUsage);
    image::ImageContents contents = image::readImage(path);
    image::VerifiedImage verified = image::verifyImage(contents, trustedKeys);
    if (!verified.manifest.verity)
        throw Error(path + ": the manifest has no dm-verity tree, so the root partition's blocks "
                           "cannot be verified",
                    ExitStatus::kVerification);

    std::unique_ptr<VerifiedBaseDisk> disk(new VerifiedBaseDisk(path));
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throwSystemError("cannot open disk " + path, errno, ExitStatus::kUsage);
    disk->fd_ = FileDescriptor(fd);
    disk->size_ = contents.fileSize;
    disk->manifest_ = verified.manifest;
    disk->keyId_ = sign::formatKeyId(verified.key.keyId);

    const auto& boot = partitionFor(disk->manifest_, "boot", path);
    const auto& root = partitionFor(disk->manifest_, "root", path);
    const auto& hash = partitionFor(disk->manifest_, "root-verity", path);
    image::VerityTarget target = image::verityTarget(*disk->manifest_.verity);
    disk->rootStart_ = root.firstLba * kSector;
    disk->rootBlocks_ = target.params.dataBlocks;
    disk->hashAreaStart_ = hash.firstLba * kSector;
    const uint64_t hashAreaBytes = (hash.lastLba + 1 - hash.firstLba) * kSector;
    disk->verifier_ = std::make_unique<image::VerityVerifier>(
        target.params, target.rootHash, fd, disk->hashAreaStart_, hashAreaBytes,
        path + " partition root-verity");
    const image::VerityLayout& layout = disk->verifier_->layout();
    disk->rootVerified_.assign(disk->rootBlocks_, false);
    disk->treeVerified_.assign(layout.areaBytes / target.params.hashBlockSize, false);
    disk->bounce_.resize(std::max(target.params.dataBlockSize, target.params.hashBlockSize));

    // What vouches for each byte: verifyImage compared the GPT regions and the whole boot
    // partition (pack and zero tail) with their canonical forms, and the root-verity bytes around
    // the tree with what the writer puts there; the tree and the root go through dm-verity.
    const uint64_t gptBackup = disk->size_ - (1 + image::kGptEntrySectors) * kSector;
    disk->addExtent(0, image::kGptFirstUsableLba * kSector, Kind::kSigned);
    disk->addExtent(boot.firstLba * kSector, (boot.lastLba + 1) * kSector, Kind::kSigned);
    disk->addExtent(disk->rootStart_, disk->rootStart_ + disk->rootBlocks_ * target.params.dataBlockSize,
                    Kind::kRoot);
    disk->addExtent(disk->hashAreaStart_, disk->hashAreaStart_ + layout.hashOffset, Kind::kSigned);
    disk->addExtent(disk->hashAreaStart_ + layout.hashOffset,
                    disk->hashAreaStart_ + layout.hashOffset + layout.treeBytes, Kind::kTree);
    disk->addExtent(disk->hashAreaStart_ + layout.hashOffset + layout.treeBytes,
                    disk->hashAreaStart_ + hashAreaBytes, Kind::kSigned);
    disk->addExtent(gptBackup, disk->size_, Kind::kSigned);
    std::sort(disk->extents_.begin(), disk->extents_.end(),
              [](const Extent& a, const Extent& b) { return a.start < b.start; });
    // Fill the gaps with zeros, refusing overlaps: the manifest was checked against the GPT, but
    // an overlap here would let one rule serve bytes another should have checked.
    std::vector<Extent> all;
    uint64_t at = 0;
    for (const Extent& e : disk->extents_) {
        if (e.start < at)
            throw Error(path + ": the regions the manifest describes overlap at byte " +
                            std::to_string(e.start),
                        ExitStatus::kVerification);
        if (e.start > at) all.push_back({at, e.start, Kind::kZero});
        if (e.end > e.start) all.push_back(e);
        at = e.end;
    }
    if (at > disk->size_)
        throw Error(path + ": the manifest's partitions end past the disk's " +
                        std::to_string(disk->size_) + " bytes",
                    ExitStatus::kVerification);
    if (at < disk->size_) all.push_back({at, disk->size_, Kind::kZero});
    disk->extents_ = std::move(all);
    return disk;
}

VerifiedBaseDisk::~VerifiedBaseDisk() = default;

void VerifiedBaseDisk::addExtent(uint64_t start, uint64_t end, Kind kind) {
    extents_.push_back({start, end, kind});
}

int VerifiedBaseDisk::read(uint64_t offset, std::span<const iovec> buffers) {
    const uint64_t total = totalBytes(buffers);
    if (offset > size_ || total > size_ - offset) return EIO;
    uint64_t done = 0;
    // The extent holding `offset`: the list is short (at most a dozen), a scan is enough.
    size_t e = 0;
    while (done < total) {
        const uint64_t at = offset + done;
        while (extents_[e].end <= at) ++e;
        const Extent& extent = extents_[e];
        const uint64_t length = std::min(total - done, extent.end - at);
        std::vector<iovec> part = sliceIovecs(buffers, done, length);
        int err = 0;
        switch (extent.kind) {
            case Kind::kSigned: err = preadAll(fd_.get(), at, part); break;
            case Kind::kZero: zeroIovecs(part); break;
            case Kind::kRoot: err = readRoot(at - rootStart_, part); break;
            case Kind::kTree: err = readTree(at - hashAreaStart_, part); break;
        }
        if (err) return err;
        done += length;
    }
    return 0;
}

// `offset` is bytes into the root partition.
int VerifiedBaseDisk::readRoot(uint64_t offset, std::span<const iovec> buffers) {
    const uint64_t blockSize = manifest_.verity->dataBlockSize;
    const uint64_t total = totalBytes(buffers);
    uint64_t done = 0;
    while (done < total) {
        const uint64_t at = offset + done;
        const uint64_t block = at / blockSize;
        // A run of blocks already verified goes straight from the file to the guest.
        uint64_t runEnd = block;
        while (runEnd < rootBlocks_ && rootVerified_[runEnd] &&
               runEnd * blockSize < offset + total)
            ++runEnd;
        if (runEnd > block) {
            uint64_t length = std::min(offset + total, runEnd * blockSize) - at;
            int err = preadAll(fd_.get(), rootStart_ + at, sliceIovecs(buffers, done, length));
            if (err) return err;
            done += length;
            continue;
        }
        iovec whole{bounce_.data(), blockSize};
        int err = preadAll(fd_.get(), rootStart_ + block * blockSize, {&whole, 1});
        if (err) return err;
        try {
            verifier_->verifyBlock(block, bounce_.data());
        } catch (const Error& failure) {
            ++failures_;
            log_.report("root block " + std::to_string(block) + " (disk byte " +
                        std::to_string(rootStart_ + block * blockSize) +
                        ") failed verification, the guest gets an I/O error: " + failure.what());
            return EIO;
        }
        rootVerified_[block] = true;
        ++blocksVerified_;
        uint64_t within = at - block * blockSize;
        uint64_t length = std::min(total - done, blockSize - within);
        copyToIovecs(sliceIovecs(buffers, done, length), bounce_.data() + within, length);
        done += length;
    }
    return 0;
}

// `offset` is bytes into the hash area (the root-verity partition).
int VerifiedBaseDisk::readTree(uint64_t offset, std::span<const iovec> buffers) {
    const uint64_t blockSize = manifest_.verity->hashBlockSize;
    const uint64_t total = totalBytes(buffers);
    for (uint64_t block = offset / blockSize; block * blockSize < offset + total; ++block) {
        if (treeVerified_[block]) continue;
        try {
            verifier_->verifyTreeBlock(block);
        } catch (const Error& failure) {
            ++failures_;
            log_.report("root-verity block " + std::to_string(block) + " (disk byte " +
                        std::to_string(hashAreaStart_ + block * blockSize) +
                        ") failed verification, the guest gets an I/O error: " + failure.what());
            return EIO;
        }
        treeVerified_[block] = true;
    }
    return preadAll(fd_.get(), hashAreaStart_ + offset, buffers);
}

}  // namespace ingot::vmm::virtio
