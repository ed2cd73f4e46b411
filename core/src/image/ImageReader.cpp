#include "ingot/image/ImageReader.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <memory>

#include "ReadAt.h"
#include "ingot/core/Error.h"
#include "ingot/image/BootPack.h"
#include "ingot/image/Verity.h"

namespace ingot::image {
namespace {

constexpr size_t kNewcHeaderSize = 110;
constexpr size_t kFilesizeField = 6 + 6 * 8;  // byte offset of the filesize digits in a header
constexpr size_t kChunkSize = 1 << 20;
constexpr size_t kArchiveBlock = 64 * 1024;

uint64_t padTo4(uint64_t n) {
    return (n + 3) & ~uint64_t{3};
}

Error imageError(const std::string& message) {
    return Error(message, ExitStatus::kVerification);
}

class Fd {
public:
    explicit Fd(const std::string& path) {
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) throwSystemError("cannot read image " + path, errno, ExitStatus::kUsage);
    }
    ~Fd() { ::close(fd_); }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

private:
    int fd_ = -1;
};

// libarchive pulls the boot partition through this, never past the partition's end. Exceptions
// must not cross libarchive's C frames, so a failed read is parked here and rethrown.
struct PartitionSource {
    int fd;
    uint64_t position;  // file offset of the next byte to hand out
    uint64_t end;       // file offset just past the partition
    std::string where;
    std::vector<char> buffer = std::vector<char>(kArchiveBlock);
    std::exception_ptr error;
};

la_ssize_t readCallback(archive*, void* clientData, const void** data) {
    auto* source = static_cast<PartitionSource*>(clientData);
    try {
        size_t n = static_cast<size_t>(
            std::min<uint64_t>(source->buffer.size(), source->end - source->position));
        if (n > 0)
            detail::readAllAt(source->fd, source->buffer.data(), n, source->position,
                              source->where);
        source->position += n;
        *data = source->buffer.data();
        return static_cast<la_ssize_t>(n);
    } catch (...) {
        source->error = std::current_exception();
        return -1;
    }
}

struct ArchiveDeleter {
    void operator()(archive* a) const { archive_read_free(a); }
};

// Reads the canonical boot pack from the boot partition: libarchive parses each entry, and every
// header is also compared byte for byte with the one the writer would emit, so no field,
// padding byte or gap libarchive tolerates can slip past.
class PackReader {
public:
    PackReader(int fd, const std::string& path, uint64_t start, uint64_t end)
        : fd_(fd), path_(path), start_(start), end_(end), archive_(archive_read_new()) {
        source_.fd = fd;
        source_.position = start;
        source_.end = end;
        source_.where = path;
        if (!archive_) throw Error("libarchive: cannot allocate an archive reader");
        check(archive_read_support_format_cpio(a()), "select the cpio format", start_);
    }

    void read(ImageContents& contents) {
        // The names a canonical pack may hold at each position.
        static const std::vector<std::vector<std::string>> kExpected = {
            {kBootPackManifestName}, {kBootPackSignatureName},
            {kBootPackKernelName},   {kBootPackInitrdName, kBootPackTrailerName},
            {kBootPackTrailerName},
        };
        uint64_t offset = 0;  // within the pack
        for (size_t index = 0;; ++index) {
            std::string name = expectHeader(kExpected[index], offset, index);
            // Opening makes libarchive read the first header, so only after that one passed.
            if (index == 0)
                check(archive_read_open(a(), &source_, nullptr, readCallback, nullptr),
                      "open the boot pack", start_);
            if (name == kBootPackTrailerName) {
                offset += canonicalEntryHeader(name, 0, 0).size();
                break;
            }
            contents.members.push_back(readMember(name, offset, index));
            const ImageMember& m = contents.members.back();
            if (name == kBootPackManifestName) contents.manifestText = std::move(smallData_);
            if (name == kBootPackSignatureName) contents.signatureText = std::move(smallData_);
            offset = m.dataOffset - start_ + padTo4(m.size);
        }
        archive_entry* entry = nullptr;
        int status = archive_read_next_header(a(), &entry);
        if (status != ARCHIVE_EOF)
            throw imageError(at(offset) + ": libarchive does not see the trailer as the end");
        contents.bootPackBytes = offset;
        checkZeroTail(start_ + offset);
    }

private:
    archive* a() { return archive_.get(); }

