#include "ingot/oci/Layout.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <nlohmann/json.hpp>

#include "ingot/core/Error.h"
#include "ingot/core/File.h"
#include "ingot/core/Sha256.h"
#include "ingot/core/TempFile.h"
#include "ingot/image/Manifest.h"

namespace ingot::oci {
namespace {

constexpr const char* kLayoutVersion = "1.0.0";

std::string blobsDir(const std::string& layoutDir) {
    return layoutDir + "/blobs/sha256";
}

std::string blobPath(const std::string& layoutDir, const std::string& digest,
                     const std::string& what) {
    return blobsDir(layoutDir) + "/" + digestHex(digest, what);
}

void makeDirectory(const std::string& path) {
    if (::mkdir(path.c_str(), 0755) < 0 && errno != EEXIST)
        throwSystemError("cannot create directory " + path, errno, ExitStatus::kUsage);
    struct stat st {};
    if (::stat(path.c_str(), &st) < 0 || !S_ISDIR(st.st_mode))
        throw Error(path + " exists and is not a directory", ExitStatus::kUsage);
}

// Reads a file of the layout without following a symbolic link at its last component, refusing
// anything but a regular file of at most `maxBytes`.
std::string readLimited(const std::string& path, uint64_t maxBytes, const std::string& what,
                        bool* missing = nullptr) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (missing && errno == ENOENT) {
            *missing = true;
            return {};
        }
        throwSystemError("cannot read " + what + " " + path, errno, ExitStatus::kVerification);
    }
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) < 0) throwSystemError("cannot read " + what + " " + path, errno);
    if (!S_ISREG(st.st_mode))
        throw Error(what + " " + path + " is not a regular file", ExitStatus::kVerification);
    if (static_cast<uint64_t>(st.st_size) > maxBytes)
        throw Error(what + " " + path + " has " + std::to_string(st.st_size) +
                        " bytes, more than the limit of " + std::to_string(maxBytes),
                    ExitStatus::kVerification);
    std::string bytes(static_cast<size_t>(st.st_size), '\0');
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throwSystemError("cannot read " + what + " " + path, errno);
        if (n == 0)
            throw Error(what + " " + path + " shrank while being read", ExitStatus::kVerification);
        done += static_cast<size_t>(n);
    }
    return bytes;
}

void checkLayoutFile(const std::string& layoutDir, bool create) {
    std::string path = layoutDir + "/oci-layout";
    bool missing = false;
    std::string text = readLimited(path, 4096, "layout marker", create ? &missing : nullptr);
    if (missing) {
        nlohmann::json marker = {{"imageLayoutVersion", kLayoutVersion}};
        TempFile file(path);
        std::string bytes = marker.dump();
        file.write(bytes.data(), bytes.size());
        try {
            file.commitWithoutReplacing(0644);
        } catch (const Error&) {
            // Another writer created it first; its content is checked below like any other.
            text = readLimited(path, 4096, "layout marker");
            missing = false;
        }
        if (missing) return;
    }
    nlohmann::json marker = nlohmann::json::parse(text, nullptr, false);
    if (!marker.is_object() || !marker.contains("imageLayoutVersion") ||
        marker["imageLayoutVersion"] != kLayoutVersion)
        throw Error(path + ": not an OCI image layout marker with imageLayoutVersion \"" +
                        kLayoutVersion + "\"",
                    ExitStatus::kVerification);
}

Index readIndex(const std::string& layoutDir, bool allowMissing) {
    checkLayoutFile(layoutDir, false);
    std::string path = layoutDir + "/index.json";
    bool missing = false;
    std::string text =
        readLimited(path, kMaxIndexBytes, "layout index", allowMissing ? &missing : nullptr);
    if (missing) return {};
    return parseIndex(text, path);
}

// Holds an exclusive lock on the layout directory, serialising index.json updates: the
// read-modify-write of two writers would otherwise lose one's tags.
class LayoutLock {
public:
    explicit LayoutLock(const std::string& layoutDir) {
        fd_ = ::open(layoutDir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd_ < 0) throwSystemError("cannot open layout " + layoutDir, errno, ExitStatus::kUsage);
        while (::flock(fd_, LOCK_EX) < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            ::close(fd_);
            throwSystemError("cannot lock layout " + layoutDir, err);
        }
    }
    ~LayoutLock() { ::close(fd_); }
    LayoutLock(const LayoutLock&) = delete;
    LayoutLock& operator=(const LayoutLock&) = delete;

private:
    int fd_ = -1;
};

