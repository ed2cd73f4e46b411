// The signed image manifest (docs/image-format.md, "manifest.json"). Serialisation is
// deterministic: nlohmann-json's dump() of the document, keys sorted, no whitespace, so the
// same image always signs the same bytes.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ingot::image {

inline constexpr uint64_t kManifestFormat = 1;
inline constexpr const char* kBootProtocolLinuxX86_64 = "linux-x86_64";

// The partitions an image may have, in the order the GPT lists them (docs/image-format.md,
// "Disk"). Only `boot` is required.
struct PartitionRole {
    const char* role;
    const char* type;  // GPT type GUID
    const char* name;  // GPT partition name
};
inline constexpr PartitionRole kPartitionRoles[] = {
    {"boot", "9cb833bb-c637-4cc9-8edc-f81d674c8551", "ingot-boot"},
    {"root", "4f68bce3-e8cd-4db1-96e7-fbcaf984b709", "ingot-root"},
    {"root-verity", "2c7357ed-ebd2-46d9-aec1-23d437ec2bf5", "ingot-root-verity"},
};
// The entry for `role`; throws ingot::Error for an unknown one.
const PartitionRole& partitionRole(std::string_view role);

struct ManifestFile {
    std::string sha256;  // 64 lower-case hex digits
    uint64_t size = 0;
    bool operator==(const ManifestFile&) const = default;
};

struct ManifestPartition {
    uint64_t firstLba = 0;
    uint64_t lastLba = 0;  // inclusive
    std::string name;      // GPT partition name
    std::string role;      // "boot", "root", "root-verity"
    std::string type;      // type GUID, lower-case text
    std::string uuid;      // unique partition GUID, lower-case text
    bool operator==(const ManifestPartition&) const = default;
};

// The dm-verity tree in the root-verity partition (docs/image-format.md, "verity"); Verity.h
// builds and checks it.
struct ManifestVerity {
    std::string algorithm = "sha256";
    uint64_t dataBlockSize = 4096;
    uint64_t dataBlocks = 0;  // the whole root partition
    uint64_t hashBlockSize = 4096;
    std::string rootHash;  // lower-case hex
    std::string salt;      // lower-case hex, at most 256 bytes
    uint64_t format = 1;
    // Bytes from the root-verity partition's start to the tree: the superblock's block.
    uint64_t hashOffset = 4096;
    std::string uuid;  // the superblock's UUID, lower-case GUID text
    bool operator==(const ManifestVerity&) const = default;
};

struct ManifestDefaults {
    uint64_t cpus = 1;
    uint64_t memoryMiB = 512;
    bool operator==(const ManifestDefaults&) const = default;
};

struct Manifest {
    uint64_t format = kManifestFormat;
    std::string name;      // e.g. "gold/debian"; no whitespace or control characters
    std::string version;   // e.g. "2026.11.24"; same rule
    uint64_t created = 0;  // SOURCE_DATE_EPOCH
    std::string cmdline;
    std::string protocol = kBootProtocolLinuxX86_64;
    ManifestDefaults defaults;
    ManifestFile kernel;
    std::optional<ManifestFile> initrd;
    std::vector<ManifestPartition> partitions;  // GPT table order
    nlohmann::json provenance = nlohmann::json::object();
    std::optional<ManifestVerity> verity;
    bool operator==(const Manifest&) const = default;
};

// Checks the model (the same rules parseManifest applies) and returns the canonical bytes.
// Throws ingot::Error naming the offending field.
std::string serializeManifest(const Manifest& manifest);

// Parses and validates manifest bytes. Unknown keys are accepted and ignored (later format
// revisions add keys), so re-serialising a parsed manifest drops them: only sign manifests built
// from a model. `where` names the source in errors ("manifest.json in disk.img").
Manifest parseManifest(std::string_view text, std::string_view where = "manifest");

}  // namespace ingot::image