    std::string at(uint64_t packOffset) const {
        return path_ + ": boot pack byte " + std::to_string(packOffset) + " (file byte " +
               std::to_string(start_ + packOffset) + ")";
    }
    std::string memberLabel(const std::string& name, uint64_t packOffset) const {
        return path_ + ": boot pack member '" + name + "' (header at file byte " +
               std::to_string(start_ + packOffset) + ")";
    }

    void check(int status, const std::string& what, uint64_t fileOffset) {
        if (source_.error) std::rethrow_exception(source_.error);
        if (status == ARCHIVE_OK) return;
        const char* message = archive_error_string(a());
        throw imageError(path_ + ": boot pack near file byte " + std::to_string(fileOffset) +
                         ": libarchive cannot " + what + ": " +
                         (message ? message : "unknown error"));
    }

    // Raw bytes of the pack at `packOffset`, or an error naming what was expected there.
    std::string rawBytes(uint64_t packOffset, size_t size, const std::string& expected) {
        if (start_ + packOffset + size > end_)
            throw imageError(at(packOffset) + ": the boot partition ends before " + expected +
                             " (truncated boot pack)");
        std::string bytes(size, '\0');
        detail::readAllAt(fd_, bytes.data(), size, start_ + packOffset, path_);
        return bytes;
    }

    // Before libarchive parses a header, its bytes must match one of the canonical headers
    // allowed here (the size field aside, which only libarchive's parse tells us). This also
    // keeps libarchive from ever seeing a hostile name length.
    std::string expectHeader(const std::vector<std::string>& names, uint64_t packOffset,
                             size_t index) {
        std::string description;
        for (const std::string& name : names) {
            std::string expected =
                canonicalEntryHeader(name, 0, name == kBootPackTrailerName ? 0 : index + 1);
            if (!description.empty()) description += " or ";
            description += "the header of '" + name + "'";
            if (start_ + packOffset + expected.size() > end_) continue;
            std::string actual = rawBytes(packOffset, expected.size(), description);
            bool match = true;
            for (size_t i = 0; i < expected.size() && match; ++i) {
                bool sizeDigit = i >= kFilesizeField && i < kFilesizeField + 8;
                if (sizeDigit && name == kBootPackTrailerName) sizeDigit = false;
                match = sizeDigit || actual[i] == expected[i];
            }
            if (match) return name;
        }
        // Say where the bytes depart from the first candidate: that is the likelier intent.
        const std::string& first = names.front();
        std::string expected =
            canonicalEntryHeader(first, 0, first == kBootPackTrailerName ? 0 : index + 1);
        std::string actual = rawBytes(packOffset, expected.size(), description);
        size_t differs = 0;
        while (differs < expected.size() &&
               (actual[differs] == expected[differs] ||
                (differs >= kFilesizeField && differs < kFilesizeField + 8)))
            ++differs;
        throw imageError(at(packOffset) + ": expected " + description +
                         " in canonical cpio newc form; byte " +
                         std::to_string(start_ + packOffset + differs) + " of the file differs");
    }