struct BlobWrite {
    Descriptor descriptor;
    bool created = false;
};

// Content addressing makes an existing blob of the right size the right blob (readers check
// digests anyway), so it is kept: never rewritten, never touched by a concurrent writer.
BlobWrite writeBlob(const std::string& layoutDir, std::string_view bytes, const char* mediaType) {
    BlobWrite result;
    result.descriptor.mediaType = mediaType;
    result.descriptor.digest = sha256Digest(bytes);
    result.descriptor.size = bytes.size();
    std::string path = blobPath(layoutDir, result.descriptor.digest, "new blob");
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        static_cast<uint64_t>(st.st_size) == bytes.size())
        return result;
    // Absent, or damaged (wrong size): written afresh and renamed into place.
    TempFile file(path);
    file.write(bytes.data(), bytes.size());
    file.commit(0444);
    result.created = true;
    return result;
}

class Compressor {
public:
    Compressor() : context_(ZSTD_createCCtx(), ZSTD_freeCCtx) {
        if (!context_) throw Error("cannot allocate a zstd compression context");
        // Every parameter that could vary is pinned: a fixed level, no worker threads (whose
        // job splitting would make output depend on timing), the content size and a checksum
        // in each frame header.
        set(ZSTD_c_compressionLevel, kChunkCompressionLevel);
        set(ZSTD_c_nbWorkers, 0);
        set(ZSTD_c_contentSizeFlag, 1);
        set(ZSTD_c_checksumFlag, 1);
        set(ZSTD_c_dictIDFlag, 0);
    }

    std::string compress(std::span<const uint8_t> bytes) {
        std::string out(ZSTD_compressBound(bytes.size()), '\0');
        size_t n =
            ZSTD_compress2(context_.get(), out.data(), out.size(), bytes.data(), bytes.size());
        if (ZSTD_isError(n))
            throw Error(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
        out.resize(n);
        return out;
    }

private:
    void set(ZSTD_cParameter parameter, int value) {
        size_t status = ZSTD_CCtx_setParameter(context_.get(), parameter, value);
        if (ZSTD_isError(status))
            throw Error(std::string("cannot set a zstd parameter: ") + ZSTD_getErrorName(status));
    }
    std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> context_;
};

Descriptor tagged(Descriptor descriptor, const std::string& artifactType, const std::string& tag) {
    descriptor.artifactType = artifactType;
    descriptor.annotations[kAnnotationRefName] = tag;
    return descriptor;
}

std::string describeReference(const std::string& reference) {
    return reference.rfind("sha256:", 0) == 0 ? "manifest " + reference : "tag " + reference;
}

}  // namespace

