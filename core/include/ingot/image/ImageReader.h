// Reads an ingot image file back (docs/image-format.md) and verifies it the way the firmware
// does before it boots one: GPT, canonical boot pack, signature by a trusted key, manifest, and
// every partition, kernel and initrd byte the manifest covers. For `ingot verify`,
// `ingot inspect` and anything else that must decide whether to trust a disk file.
//
// The image is hostile input: all reads are bounded (manifest and signature sizes are capped
// before they are read; kernel and initrd are streamed into their digests), and every failure is
// an ingot::Error that names the part of the image and its byte offset in the file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ingot/core/Sha256.h"
#include "ingot/image/Gpt.h"
#include "ingot/image/Manifest.h"
#include "ingot/sign/Minisign.h"

namespace ingot::image {

inline constexpr uint64_t kMaxManifestBytes = 64 * 1024;
inline constexpr uint64_t kMaxSignatureBytes = 4 * 1024;

// One boot pack member as found on disk; offsets are bytes from the start of the image file.
struct ImageMember {
    std::string name;
    uint64_t headerOffset = 0;
    uint64_t dataOffset = 0;
    uint64_t size = 0;
    Sha256Digest sha256{};
};

// An image whose form has been checked (GPT, canonical boot pack) but whose content is not yet
// trusted: nothing here has been compared with a signature.
struct ImageContents {
    std::string path;
    uint64_t fileSize = 0;
    GptDisk gpt;
    uint64_t bootPackBytes = 0;        // the archive, trailer included
    std::vector<ImageMember> members;  // pack order: manifest, signature, kernel, [initrd]
    std::string manifestText;          // exact bytes, at most kMaxManifestBytes
    std::string signatureText;         // exact bytes, at most kMaxSignatureBytes

    // The member called `name`, or null.
    const ImageMember* member(std::string_view name) const;
};

// Reads and checks the form of the image at `path`. Throws ingot::Error: status kUsage when the
// file cannot be opened or is not a regular file, kVerification for anything wrong inside it.
ImageContents readImage(const std::string& path);

// The manifest parsed (not verified); errors have status kVerification and name the member.
Manifest parseImageManifest(const ImageContents& contents);

struct VerifiedImage {
    Manifest manifest;
    sign::MinisignPublicKey key;  // the trusted key that signed the manifest
    std::string trustedComment;
    Sha256Digest manifestSha256{};
};

// Checks that `contents` is signed by one of `trustedKeys` (prehashed Ed25519 only) and that the
// GPT, kernel and initrd are exactly what the signed manifest says. With a verity tree, also
// that its parameters fit the root and root-verity partitions and that the root-verity bytes
// outside the tree (superblock, padding, tail) are exactly what the writer puts there. Does not
// read the root partition's contents: that is verifyRootVerity's job. Throws ingot::Error with
// status kVerification naming the first thing that failed.
VerifiedImage verifyImage(const ImageContents& contents,
                          const std::vector<sign::MinisignPublicKey>& trustedKeys);

struct RootVerityCheck {
    uint64_t dataBlocks = 0;  // root partition blocks checked
    uint64_t rootOffset = 0;  // file bytes
    uint64_t hashOffset = 0;
    uint64_t treeBytes = 0;
};

// Checks every block of the root partition, through the dm-verity tree in root-verity, against
// the root hash of `manifest` (which the caller has verified with verifyImage). Reads the whole
// root partition. Throws ingot::Error (status kVerification) naming the first root block that
// does not match and its byte offset in the file, or the first bad hash block; it is a
// VerityError, whose block() and offset() say the same in numbers.
RootVerityCheck verifyRootVerity(const ImageContents& contents, const Manifest& manifest);

}  // namespace ingot::image