    ImageMember readMember(const std::string& name, uint64_t packOffset, size_t index) {
        std::string label = memberLabel(name, packOffset);
        archive_entry* entry = nullptr;
        int status = archive_read_next_header(a(), &entry);
        if (status == ARCHIVE_EOF) throw imageError(label + ": libarchive finds no entry here");
        check(status, "read the header of '" + name + "'", start_ + packOffset);
        if (archive_entry_pathname(entry) == nullptr || name != archive_entry_pathname(entry))
            throw imageError(label + ": libarchive reads a different name");
        if (archive_read_header_position(a()) != static_cast<la_int64_t>(packOffset))
            throw imageError(label + ": libarchive finds the header at pack byte " +
                             std::to_string(archive_read_header_position(a())));
        if (!archive_entry_size_is_set(entry) || archive_entry_size(entry) < 0)
            throw imageError(label + ": no size");
        uint64_t size = static_cast<uint64_t>(archive_entry_size(entry));
        uint64_t limit = name == kBootPackManifestName    ? kMaxManifestBytes
                         : name == kBootPackSignatureName ? kMaxSignatureBytes
                                                          : UINT64_MAX;
        if (size > limit)
            throw imageError(label + ": " + std::to_string(size) + " bytes, more than the " +
                             std::to_string(limit) + " a valid image has");
        std::string expected = canonicalEntryHeader(name, size, static_cast<uint32_t>(index + 1));
        if (rawBytes(packOffset, expected.size(), "the header of '" + name + "'") != expected)
            throw imageError(label + ": header is not in canonical form");

        ImageMember member;
        member.name = name;
        member.headerOffset = start_ + packOffset;
        member.dataOffset = member.headerOffset + expected.size();
        member.size = size;
        if (member.dataOffset + padTo4(size) > end_)
            throw imageError(label + ": its " + std::to_string(size) +
                             " bytes run past the end of the boot partition at file byte " +
                             std::to_string(end_) + " (truncated boot pack)");

        Sha256 hash;
        std::vector<char> buffer(std::min<uint64_t>(kChunkSize, std::max<uint64_t>(size, 1)));
        bool small = limit != UINT64_MAX;
        smallData_.clear();
        uint64_t done = 0;
        for (;;) {
            la_ssize_t n = archive_read_data(a(), buffer.data(), buffer.size());
            if (n < 0)
                check(ARCHIVE_FATAL, "read the data of '" + name + "'", member.dataOffset + done);
            if (n == 0) break;
            if (done + static_cast<uint64_t>(n) > size)
                throw imageError(label + ": libarchive returns more data than the header says");
            hash.update(buffer.data(), static_cast<size_t>(n));
            if (small) smallData_.append(buffer.data(), static_cast<size_t>(n));
            done += static_cast<uint64_t>(n);
        }
        if (done != size)
            throw imageError(label + ": only " + std::to_string(done) + " of " +
                             std::to_string(size) + " bytes could be read");
        member.sha256 = hash.finish();
        uint64_t padding = padTo4(size) - size;
        std::string pad = rawBytes(member.dataOffset - start_ + size, padding, "padding");
        if (pad.find_first_not_of('\0') != std::string::npos)
            throw imageError(label + ": padding after the data at file byte " +
                             std::to_string(member.dataOffset + size) + " is not zero");
        return member;
    }

    // After the trailer the partition is zero to its end; stray bytes there would be unsigned
    // data riding along in a verified image.
    void checkZeroTail(uint64_t from) {
        std::vector<char> buffer(kChunkSize);
        for (uint64_t position = from; position < end_;) {
            size_t n = static_cast<size_t>(std::min<uint64_t>(buffer.size(), end_ - position));
            detail::readAllAt(fd_, buffer.data(), n, position, path_);
            auto nonZero = std::find_if(buffer.begin(), buffer.begin() + static_cast<long>(n),
                                        [](char c) { return c != 0; });
            if (nonZero != buffer.begin() + static_cast<long>(n))
                throw imageError(path_ + ": boot partition byte at file offset " +
                                 std::to_string(position + (nonZero - buffer.begin())) +
                                 " after the boot pack's trailer is not zero");
            position += n;
        }
    }