PackedImage writeImageToLayout(const std::string& layoutDir, const std::string& diskPath,
                               const std::string& manifestJson, const std::string& minisig,
                               const std::string& tag, const ChunkerParams& params) {
    checkRefName(tag);
    try {
        image::parseManifest(manifestJson, "manifest.json to pack");
    } catch (const Error& e) {
        throw Error(std::string("refusing to pack an invalid manifest: ") + e.what(),
                    ExitStatus::kUsage);
    }
    if (manifestJson.size() > kMaxConfigBytes)
        throw Error(
            "manifest.json to pack is larger than " + std::to_string(kMaxConfigBytes) + " bytes",
            ExitStatus::kUsage);
    if (minisig.empty() || minisig.size() > kMaxSignatureBytes)
        throw Error(
            "signature to pack must have 1 to " + std::to_string(kMaxSignatureBytes) + " bytes",
            ExitStatus::kUsage);

    initLayout(layoutDir);

    PackedImage packed;
    auto count = [&](const BlobWrite& write) {
        if (write.created) {
            ++packed.newBlobs;
            packed.newBlobBytes += write.descriptor.size;
        }
        return write.descriptor;
    };

    ImageManifest image;
    Compressor compressor;
    std::vector<Chunk> chunks =
        chunkFile(diskPath, params, [&](const Chunk& chunk, std::span<const uint8_t> bytes) {
            if (chunk.isZero) {
                ++packed.holes;
                return;
            }
            ImageChunk entry;
            entry.offset = chunk.offset;
            entry.length = chunk.length;
            entry.sha256 = toHex(chunk.sha256);
            entry.blob = count(writeBlob(layoutDir, compressor.compress(bytes), kMediaTypeChunk));
            packed.storedBytes += entry.blob.size;
            image.chunks.push_back(std::move(entry));
        });
    packed.chunks = image.chunks.size();
    packed.diskSize = chunks.empty() ? 0 : chunks.back().offset + chunks.back().length;
    image.diskSize = packed.diskSize;
    image.config = count(writeBlob(layoutDir, manifestJson, kMediaTypeIngotManifest));
    // The signature's config (and the layer of an all-zero disk) is the empty blob.
    count(writeBlob(layoutDir, kEmptyBlob, kMediaTypeEmpty));

    std::string imageText = serializeImageManifest(image);
    if (imageText.size() > kMaxManifestBytes)
        throw Error("the image manifest of " + diskPath + " would have " +
                        std::to_string(imageText.size()) + " bytes (" +
                        std::to_string(image.chunks.size()) +
                        " chunks), more than registries accept (" +
                        std::to_string(kMaxManifestBytes) + "); use a larger chunk size",
                    ExitStatus::kUsage);
    Descriptor imageDescriptor = count(writeBlob(layoutDir, imageText, kMediaTypeImageManifest));

    SignatureManifest signature;
    signature.subject = imageDescriptor;
    signature.signature = count(writeBlob(layoutDir, minisig, kMediaTypeMinisign));
    Descriptor signatureDescriptor =
        count(writeBlob(layoutDir, serializeSignatureManifest(signature), kMediaTypeImageManifest));

    packed.manifest = tagged(imageDescriptor, kArtifactTypeImage, tag);
    packed.digest = imageDescriptor.digest;
    std::string sigTag = signatureTag(imageDescriptor.digest);
    packed.signature = tagged(signatureDescriptor, kArtifactTypeSignature, sigTag);

    setTags(layoutDir, {{tag, packed.manifest}, {sigTag, packed.signature}});
    return packed;
}

std::vector<Tag> listTags(const std::string& layoutDir) {
    std::vector<Tag> tags;
    for (const Descriptor& d : readIndex(layoutDir, false).manifests) {
        auto name = d.annotations.find(kAnnotationRefName);
        if (name != d.annotations.end()) tags.push_back({name->second, d});
    }
    return tags;
}

Descriptor resolveTag(const std::string& layoutDir, const std::string& tag) {
    for (Tag& entry : listTags(layoutDir)) {
        if (entry.name == tag) return entry.manifest;
    }
    throw Error("layout " + layoutDir + " has no tag \"" + tag + "\"", ExitStatus::kUsage);
}

std::string readBlob(const std::string& layoutDir, const std::string& digest, uint64_t maxSize,
                     const std::string& what, const uint64_t* expectedSize) {
    std::string path = blobPath(layoutDir, digest, what);
    if (expectedSize && *expectedSize > maxSize)
        throw Error(what + " " + digest + " is declared with " + std::to_string(*expectedSize) +
                        " bytes, more than the limit of " + std::to_string(maxSize),
                    ExitStatus::kVerification);
    std::string bytes = readLimited(path, maxSize, what);
    if (expectedSize && bytes.size() != *expectedSize)
        throw Error(what + " " + path + " has " + std::to_string(bytes.size()) +
                        " bytes, but its descriptor says " + std::to_string(*expectedSize),
                    ExitStatus::kVerification);
    std::string actual = sha256Digest(bytes);
    if (actual != digest)
        throw Error(what + " " + path + " is damaged or was tampered with: its digest is " + actual,
                    ExitStatus::kVerification);
    return bytes;
}

