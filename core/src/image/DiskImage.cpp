#include "ingot/image/DiskImage.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "WriteAt.h"
#include "ingot/core/Error.h"
#include "ingot/core/Sha256.h"
#include "ingot/core/TempFile.h"
#include "ingot/image/BootPack.h"
#include "ingot/image/Verity.h"

namespace ingot::image {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;
constexpr size_t kCopyChunk = 1 << 20;

uint64_t roundUpToMiB(uint64_t bytes) {
    return (bytes + kMiB - 1) / kMiB * kMiB;
}

ManifestFile manifestFile(const FileDigest& digest) {
    return {toHex(digest.sha256), digest.size};
}

FileDigest digestNonEmpty(const std::string& path, const char* what) {
    FileDigest digest = sha256File(path, what);
    if (digest.size == 0)
        throw Error(std::string(what) + " " + path + " is empty", ExitStatus::kUsage);
    return digest;
}

uint64_t rootFileSize(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) < 0)
        throwSystemError("cannot read root partition file " + path, errno, ExitStatus::kUsage);
    if (!S_ISREG(st.st_mode))
        throw Error("root partition file " + path + " is not a regular file", ExitStatus::kUsage);
    if (st.st_size == 0)
        throw Error("root partition file " + path + " is empty", ExitStatus::kUsage);
    return static_cast<uint64_t>(st.st_size);
}

// Copies the root filesystem into its partition, leaving all-zero blocks as holes in the
// (freshly truncated, hence zero) disk file, and feeds every block of the partition, the zero
// tail after the file included, to the verity tree: one pass over a root that may be GBs.
void copyRootAndHash(const std::string& path, uint64_t size, int fd, uint64_t offset,
                     VerityTreeBuilder& tree, uint64_t dataBlocks, const std::string& where) {
    std::string prefix = "cannot read root partition file " + path;
    int in = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) throwSystemError(prefix, errno, ExitStatus::kUsage);
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{in};
    static_assert(kCopyChunk % kVerityBlockSize == 0);
    std::vector<uint8_t> buffer(kCopyChunk);
    static const std::vector<uint8_t> zeros(kVerityBlockSize, 0);
    uint64_t done = 0;
    bool end = false;
    while (!end) {
        // Whole blocks only (short reads are legal), so tree blocks line up with the file's.
        size_t filled = 0;
        while (filled < buffer.size()) {
            ssize_t n = ::read(in, buffer.data() + filled, buffer.size() - filled);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throwSystemError(prefix, errno, ExitStatus::kUsage);
            if (n == 0) {
                end = true;
                break;
            }
            filled += static_cast<size_t>(n);
        }
        if (done + filled > size) break;
        std::fill(buffer.begin() + static_cast<long>(filled),
                  buffer.begin() + static_cast<long>((filled + kVerityBlockSize - 1) /
                                                     kVerityBlockSize * kVerityBlockSize),
                  0);
        for (size_t at = 0; at < filled; at += kVerityBlockSize) {
            size_t length = std::min<size_t>(kVerityBlockSize, filled - at);
            if (!std::equal(buffer.data() + at, buffer.data() + at + length, zeros.data()))
                detail::writeAllAt(fd, buffer.data() + at, length, offset + done + at, where);
            tree.addBlock(buffer.data() + at);
        }
        done += filled;
    }
    if (done != size)
        throw Error(prefix + ": the file changed size while the image was written",
                    ExitStatus::kUsage);
    while (tree.blocksAdded() < dataBlocks) tree.addBlock(zeros.data());
}

struct Plan {
    Manifest manifest;
    std::string manifestText;
    std::string signature;
    GptDisk gpt;
    uint64_t packBytes;
};

// The boot partition's size depends on the manifest, which lists that size: start from a guess
// and repeat until the pack fits the partition the manifest describes. Manifest sizes move by a
// few digits at most, so this settles in one or two rounds.
// `otherBytes` are the sizes of the partitions after boot (root, root-verity), in role order.
Plan plan(const DiskImageInput& input, const sign::MinisignSecretKey& key, Manifest manifest,
          const BootPackFile& kernel, const std::optional<BootPackFile>& initrd,
          const std::vector<uint64_t>& otherBytes) {
    uint64_t bootBytes = 1;
    for (int round = 0; round < 8; ++round) {
        std::vector<uint64_t> sizes = {bootBytes};
        sizes.insert(sizes.end(), otherBytes.begin(), otherBytes.end());
        GptLayout layout = layoutGptPartitions(sizes);

        GptDisk gpt;
        gpt.sectorCount = layout.sectorCount;
        gpt.diskGuid = deterministicGuid(input.name, "disk");
        manifest.partitions.clear();
        for (size_t i = 0; i < sizes.size(); ++i) {
            const PartitionRole& role = kPartitionRoles[i];
            GptPartition partition;
            partition.type = Guid::parse(role.type);
            partition.unique = deterministicGuid(input.name, role.role);
            partition.firstLba = layout.extents[i].firstLba;
            partition.lastLba = layout.extents[i].lastLba;
            partition.name = role.name;
            gpt.partitions.push_back(partition);
            manifest.partitions.push_back({partition.firstLba, partition.lastLba, role.name,
                                           role.role, role.type, partition.unique.toString()});
        }

        std::string manifestText = serializeManifest(manifest);
        std::string signature =
            sign::signMinisign(key, manifestText, imageTrustedComment(input.name, input.version),
                               "ingot image signature");
        uint64_t packBytes =
            bootPackSize(ingotBootPackMembers(manifestText, signature, kernel, initrd));
        uint64_t bootPartitionBytes =
            (gpt.partitions[0].lastLba - gpt.partitions[0].firstLba + 1) * kSectorSize;
        if (roundUpToMiB(packBytes) == bootPartitionBytes)
            return {std::move(manifest), std::move(manifestText), std::move(signature),
                    std::move(gpt), packBytes};
        bootBytes = packBytes;
    }
    throw Error("cannot settle the size of the boot partition for image " + input.name);
}

}  // namespace