    int fd_;
    std::string path_;
    uint64_t start_, end_;
    PartitionSource source_;
    std::unique_ptr<archive, ArchiveDeleter> archive_;
    std::string smallData_;
};

std::string memberWhere(const ImageContents& contents, const ImageMember& member) {
    return contents.path + ": boot pack member '" + member.name + "' (data at file byte " +
           std::to_string(member.dataOffset) + ")";
}

std::string gptEntryWhere(const ImageContents& contents, size_t index) {
    return contents.path + ": GPT entry " + std::to_string(index + 1) + " (byte " +
           std::to_string(2 * kSectorSize + index * kGptEntrySize) + ")";
}

void compareFile(const ImageContents& contents, const char* name, const ManifestFile& expected) {
    const ImageMember* member = contents.member(name);
    if (!member)
        throw imageError(contents.path + ": the manifest names a " + name +
                         " but the boot pack has none");
    std::string where = memberWhere(contents, *member);
    if (member->size != expected.size)
        throw imageError(where + ": " + std::to_string(member->size) +
                         " bytes, the manifest says " + std::to_string(expected.size));
    if (toHex(member->sha256) != expected.sha256)
        throw imageError(where + ": SHA-256 " + toHex(member->sha256) +
                         " does not match the manifest's " + expected.sha256);
}

std::string partitionWhere(const ImageContents& contents, const char* role) {
    return contents.path + ": " + role + " partition";
}

// The signed verity parameters, and the partitions they describe, checked against each other:
// the tree covers the whole root partition, fits its partition, and every byte of that
// partition outside the tree (superblock block, tail) is exactly what the writer puts there.
// The superblock is outside the root hash, so without this a verified image could carry
// unsigned bytes that veritysetup and the kernel would read.
struct VerityPlacement {
    VerityTarget target;
    VerityLayout layout;
    uint64_t rootOffset = 0;
    uint64_t hashOffset = 0;
    uint64_t hashBytes = 0;
};

VerityPlacement placeVerity(const ImageContents& contents, const Manifest& manifest, int fd) {
    const ManifestPartition* root = nullptr;
    const ManifestPartition* hash = nullptr;
    for (const ManifestPartition& p : manifest.partitions) {
        if (p.role == "root") root = &p;
        if (p.role == "root-verity") hash = &p;
    }
    if (!hash || !manifest.verity)
        throw imageError(contents.path + ": the manifest describes no verity tree");
    if (!root)
        throw imageError(contents.path +
                         ": the manifest has a root-verity partition but no root partition");
    VerityPlacement place;
    try {
        place.target = verityTarget(*manifest.verity);
        place.layout = verityLayout(place.target.params);
    } catch (const Error& e) {
        throw imageError(contents.path + ": " + e.what());
    }
    const VerityParams& params = place.target.params;
    place.rootOffset = root->firstLba * kSectorSize;
    uint64_t rootBytes = (root->lastLba - root->firstLba + 1) * kSectorSize;
    // dataBlocks * dataBlockSize cannot overflow: verityLayout keeps it below 2^62.
    if (params.dataBlocks * params.dataBlockSize != rootBytes)
        throw imageError(partitionWhere(contents, "root") + " (file byte " +
                         std::to_string(place.rootOffset) + "): " + std::to_string(rootBytes) +
                         " bytes, but the verity tree covers " + std::to_string(params.dataBlocks) +
                         " blocks of " + std::to_string(params.dataBlockSize) + " bytes");
    place.hashOffset = hash->firstLba * kSectorSize;
    place.hashBytes = (hash->lastLba - hash->firstLba + 1) * kSectorSize;
    std::string hashWhere = partitionWhere(contents, "root-verity");
    if (place.hashBytes < place.layout.areaBytes)
        throw imageError(hashWhere + " (file byte " + std::to_string(place.hashOffset) + "): " +
                         std::to_string(place.hashBytes) + " bytes, but the verity tree needs " +
                         std::to_string(place.layout.areaBytes));

    std::vector<uint8_t> first(place.layout.hashOffset);
    detail::readAllAt(fd, first.data(), first.size(), place.hashOffset, contents.path);
    std::array<uint8_t, kVeritySuperblockSize> expected = veritySuperblock(params);
    if (!std::equal(expected.begin(), expected.end(), first.begin())) {
        std::string superblockWhere =
            hashWhere + " (superblock at file byte " + std::to_string(place.hashOffset) + ")";
        VerityParams found = parseVeritySuperblock(first.data(), first.size(), superblockWhere);
        std::string differs = found.uuid != params.uuid                     ? "uuid"
                              : found.dataBlockSize != params.dataBlockSize ? "data block size"
                              : found.hashBlockSize != params.hashBlockSize ? "hash block size"
                              : found.dataBlocks != params.dataBlocks       ? "data block count"
                              : found.salt != params.salt                   ? "salt"
                                                                            : "encoding";
        throw imageError(superblockWhere + ": its " + differs +
                         " differs from the signed manifest's verity parameters");
    }
    auto checkZero = [&](uint64_t from, uint64_t to, const char* what) {
        std::vector<char> buffer(1 << 20);
        for (uint64_t position = from; position < to;) {
            size_t n = static_cast<size_t>(std::min<uint64_t>(buffer.size(), to - position));
            detail::readAllAt(fd, buffer.data(), n, position, contents.path);
            auto nonZero = std::find_if(buffer.begin(), buffer.begin() + static_cast<long>(n),
                                        [](char c) { return c != 0; });
            if (nonZero != buffer.begin() + static_cast<long>(n))
                throw imageError(hashWhere + ": byte at file offset " +
                                 std::to_string(position + (nonZero - buffer.begin())) + " " +
                                 what + " is not zero");
            position += n;
        }
    };
    checkZero(place.hashOffset + kVeritySuperblockSize, place.hashOffset + place.layout.hashOffset,
              "after the verity superblock");
    checkZero(place.hashOffset + place.layout.areaBytes, place.hashOffset + place.hashBytes,
              "after the verity tree");
    return place;
}

}  // namespace