LayoutImage readImage(const std::string& layoutDir, const std::string& reference) {
    LayoutImage image;
    uint64_t size = 0;
    const uint64_t* expected = nullptr;
    if (reference.rfind("sha256:", 0) == 0) {
        if (!isSha256Digest(reference))
            throw Error("\"" + reference + "\" is not \"sha256:\" and 64 lower-case hex digits",
                        ExitStatus::kUsage);
        image.digest = reference;
    } else {
        checkRefName(reference);
        Descriptor d = resolveTag(layoutDir, reference);
        if (d.mediaType != kMediaTypeImageManifest)
            throw Error("tag " + reference + " in " + layoutDir + " names a " + d.mediaType +
                            ", not an image manifest",
                        ExitStatus::kVerification);
        image.digest = d.digest;
        size = d.size;
        expected = &size;
    }
    std::string what = "image manifest (" + describeReference(reference) + ")";
    image.manifestBytes = readBlob(layoutDir, image.digest, kMaxManifestBytes, what, expected);
    image.manifest = parseImageManifest(image.manifestBytes, what + " in " + layoutDir);
    image.manifestJson =
        readBlob(layoutDir, image.manifest.config.digest, kMaxConfigBytes,
                 "config blob (manifest.json) of " + image.digest, &image.manifest.config.size);
    return image;
}

std::string readSignature(const std::string& layoutDir, const std::string& manifestDigest) {
    std::string tag = signatureTag(manifestDigest);
    Descriptor d = resolveTag(layoutDir, tag);
    std::string what = "signature manifest (tag " + tag + ")";
    std::string text = readBlob(layoutDir, d.digest, kMaxManifestBytes, what, &d.size);
    SignatureManifest signature = parseSignatureManifest(text, what);
    if (signature.subject.digest != manifestDigest)
        throw Error(what + " signs " + signature.subject.digest + ", not " + manifestDigest,
                    ExitStatus::kVerification);
    return readBlob(layoutDir, signature.signature.digest, kMaxSignatureBytes,
                    "signature blob of " + manifestDigest, &signature.signature.size);
}

LayoutImage reassembleDisk(const std::string& layoutDir, const std::string& reference,
                           const std::string& outputPath, unsigned mode) {
    LayoutImage image = readImage(layoutDir, reference);
    TempFile file(outputPath);
    // Extending the empty file leaves every hole unallocated: a sparse disk, read as zeros.
    if (::ftruncate(file.fd(), static_cast<off_t>(image.manifest.diskSize)) < 0)
        throwSystemError("cannot size " + outputPath, errno);

    std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> context(ZSTD_createDCtx(), ZSTD_freeDCtx);
    if (!context) throw Error("cannot allocate a zstd decompression context");
    std::vector<uint8_t> buffer;
    for (size_t i = 0; i < image.manifest.chunks.size(); ++i) {
        const ImageChunk& chunk = image.manifest.chunks[i];
        std::string what = "chunk " + std::to_string(i) + " (offset " +
                           std::to_string(chunk.offset) + ") of " + image.digest;
        std::string blob =
            readBlob(layoutDir, chunk.blob.digest, chunk.blob.size, what, &chunk.blob.size);
        // The output buffer is exactly the declared length, so no frame can expand past it: a
        // zstd bomb fails with "destination buffer too small" after writing at most `length`.
        buffer.resize(static_cast<size_t>(chunk.length));
        size_t n = ZSTD_decompressDCtx(context.get(), buffer.data(), buffer.size(), blob.data(),
                                       blob.size());
        if (ZSTD_isError(n))
            throw Error(what + ": blob " + chunk.blob.digest + " does not decompress to " +
                            std::to_string(chunk.length) + " bytes: " + ZSTD_getErrorName(n),
                        ExitStatus::kVerification);
        if (n != chunk.length)
            throw Error(what + ": blob " + chunk.blob.digest + " decompresses to " +
                            std::to_string(n) + " bytes, not " + std::to_string(chunk.length),
                        ExitStatus::kVerification);
        std::string actual =
            toHex(sha256(std::string_view(reinterpret_cast<const char*>(buffer.data()), n)));
        if (actual != chunk.sha256)
            throw Error(
                what + ": content has digest sha256:" + actual + ", not sha256:" + chunk.sha256,
                ExitStatus::kVerification);
        size_t done = 0;
        while (done < n) {
            ssize_t w = ::pwrite(file.fd(), buffer.data() + done, n - done,
                                 static_cast<off_t>(chunk.offset + done));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) throwSystemError("cannot write " + outputPath, errno);
            done += static_cast<size_t>(w);
        }
    }
    file.commit(mode);
    return image;
}

