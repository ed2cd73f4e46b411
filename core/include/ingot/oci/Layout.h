// An OCI image layout on disk (image-spec layout.md; docs/oci.md): `oci-layout`, `index.json`
// and content-addressed `blobs/sha256/<hex>`. It is the local store's format and what skopeo
// reads as `oci:DIR:TAG`. Writers never rewrite a blob that exists and replace index.json
// atomically, under a lock, so readers and concurrent writers see a consistent layout. Readers
// treat everything in the directory as hostile: every blob is checked against its digest and
// every size against a limit before it is trusted.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ingot/oci/Chunker.h"
#include "ingot/oci/Manifests.h"

namespace ingot::oci {

// zstd level of chunk blobs. Fixed, with every other compression parameter, so the same disk
// always gives the same blobs (with the same libzstd release; see docs/oci.md).
inline constexpr int kChunkCompressionLevel = 9;

struct PackedImage {
    Descriptor manifest;   // of the image manifest, as index.json lists it (with its tag)
    std::string digest;    // manifest.digest
    Descriptor signature;  // of the signature referrer manifest
    uint64_t diskSize = 0;
    uint64_t chunks = 0;       // data chunks (layers)
    uint64_t holes = 0;        // zero ranges, not stored
    uint64_t storedBytes = 0;  // compressed bytes of all layers
    uint64_t newBlobs = 0;     // blobs this call wrote; the rest were in the layout already
    uint64_t newBlobBytes = 0;
};

// Packs the disk at `diskPath` into the layout at `layoutDir` (created if needed) as an ingot
// image: config = `manifestJson` exactly (it must parse as an ingot manifest), layers = the
// disk's chunks, plus a signature referrer holding `minisig`. Tags the image `tag` and the
// referrer signatureTag(digest), replacing earlier entries of those tags.
PackedImage writeImageToLayout(const std::string& layoutDir, const std::string& diskPath,
                               const std::string& manifestJson, const std::string& minisig,
                               const std::string& tag, const ChunkerParams& params = {});

struct Tag {
    std::string name;
    Descriptor manifest;
};
// The tagged entries of index.json, in its order.
std::vector<Tag> listTags(const std::string& layoutDir);
// The descriptor tagged `tag`; throws ingot::Error (kUsage) when there is none.
Descriptor resolveTag(const std::string& layoutDir, const std::string& tag);

// A blob's bytes after checking its size (against `maxSize` and, when given, `expectedSize`) and
// its digest. `what` names it in errors.
std::string readBlob(const std::string& layoutDir, const std::string& digest, uint64_t maxSize,
                     const std::string& what, const uint64_t* expectedSize = nullptr);

struct LayoutImage {
    std::string digest;         // of the image manifest
    std::string manifestBytes;  // the image manifest as stored
    ImageManifest manifest;
    std::string manifestJson;  // the config blob: the signed ingot manifest.json
};
// Reads and checks the image manifest named by `reference` ("sha256:<hex>" or a tag) and its
// config blob. Chunk blobs are checked by reassembleDisk.
LayoutImage readImage(const std::string& layoutDir, const std::string& reference);

// The .minisig of the image manifest `manifestDigest`, found through its signatureTag.
std::string readSignature(const std::string& layoutDir, const std::string& manifestDigest);

// Writes the disk of image `reference` to `outputPath` (atomically, as a sparse file: holes are
// not written), checking every chunk's compressed and uncompressed digest and the total size.
LayoutImage reassembleDisk(const std::string& layoutDir, const std::string& reference,
                           const std::string& outputPath, unsigned mode = 0644);

// --- Primitives for copying images between a layout and a registry (registry/client) ---

// Creates the layout directory, blobs/sha256 and the oci-layout marker when missing, and checks
// the marker of an existing layout.
void initLayout(const std::string& layoutDir);
// The file of blob `digest` (a sha256 digest; anything else throws kVerification).
std::string blobFilePath(const std::string& layoutDir, const std::string& digest);
// Whether the layout has a regular file of `size` bytes for `digest`. Not re-hashed: readers
// check digests when they read.
bool hasBlob(const std::string& layoutDir, const std::string& digest, uint64_t size);
// Where a download of `digest` collects its bytes until they are checked: one name per digest
// (in blobs/sha256, beginning with '.', which no digest does), so an interrupted download
// resumes from the bytes already there.
std::string partialBlobPath(const std::string& layoutDir, const std::string& digest);
// Checks the partial file of `blob` against its size and digest and renames it into place
// (mode 0444). A partial file that is longer or hashes differently is deleted and reported
// (kVerification); a shorter one is kept for a resumed download and reported likewise.
void commitPartialBlob(const std::string& layoutDir, const Descriptor& blob);
// Stores `bytes` as a blob (a manifest fetched by a client) and returns its descriptor.
Descriptor addBlob(const std::string& layoutDir, std::string_view bytes,
                   const std::string& mediaType);
// Points each tag at its manifest in index.json, replacing the tags' earlier entries, in one
// atomic update under the layout's lock. The descriptors' blobs must already be in the layout.
void setTags(const std::string& layoutDir, const std::vector<Tag>& tags);
// Removes the entries of these tags from index.json, in one atomic update under the lock.
void removeTags(const std::string& layoutDir, const std::vector<std::string>& names);

}  // namespace ingot::oci