const ImageMember* ImageContents::member(std::string_view name) const {
    for (const ImageMember& m : members)
        if (m.name == name) return &m;
    return nullptr;
}

ImageContents readImage(const std::string& path) {
    Fd fd(path);
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0)
        throwSystemError("cannot read image " + path, errno, ExitStatus::kUsage);
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        throw Error("image " + path + " is not a regular file or block device", ExitStatus::kUsage);
    ImageContents contents;
    contents.path = path;
    contents.fileSize = static_cast<uint64_t>(st.st_size);
    if (S_ISBLK(st.st_mode)) {
        off_t end = ::lseek(fd.get(), 0, SEEK_END);
        if (end < 0) throwSystemError("cannot read image " + path, errno, ExitStatus::kUsage);
        contents.fileSize = static_cast<uint64_t>(end);
    }
    contents.gpt = readGpt(fd.get(), contents.fileSize, path);
    if (contents.gpt.partitions.empty())
        throw imageError(path +
                         ": the GPT has no partitions; an ingot image has a boot partition first");
    const GptPartition& boot = contents.gpt.partitions[0];
    if (boot.type != Guid::parse(partitionRole("boot").type))
        throw imageError(path + ": GPT entry 1 (byte 1024) has type " + boot.type.toString() +
                         ", not the ingot boot pack type " + partitionRole("boot").type);
    PackReader(fd.get(), path, boot.firstLba * kSectorSize, (boot.lastLba + 1) * kSectorSize)
        .read(contents);
    return contents;
}

Manifest parseImageManifest(const ImageContents& contents) {
    const ImageMember* member = contents.member(kBootPackManifestName);
    std::string where = member ? memberWhere(contents, *member) : contents.path;
    try {
        return parseManifest(contents.manifestText, where);
    } catch (const Error& e) {
        throw imageError(e.what());
    }
}