void initLayout(const std::string& layoutDir) {
    makeDirectory(layoutDir);
    makeDirectory(layoutDir + "/blobs");
    makeDirectory(blobsDir(layoutDir));
    checkLayoutFile(layoutDir, true);
}

std::string blobFilePath(const std::string& layoutDir, const std::string& digest) {
    return blobPath(layoutDir, digest, "blob");
}

bool hasBlob(const std::string& layoutDir, const std::string& digest, uint64_t size) {
    struct stat st {};
    return ::lstat(blobFilePath(layoutDir, digest).c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           static_cast<uint64_t>(st.st_size) == size;
}

std::string partialBlobPath(const std::string& layoutDir, const std::string& digest) {
    return blobsDir(layoutDir) + "/.partial-" + digestHex(digest, "blob");
}

void commitPartialBlob(const std::string& layoutDir, const Descriptor& blob) {
    const std::string partial = partialBlobPath(layoutDir, blob.digest);
    const FileDigest actual = sha256File(partial, "downloaded blob");
    if (actual.size < blob.size)
        throw Error("downloaded blob " + blob.digest + " has " + std::to_string(actual.size) +
                        " of its " + std::to_string(blob.size) + " bytes",
                    ExitStatus::kVerification);
    const std::string digest = "sha256:" + toHex(actual.sha256);
    if (actual.size != blob.size || digest != blob.digest) {
        ::unlink(partial.c_str());
        throw Error("downloaded blob " + blob.digest + " is not what its descriptor names: " +
                        std::to_string(actual.size) + " bytes with digest " + digest +
                        " (deleted; the registry served wrong content)",
                    ExitStatus::kVerification);
    }
    int fd = ::open(partial.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) throwSystemError("cannot open " + partial, errno);
    const int synced = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (synced < 0) throwSystemError("cannot sync " + partial, err);
    if (::chmod(partial.c_str(), 0444) < 0) throwSystemError("cannot chmod " + partial, errno);
    if (::rename(partial.c_str(), blobFilePath(layoutDir, blob.digest).c_str()) < 0)
        throwSystemError("cannot move " + partial + " into place", errno);
}

Descriptor addBlob(const std::string& layoutDir, std::string_view bytes,
                   const std::string& mediaType) {
    return writeBlob(layoutDir, bytes, mediaType.c_str()).descriptor;
}

void setTags(const std::string& layoutDir, const std::vector<Tag>& tags) {
    for (const Tag& tag : tags) checkRefName(tag.name);
    LayoutLock lock(layoutDir);
    Index index = readIndex(layoutDir, true);
    std::erase_if(index.manifests, [&](const Descriptor& d) {
        auto name = d.annotations.find(kAnnotationRefName);
        return name != d.annotations.end() &&
               std::any_of(tags.begin(), tags.end(),
                           [&](const Tag& t) { return t.name == name->second; });
    });
    for (const Tag& tag : tags) index.manifests.push_back(tagged(tag.manifest, tag.manifest.artifactType, tag.name));
    TempFile file(layoutDir + "/index.json");
    std::string text = serializeIndex(index);
    file.write(text.data(), text.size());
    file.commit(0644);
}

void removeTags(const std::string& layoutDir, const std::vector<std::string>& names) {
    LayoutLock lock(layoutDir);
    Index index = readIndex(layoutDir, true);
    std::erase_if(index.manifests, [&](const Descriptor& d) {
        auto name = d.annotations.find(kAnnotationRefName);
        return name != d.annotations.end() &&
               std::find(names.begin(), names.end(), name->second) != names.end();
    });
    TempFile file(layoutDir + "/index.json");
    std::string text = serializeIndex(index);
    file.write(text.data(), text.size());
    file.commit(0644);
}

}  // namespace ingot::oci
