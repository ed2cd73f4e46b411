// The OCI documents ingot writes and reads (docs/oci.md): descriptors, the image layout's
// index.json, the image manifest of an ingot image and its signature referrer. Parsing is pure
// (bytes in, validated model out) so it can be fuzzed, and treats every input as hostile: each
// error is an ingot::Error (kVerification) naming the document and the field.
// Serialisation is deterministic: nlohmann-json's dump(), keys sorted, no whitespace.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ingot::oci {

inline constexpr const char* kMediaTypeImageManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kMediaTypeImageIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kMediaTypeEmpty = "application/vnd.oci.empty.v1+json";
inline constexpr const char* kArtifactTypeImage = "application/vnd.ingot.image.v1";
inline constexpr const char* kMediaTypeIngotManifest = "application/vnd.ingot.manifest.v1+json";
inline constexpr const char* kMediaTypeChunk = "application/vnd.ingot.disk.chunk.v1+zstd";
inline constexpr const char* kArtifactTypeSignature = "application/vnd.ingot.signature.v1";
inline constexpr const char* kMediaTypeMinisign = "application/vnd.ingot.signature.v1+minisign";

inline constexpr const char* kAnnotationRefName = "org.opencontainers.image.ref.name";
inline constexpr const char* kAnnotationChunkOffset = "org.ingot.chunk.offset";
inline constexpr const char* kAnnotationChunkLength = "org.ingot.chunk.length";
inline constexpr const char* kAnnotationChunkDigest = "org.ingot.chunk.digest";
inline constexpr const char* kAnnotationDiskSize = "org.ingot.disk.size";

// The OCI "empty" blob `{}`, the config of artifacts that have none (image-spec 1.1).
inline constexpr std::string_view kEmptyBlob = "{}";

// Limits a reader enforces before trusting a size it was given. Registries (the distribution
// reference implementation among them) refuse manifests over 4 MiB, so the writer does too.
inline constexpr uint64_t kMaxManifestBytes = 4ull << 20;
inline constexpr uint64_t kMaxIndexBytes = 16ull << 20;
inline constexpr uint64_t kMaxConfigBytes = 1ull << 20;
inline constexpr uint64_t kMaxSignatureBytes = 64ull << 10;
// A chunk's uncompressed length: the chunker makes at most 1 MiB; readers accept more so the
// sizes can grow without breaking old clients, but not so much that one chunk strains memory.
inline constexpr uint64_t kMaxChunkLength = 16ull << 20;
inline constexpr uint64_t kMaxDiskSize = 1ull << 40;

struct Descriptor {
    std::string mediaType;
    std::string digest;  // "sha256:" and 64 lower-case hex digits
    uint64_t size = 0;
    std::string artifactType;  // empty: absent
    std::map<std::string, std::string> annotations;
    bool operator==(const Descriptor&) const = default;
};

// "sha256:<hex>" of `bytes`.
std::string sha256Digest(std::string_view bytes);
// Whether `digest` is "sha256:" followed by exactly 64 lower-case hex digits: the only form whose
// hex part may become a file name under blobs/sha256/.
bool isSha256Digest(std::string_view digest);
// The 64 hex digits of a digest isSha256Digest accepts; throws ingot::Error (kVerification,
// naming `where`) for any other text.
std::string digestHex(std::string_view digest, std::string_view where);

// Tags follow the distribution spec's rule, [A-Za-z0-9_][A-Za-z0-9._-]{0,127}, so every tag in a
// layout can also be pushed. Throws ingot::Error (kUsage) naming the tag.
void checkTag(std::string_view tag);
// A layout's tag (index.json's org.opencontainers.image.ref.name) follows the image-spec's ref
// grammar, which also admits whole references such as "127.0.0.1:5000/gold/debian:12": the local
// store tags images by where they came from. Components of [A-Za-z0-9] joined by one of -._:@+
// (or "--") and '/', at most 255 bytes. Throws ingot::Error (kUsage) naming the name.
void checkRefName(std::string_view name);
// "sha256-<hex>.sig": the tag a signature referrer also gets, for registries and tools without
// the referrers API.
std::string signatureTag(std::string_view manifestDigest);

// index.json of an image layout.
struct Index {
    std::vector<Descriptor> manifests;
    bool operator==(const Index&) const = default;
};
Index parseIndex(std::string_view text, std::string_view where = "index.json");
std::string serializeIndex(const Index& index);

struct ImageChunk {
    uint64_t offset = 0;
    uint64_t length = 0;  // uncompressed
    std::string sha256;   // of the uncompressed bytes: 64 lower-case hex digits
    Descriptor blob;      // the zstd-compressed layer
    bool operator==(const ImageChunk&) const = default;
};

// The image manifest of an ingot image. Chunks are in ascending offset order, do not overlap and
// lie inside the disk; the gaps between them are holes (zeros).
struct ImageManifest {
    Descriptor config;  // the signed manifest.json
    std::vector<ImageChunk> chunks;
    uint64_t diskSize = 0;
    bool operator==(const ImageManifest&) const = default;
};
ImageManifest parseImageManifest(std::string_view text, std::string_view where = "image manifest");
// Throws ingot::Error (kUsage) for a model the parser would refuse.
std::string serializeImageManifest(const ImageManifest& manifest);

// The referrer that carries an image's .minisig.
struct SignatureManifest {
    Descriptor subject;    // the image manifest
    Descriptor signature;  // the .minisig blob
    bool operator==(const SignatureManifest&) const = default;
};
SignatureManifest parseSignatureManifest(std::string_view text,
                                         std::string_view where = "signature manifest");
std::string serializeSignatureManifest(const SignatureManifest& manifest);

}  // namespace ingot::oci
