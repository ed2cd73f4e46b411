// Assembles an ingot image: manifest, signature, boot pack and GPT disk in one file
// (docs/image-format.md). The disk appears under its final name only when complete.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "ingot/image/Gpt.h"
#include "ingot/image/Manifest.h"
#include "ingot/image/Verity.h"
#include "ingot/sign/Minisign.h"

namespace ingot::image {

struct DiskImageInput {
    std::string name;      // "gold/debian"; also seeds the partition GUIDs
    std::string version;   // "2026.11.24"
    uint64_t created = 0;  // SOURCE_DATE_EPOCH
    std::string cmdline;
    ManifestDefaults defaults;
    std::string kernelPath;
    std::optional<std::string> initrdPath;
    // Raw filesystem bytes for the root partition. With a root, the image also gets a
    // root-verity partition holding the dm-verity tree over the whole root partition (the
    // file's bytes and the zeros up to the partition's end), salted with veritySalt(name), and
    // the manifest's "verity" describes it.
    std::optional<std::string> rootPath;
    nlohmann::json provenance = nlohmann::json::object();
};

struct DiskImage {
    Manifest manifest;
    std::string manifestText;  // the signed bytes, as stored in the boot pack
    std::string signature;     // the .minisig text
    GptDisk gpt;
    uint64_t bootPackBytes = 0;
    std::optional<VerityTree> verity;  // with a root partition
};

// Trusted comment of an image signature: "ingot image <name> <version>".
std::string imageTrustedComment(const std::string& name, const std::string& version);

// Writes the image to `outputPath` (replacing any file there) and returns what it wrote. The
// boot partition is the pack's size rounded up to 1 MiB; the root partition, when given, the
// file's size rounded up likewise, and the root-verity partition the hash area's size (superblock
// block and tree) rounded up likewise. On any error the file at `outputPath` stays as it was and no
// temporary file remains.
DiskImage writeDiskImage(const DiskImageInput& input, const sign::MinisignSecretKey& key,
                         const std::string& outputPath);

}  // namespace ingot::image