std::string imageTrustedComment(const std::string& name, const std::string& version) {
    return "ingot image " + name + " " + version;
}

DiskImage writeDiskImage(const DiskImageInput& input, const sign::MinisignSecretKey& key,
                         const std::string& outputPath) {
    FileDigest kernelDigest = digestNonEmpty(input.kernelPath, "kernel");
    std::optional<FileDigest> initrdDigest;
    if (input.initrdPath) initrdDigest = digestNonEmpty(*input.initrdPath, "initrd");
    std::optional<uint64_t> rootBytes;
    if (input.rootPath) rootBytes = rootFileSize(*input.rootPath);

    Manifest manifest;
    manifest.name = input.name;
    manifest.version = input.version;
    manifest.created = input.created;
    manifest.cmdline = input.cmdline;
    manifest.defaults = input.defaults;
    manifest.kernel = manifestFile(kernelDigest);
    if (initrdDigest) manifest.initrd = manifestFile(*initrdDigest);
    manifest.provenance = input.provenance;

    BootPackFile kernel{input.kernelPath, kernelDigest.size};
    std::optional<BootPackFile> initrd;
    if (initrdDigest) initrd = BootPackFile{*input.initrdPath, initrdDigest->size};

    // The root hash is known only after the root has been read, and the root's place on the
    // disk only after the boot partition is sized from the manifest. The manifest's size does
    // not depend on the root hash (always 64 digits), so plan with a placeholder, write root
    // and tree, then plan again with the real hash and insist on the same layout.
    std::vector<uint64_t> otherBytes;
    std::optional<VerityParams> verityParams;
    if (rootBytes) {
        uint64_t rootPartitionBytes = roundUpToMiB(*rootBytes);
        VerityParams params;
        params.dataBlocks = rootPartitionBytes / kVerityBlockSize;
        params.salt = veritySalt(input.name);
        params.uuid = deterministicGuid(input.name, "root-verity").bytes;
        VerityTree placeholder;
        placeholder.params = params;
        placeholder.layout = verityLayout(params);
        manifest.verity = placeholder.manifestVerity();
        otherBytes = {rootPartitionBytes, placeholder.layout.areaBytes};
        verityParams = std::move(params);
    }
    Plan p = plan(input, key, manifest, kernel, initrd, otherBytes);

    TempFile file(outputPath);
    const std::string& where = outputPath;
    if (::ftruncate(file.fd(), static_cast<off_t>(p.gpt.sectorCount * kSectorSize)) < 0)
        throwSystemError("cannot size " + where, errno);
    writeGpt(file.fd(), p.gpt, where);

    std::optional<VerityTree> verity;
    if (rootBytes) {
        uint64_t verityOffset = p.gpt.partitions[2].firstLba * kSectorSize;
        VerityTreeBuilder builder(
            *verityParams, [&](uint64_t at, const uint8_t* data, size_t size) {
                detail::writeAllAt(file.fd(), data, size, verityOffset + at, where);
            });
        copyRootAndHash(*input.rootPath, *rootBytes, file.fd(),
                        p.gpt.partitions[1].firstLba * kSectorSize, builder,
                        verityParams->dataBlocks, where);
        verity = builder.finish();
        manifest.verity = verity->manifestVerity();
        Plan settled = plan(input, key, manifest, kernel, initrd, otherBytes);
        bool same = settled.gpt.sectorCount == p.gpt.sectorCount &&
                    settled.gpt.partitions.size() == p.gpt.partitions.size();
        for (size_t i = 0; same && i < p.gpt.partitions.size(); ++i)
            same = settled.gpt.partitions[i].firstLba == p.gpt.partitions[i].firstLba &&
                   settled.gpt.partitions[i].lastLba == p.gpt.partitions[i].lastLba;
        if (!same)
            throw Error("image " + input.name +
                        ": the partition layout moved once the verity root hash was known");
        p = std::move(settled);
    }

    uint64_t offset = p.gpt.partitions[0].firstLba * kSectorSize;
    std::vector<Sha256Digest> digests =
        writeBootPack(ingotBootPackMembers(p.manifestText, p.signature, kernel, initrd),
                      [&](const void* data, size_t size) {
                          detail::writeAllAt(file.fd(), data, size, offset, where);
                          offset += size;
                      });
    // The manifest was signed over digests taken before the pack was written; a kernel or
    // initrd replaced in between must not produce a signed image of other bytes.
    if (digests[2] != kernelDigest.sha256)
        throw Error("kernel " + input.kernelPath + " changed while the image was written",
                    ExitStatus::kUsage);
    if (initrdDigest && digests[3] != initrdDigest->sha256)
        throw Error("initrd " + *input.initrdPath + " changed while the image was written",
                    ExitStatus::kUsage);

    file.commit(0644);
    return {
        std::move(p.manifest), std::move(p.manifestText), std::move(p.signature), std::move(p.gpt),
        p.packBytes,           std::move(verity)};
}

}  // namespace ingot::image
