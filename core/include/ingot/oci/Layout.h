// An OCI image layout on disk (image-spec layout.md; docs/oci.md): `oci-layout`, `index.json`
// and content-addressed `blobs/sha256/<hex>`. It is the local store's format and what skopeo
// reads as `oci:DIR:TAG`. Writers never rewrite a blob that exists and replace index.json
// atomically, under a lock, so readers and concurrent writers see a consistent layout. Readers
// treat everything in the directory as hostile: every blob is checked against its digest and
// every size against a limit before it is trusted.
#pragma once

#include <cstdint>
#include <string>
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

}  // namespace ingot::oci