VerifiedImage verifyImage(const ImageContents& contents,
                          const std::vector<sign::MinisignPublicKey>& trustedKeys) {
    const ImageMember* signatureMember = contents.member(kBootPackSignatureName);
    std::string signatureWhere =
        signatureMember ? memberWhere(contents, *signatureMember) : contents.path;
    sign::MinisignSignatureInfo info = sign::describeMinisign(contents.signatureText);
    if (!info.keyId)
        throw imageError(signatureWhere + ": not a minisign signature (no key id line)");
    auto key =
        std::find_if(trustedKeys.begin(), trustedKeys.end(),
                     [&](const sign::MinisignPublicKey& k) { return k.keyId == *info.keyId; });
    if (key == trustedKeys.end()) {
        std::string trusted;
        for (const auto& k : trustedKeys)
            trusted += (trusted.empty() ? "" : ", ") + sign::formatKeyId(k.keyId);
        throw imageError(
            signatureWhere + ": signed by key " + sign::formatKeyId(*info.keyId) +
            ", which is not a trusted key (trusted: " + (trusted.empty() ? "none" : trusted) + ")");
    }
    VerifiedImage verified;
    verified.key = *key;
    verified.trustedComment =
        sign::verifyMinisign(*key, contents.manifestText, contents.signatureText, signatureWhere);
    verified.manifestSha256 = sha256(contents.manifestText);
    verified.manifest = parseImageManifest(contents);
    const Manifest& manifest = verified.manifest;

    std::string expectedComment = "ingot image " + manifest.name + " " + manifest.version;
    if (verified.trustedComment != expectedComment)
        throw imageError(signatureWhere + ": trusted comment '" + verified.trustedComment +
                         "' does not name this image ('" + expectedComment + "')");

    const std::vector<GptPartition>& gpt = contents.gpt.partitions;
    for (size_t i = 0; i < std::max(gpt.size(), manifest.partitions.size()); ++i) {
        if (i >= manifest.partitions.size())
            throw imageError(gptEntryWhere(contents, i) + ": partition '" + gpt[i].name +
                             "' is not in the signed manifest");
        const ManifestPartition& want = manifest.partitions[i];
        if (i >= gpt.size())
            throw imageError(gptEntryWhere(contents, i) + ": unused, but the manifest lists " +
                             "partition '" + want.role + "' there");
        const GptPartition& have = gpt[i];
        std::string where = gptEntryWhere(contents, i) + ", partition '" + want.role + "'";
        auto mismatch = [&](const char* field, const std::string& h, const std::string& w) {
            return imageError(where + ": " + field + " is " + h + ", the manifest says " + w);
        };
        if (have.type.toString() != want.type)
            throw mismatch("type", have.type.toString(), want.type);
        if (have.unique.toString() != want.uuid)
            throw mismatch("unique GUID", have.unique.toString(), want.uuid);
        if (have.firstLba != want.firstLba)
            throw mismatch("first LBA", std::to_string(have.firstLba),
                           std::to_string(want.firstLba));
        if (have.lastLba != want.lastLba)
            throw mismatch("last LBA", std::to_string(have.lastLba), std::to_string(want.lastLba));
        if (have.name != want.name)
            throw mismatch("name", "'" + have.name + "'", "'" + want.name + "'");
    }

    if (manifest.verity) {
        Fd fd(contents.path);
        placeVerity(contents, manifest, fd.get());
    }

    compareFile(contents, kBootPackKernelName, manifest.kernel);
    if (manifest.initrd) {
        compareFile(contents, kBootPackInitrdName, *manifest.initrd);
    } else if (const ImageMember* initrd = contents.member(kBootPackInitrdName)) {
        throw imageError(memberWhere(contents, *initrd) +
                         ": the boot pack has an initrd but the manifest names none");
    }
    return verified;
}

RootVerityCheck verifyRootVerity(const ImageContents& contents, const Manifest& manifest) {
    Fd fd(contents.path);
    VerityPlacement place = placeVerity(contents, manifest, fd.get());
    VerityVerifier verifier(place.target.params, place.target.rootHash, fd.get(), place.hashOffset,
                            place.hashBytes, partitionWhere(contents, "root-verity"));
    RootVerityCheck check;
    check.dataBlocks =
        verifier.verifyAll(fd.get(), place.rootOffset, partitionWhere(contents, "root"));
    check.rootOffset = place.rootOffset;
    check.hashOffset = place.hashOffset;
    check.treeBytes = place.layout.treeBytes;
    return check;
}

}  // namespace ingot::image
