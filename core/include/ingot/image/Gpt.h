// GUID partition table writer (UEFI 2.10 section 5.3) for 512-byte sectors: protective MBR at
// LBA 0, primary header at LBA 1, 128 entries of 128 bytes at LBA 2-33, the backup entries and
// header in the last 33 sectors. docs/image-format.md, "Disk", is the contract.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ingot::image {

inline constexpr uint32_t kSectorSize = 512;
inline constexpr uint64_t kPartitionAlignmentSectors = 2048;  // 1 MiB
inline constexpr uint32_t kGptEntryCount = 128;
inline constexpr uint32_t kGptEntrySize = 128;
inline constexpr uint64_t kGptEntrySectors = kGptEntryCount * kGptEntrySize / kSectorSize;  // 32
inline constexpr uint64_t kGptFirstUsableLba = 2 + kGptEntrySectors;                        // 34
inline constexpr size_t kGptNameUnits = 36;  // UTF-16 code units in an entry's name

// A GUID in the byte order of its text form (RFC 4122). On disk, GPT stores the first three
// fields little-endian; toDiskBytes/fromDiskBytes convert.
struct Guid {
    std::array<uint8_t, 16> bytes{};

    // Canonical text "9cb833bb-c637-4cc9-8edc-f81d674c8551", either case; throws ingot::Error.
    static Guid parse(std::string_view text);
    static Guid fromDiskBytes(const uint8_t* disk);
    std::string toString() const;  // lower case
    std::array<uint8_t, 16> toDiskBytes() const;
    bool isZero() const;
    bool operator==(const Guid&) const = default;
};

// The GUID for `role` ("disk", "boot", "root", ...) of the image called `imageName`: the first 16
// bytes of SHA-256("ingot-gpt-guid-v1" NUL imageName NUL role), with the RFC 4122 version-4 and
// variant bits set. The same inputs always give the same disk, which keeps builds reproducible.
Guid deterministicGuid(std::string_view imageName, std::string_view role);

struct GptPartition {
    Guid type;
    Guid unique;
    uint64_t firstLba = 0;
    uint64_t lastLba = 0;  // inclusive
    std::string name;      // printable ASCII, at most 36 characters; stored as UTF-16LE
    uint64_t attributes = 0;
};

struct GptDisk {
    uint64_t sectorCount = 0;
    Guid diskGuid;
    std::vector<GptPartition> partitions;  // table order; entries after these stay unused
};

inline uint64_t gptLastUsableLba(uint64_t sectorCount) {
    return sectorCount - 1 - kGptEntrySectors - 1;
}

// Where partitions of the given byte sizes go: one after another from LBA 2048, each starting on
// a 1 MiB boundary and rounded up to whole MiB, with one more MiB at the end that holds the
// backup table (so the disk size is a whole number of MiB too).
struct GptExtent {
    uint64_t firstLba;
    uint64_t lastLba;
};
struct GptLayout {
    std::vector<GptExtent> extents;
    uint64_t sectorCount;
};
GptLayout layoutGptPartitions(const std::vector<uint64_t>& partitionBytes);

// LBA 0 to 33: protective MBR, primary header, entry array. Throws ingot::Error when the disk
// description is inconsistent (partition outside the usable area, overlaps, bad name, ...).
std::vector<uint8_t> gptPrimaryRegion(const GptDisk& disk);
// The last 33 sectors: backup entry array, then the backup header in the disk's last sector.
std::vector<uint8_t> gptBackupRegion(const GptDisk& disk);

// Writes both regions into `fd`, which the caller has already sized to disk.sectorCount sectors
// (ftruncate, so everything else stays a hole). `where` names the file in errors.
void writeGpt(int fd, const GptDisk& disk, std::string_view where);

// Reads the GPT of the disk in `fd` (`fileSize` bytes; `where` names it in errors) and checks
// it: protective MBR, both headers and their CRCs, both entry arrays and their CRCs, the two
// copies agreeing, the disk size the headers claim matching the file, used entries first and
// within the usable area, names printable ASCII, and every byte of both regions (the protective
// MBR included) exactly as gptPrimaryRegion/gptBackupRegion lay them out. Reads only the two
// table regions, whatever the file's size. Throws ingot::Error with status kVerification naming the
// sector or entry.
GptDisk readGpt(int fd, uint64_t fileSize, std::string_view where);

}  // namespace ingot::image
