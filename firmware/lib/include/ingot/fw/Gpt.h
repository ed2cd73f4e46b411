// GUID partition table (UEFI 2.10 section 5.3), read-only and fully bounds-checked. The primary
// header and entry array are parsed and checked; the backup copy is only located (its LBA must
// lie on the disk, which catches truncated images).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ingot/fw/Bytes.h"

namespace ingot::fw {

// A GUID in its on-disk byte order: the first three fields little-endian, the rest as written.
struct Guid {
    uint8_t bytes[16];
};

bool operator==(const Guid& a, const Guid& b);
bool is_zero(const Guid& guid);

// Parses the canonical text form "9cb833bb-c637-4cc9-8edc-f81d674c8551" (either case).
[[nodiscard]] bool parse_guid(ByteView text, Guid* guid);
inline constexpr size_t kGuidTextSize = 36;
// Writes the lower-case text form; no NUL terminator.
void format_guid(const Guid& guid, char text[kGuidTextSize]);

enum class GptStatus : uint8_t {
    kOk,
    kBadSectorSize,  // sector size not a power of two in 512..65536
    kTruncated,      // the caller's buffer is shorter than the structure in it
    kBadSignature,   // no "EFI PART" at LBA 1
    kBadRevision,    // not revision 1.0
    kBadHeaderSize,  // header size outside 92..sector size
    kBadHeaderCrc,
    kBadHeaderLocation,      // header does not say it is at LBA 1
    kBadAlternateLocation,   // backup header beyond the end of the disk or inside the usable area
    kBadUsableRange,         // first/last usable LBA inverted or beyond the disk
    kBadEntrySize,           // entry size not 128 * 2^n, or too large
    kBadEntryCount,          // zero entries, or an entry array larger than kGptMaxEntryArrayBytes
    kBadEntryArrayLocation,  // entry array overlaps the headers or the usable area, or is off disk
    kBadEntriesCrc,
    kBadPartitionRange,  // a used entry with first > last or outside the usable area
    kOverlappingPartitions,
    kIndexOutOfRange,
    kNotFound,
    kDuplicatePartitionType,  // more than one used entry has the type looked for
    kNoMbrSignature,          // LBA 0 does not end in 55 AA
    kNotProtectiveMbr,        // LBA 0 has no partition of type 0xEE
};

const char* to_string(GptStatus status);

// Entry arrays beyond 1 MiB (8192 standard entries) are refused: real tables use 16 KiB, and the
// bound keeps the overlap check and the firmware's buffer small.
inline constexpr uint32_t kGptMaxEntryArrayBytes = 1024 * 1024;

struct GptHeader {
    uint32_t sector_size;
    uint32_t revision;
    uint32_t header_size;
    uint64_t my_lba;
    uint64_t alternate_lba;
    uint64_t first_usable_lba;
    uint64_t last_usable_lba;
    Guid disk_guid;
    uint64_t entries_lba;
    uint32_t entry_count;
    uint32_t entry_size;
    uint32_t entries_crc32;
    uint32_t entries_byte_size;     // entry_count * entry_size
    uint32_t entries_sector_count;  // sectors the entry array occupies from entries_lba on
};

struct GptEntry {
    uint32_t index;
    Guid type;
    Guid unique;
    uint64_t first_lba;
    uint64_t last_lba;  // inclusive
    uint64_t attributes;
    ByteView name_utf16le;  // up to the first NUL code unit; points into the entry array
};

inline bool is_used(const GptEntry& entry) {
    return !is_zero(entry.type);
}
// Compares the UTF-16LE partition name with an ASCII string.
bool gpt_name_equals(const GptEntry& entry, ByteView ascii);

// Parses and checks the primary header, given the sector at LBA 1 (at least 92 bytes, and at
// least header_size) and the disk size in sectors.
GptStatus parse_gpt_header(ByteView lba1, uint32_t sector_size, uint64_t disk_sector_count,
                           GptHeader* header);

// A header with its entry array, both checked: CRC, every used entry inside the usable area, no
// two used entries overlapping. Only parse_gpt_table and parse_gpt_disk make one.
struct GptTable {
    GptHeader header;
    ByteView entries;  // exactly header.entries_byte_size bytes
};

// Checks the entry array read from header.entries_lba (at least entries_byte_size bytes).
GptStatus parse_gpt_table(const GptHeader& header, ByteView entries, GptTable* table);

// Both steps over a whole disk image in memory.
GptStatus parse_gpt_disk(ByteView disk, uint32_t sector_size, GptTable* table);

GptStatus gpt_entry(const GptTable& table, uint32_t index, GptEntry* entry);

// The single used entry with the given type; kDuplicatePartitionType if there are several.
GptStatus gpt_find_partition(const GptTable& table, const Guid& type, GptEntry* entry);

// Checks that LBA 0 holds a protective MBR (boot signature and a partition of type 0xEE).
// Optional: parse_gpt_* do not require one.
GptStatus check_protective_mbr(ByteView lba0);

}  // namespace ingot::fw
