#include "ingot/fw/Gpt.h"

#include "ingot/fw/Crc32.h"

namespace ingot::fw {
namespace {

constexpr uint32_t kGptRevision1 = 0x00010000;
constexpr uint32_t kMinHeaderSize = 92;
constexpr size_t kHeaderCrcOffset = 16;
constexpr uint32_t kMinEntrySize = 128;
constexpr size_t kEntryNameOffset = 56;
constexpr size_t kEntryNameSize = 72;

int hex_value(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Position in the text form of each on-disk byte: the first three fields are stored
// little-endian, so their bytes appear reversed in the text.
constexpr uint8_t kTextByteForDiskByte[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
// Offset in the text of the n-th byte as written ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx").
constexpr uint8_t kTextOffsetOfByte[16] = {0,  2,  4,  6,  9,  11, 14, 16,
                                           19, 21, 24, 26, 28, 30, 32, 34};

bool ranges_overlap(uint64_t first_a, uint64_t last_a, uint64_t first_b, uint64_t last_b) {
    return first_a <= last_b && first_b <= last_a;
}

Guid read_guid(const uint8_t* p) {
    Guid guid;
    copy_bytes(guid.bytes, p, 16);
    return guid;
}

// Reads entry `index`; the caller has checked that it lies within `entries`.
GptEntry read_entry(const GptHeader& header, ByteView entries, uint32_t index) {
    const uint8_t* p = entries.data + static_cast<size_t>(index) * header.entry_size;
    GptEntry entry;
    entry.index = index;
    entry.type = read_guid(p);
    entry.unique = read_guid(p + 16);
    entry.first_lba = load_le64(p + 32);
    entry.last_lba = load_le64(p + 40);
    entry.attributes = load_le64(p + 48);
    size_t name_size = 0;
    while (name_size + 2 <= kEntryNameSize &&
           (p[kEntryNameOffset + name_size] | p[kEntryNameOffset + name_size + 1]) != 0) {
        name_size += 2;
    }
    entry.name_utf16le = ByteView(p + kEntryNameOffset, name_size);
    return entry;
}

// GptHeader is a plain struct a caller could fill in by hand; before indexing an entry array
// with it, make sure its sizes are the ones parse_gpt_header would have produced.
bool entry_geometry_consistent(const GptHeader& header, ByteView entries) {
    return header.entry_size >= kMinEntrySize &&
           static_cast<uint64_t>(header.entry_count) * header.entry_size ==
               header.entries_byte_size &&
           entries.size >= header.entries_byte_size;
}

}  // namespace

bool operator==(const Guid& a, const Guid& b) {
    return bytes_equal(a.bytes, b.bytes, 16);
}

bool is_zero(const Guid& guid) {
    for (uint8_t byte : guid.bytes) {
        if (byte != 0) return false;
    }
    return true;
}

bool parse_guid(ByteView text, Guid* guid) {
    if (text.size != kGuidTextSize) return false;
    if (text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-') return false;
    for (size_t disk_byte = 0; disk_byte < 16; ++disk_byte) {
        size_t offset = kTextOffsetOfByte[kTextByteForDiskByte[disk_byte]];
        int high = hex_value(text[offset]);
        int low = hex_value(text[offset + 1]);
        if (high < 0 || low < 0) return false;
        guid->bytes[disk_byte] = static_cast<uint8_t>(high * 16 + low);
    }
    return true;
}

void format_guid(const Guid& guid, char text[kGuidTextSize]) {
    constexpr char kHexDigits[] = "0123456789abcdef";
    text[8] = text[13] = text[18] = text[23] = '-';
    for (size_t disk_byte = 0; disk_byte < 16; ++disk_byte) {
        size_t offset = kTextOffsetOfByte[kTextByteForDiskByte[disk_byte]];
        text[offset] = kHexDigits[guid.bytes[disk_byte] >> 4];
        text[offset + 1] = kHexDigits[guid.bytes[disk_byte] & 0xF];
    }
}

bool gpt_name_equals(const GptEntry& entry, ByteView ascii) {
    if (entry.name_utf16le.size != ascii.size * 2) return false;
    for (size_t i = 0; i < ascii.size; ++i) {
        if (entry.name_utf16le[2 * i] != ascii[i] || entry.name_utf16le[2 * i + 1] != 0) {
            return false;
        }
    }
    return true;
}

const char* to_string(GptStatus status) {
    switch (status) {
        case GptStatus::kOk:
            return "ok";
        case GptStatus::kBadSectorSize:
            return "GPT: unsupported sector size";
        case GptStatus::kTruncated:
            return "GPT: disk or buffer too short for the partition table";
        case GptStatus::kBadSignature:
            return "GPT: no 'EFI PART' signature at LBA 1";
        case GptStatus::kBadRevision:
            return "GPT: unsupported header revision";
        case GptStatus::kBadHeaderSize:
            return "GPT: invalid header size";
        case GptStatus::kBadHeaderCrc:
            return "GPT: header CRC32 mismatch";
        case GptStatus::kBadHeaderLocation:
            return "GPT: primary header does not point at LBA 1";
        case GptStatus::kBadAlternateLocation:
            return "GPT: backup header location is off the disk (truncated disk?)";
        case GptStatus::kBadUsableRange:
            return "GPT: invalid usable LBA range";
        case GptStatus::kBadEntrySize:
            return "GPT: invalid partition entry size";
        case GptStatus::kBadEntryCount:
            return "GPT: invalid partition entry count";
        case GptStatus::kBadEntryArrayLocation:
            return "GPT: partition entry array overlaps other data or is off the disk";
        case GptStatus::kBadEntriesCrc:
            return "GPT: partition entry array CRC32 mismatch";
        case GptStatus::kBadPartitionRange:
            return "GPT: partition outside the usable LBA range";
        case GptStatus::kOverlappingPartitions:
            return "GPT: partitions overlap";
        case GptStatus::kIndexOutOfRange:
            return "GPT: partition index out of range";
        case GptStatus::kNotFound:
            return "GPT: no partition of the requested type";
        case GptStatus::kDuplicatePartitionType:
            return "GPT: several partitions of the requested type";
        case GptStatus::kNoMbrSignature:
            return "GPT: LBA 0 has no MBR boot signature";
        case GptStatus::kNotProtectiveMbr:
            return "GPT: MBR has no protective (0xEE) partition";
    }
    return "GPT: unknown status";
}

GptStatus parse_gpt_header(ByteView lba1, uint32_t sector_size, uint64_t disk_sector_count,
                           GptHeader* header) {
    if (sector_size < 512 || sector_size > 65536 || (sector_size & (sector_size - 1)) != 0) {
        return GptStatus::kBadSectorSize;
    }
    if (lba1.size < kMinHeaderSize) return GptStatus::kTruncated;
    const uint8_t* p = lba1.data;
    if (!bytes_equal(p, "EFI PART", 8)) return GptStatus::kBadSignature;

    GptHeader h;
    h.sector_size = sector_size;
    h.revision = load_le32(p + 8);
    h.header_size = load_le32(p + 12);
    uint32_t header_crc = load_le32(p + kHeaderCrcOffset);
    h.my_lba = load_le64(p + 24);
    h.alternate_lba = load_le64(p + 32);
    h.first_usable_lba = load_le64(p + 40);
    h.last_usable_lba = load_le64(p + 48);
    h.disk_guid = read_guid(p + 56);
    h.entries_lba = load_le64(p + 72);
    h.entry_count = load_le32(p + 80);
    h.entry_size = load_le32(p + 84);
    h.entries_crc32 = load_le32(p + 88);

    if (h.revision != kGptRevision1) return GptStatus::kBadRevision;
    if (h.header_size < kMinHeaderSize || h.header_size > sector_size) {
        return GptStatus::kBadHeaderSize;
    }
    if (h.header_size > lba1.size) return GptStatus::kTruncated;
    // The CRC covers the header with its own CRC field taken as zero.
    constexpr uint8_t kZeroCrcField[4] = {0, 0, 0, 0};
    uint32_t crc = crc32_update(0, p, kHeaderCrcOffset);
    crc = crc32_update(crc, kZeroCrcField, 4);
    crc = crc32_update(crc, p + kHeaderCrcOffset + 4, h.header_size - kHeaderCrcOffset - 4);
    if (crc != header_crc) return GptStatus::kBadHeaderCrc;

    if (h.my_lba != 1) return GptStatus::kBadHeaderLocation;
    if (h.first_usable_lba < 2 || h.first_usable_lba > h.last_usable_lba ||
        h.last_usable_lba >= disk_sector_count) {
        return GptStatus::kBadUsableRange;
    }
    if (h.alternate_lba <= 1 || h.alternate_lba >= disk_sector_count ||
        (h.alternate_lba >= h.first_usable_lba && h.alternate_lba <= h.last_usable_lba)) {
        return GptStatus::kBadAlternateLocation;
    }
    if (h.entry_size < kMinEntrySize || (h.entry_size & (h.entry_size - 1)) != 0 ||
        h.entry_size > kGptMaxEntryArrayBytes) {
        return GptStatus::kBadEntrySize;
    }
    // Both factors are at most 2^32, so the product fits in 64 bits.
    uint64_t array_bytes = static_cast<uint64_t>(h.entry_count) * h.entry_size;
    if (h.entry_count == 0 || array_bytes > kGptMaxEntryArrayBytes) {
        return GptStatus::kBadEntryCount;
    }
    h.entries_byte_size = static_cast<uint32_t>(array_bytes);
    h.entries_sector_count = static_cast<uint32_t>((array_bytes + sector_size - 1) / sector_size);
    // The array must lie on the disk after the header and outside the usable area; comparing
    // against disk_sector_count first keeps entries_lba + count from overflowing.
    if (h.entries_lba < 2 || h.entries_lba >= disk_sector_count ||
        h.entries_sector_count > disk_sector_count - h.entries_lba) {
        return GptStatus::kBadEntryArrayLocation;
    }
    uint64_t entries_last_lba = h.entries_lba + h.entries_sector_count - 1;
    if (ranges_overlap(h.entries_lba, entries_last_lba, h.first_usable_lba, h.last_usable_lba) ||
        ranges_overlap(h.entries_lba, entries_last_lba, h.alternate_lba, h.alternate_lba)) {
        return GptStatus::kBadEntryArrayLocation;
    }
    *header = h;
    return GptStatus::kOk;
}

GptStatus parse_gpt_table(const GptHeader& header, ByteView entries, GptTable* table) {
    ByteView array;
    if (!entries.slice(0, header.entries_byte_size, &array)) return GptStatus::kTruncated;
    if (!entry_geometry_consistent(header, array)) return GptStatus::kBadEntryCount;
    if (crc32(array.data, array.size) != header.entries_crc32) return GptStatus::kBadEntriesCrc;

    for (uint32_t i = 0; i < header.entry_count; ++i) {
        GptEntry entry = read_entry(header, array, i);
        if (!is_used(entry)) continue;
        if (entry.first_lba > entry.last_lba || entry.first_lba < header.first_usable_lba ||
            entry.last_lba > header.last_usable_lba) {
            return GptStatus::kBadPartitionRange;
        }
    }
    // Quadratic, but bounded: at most 8192 entries, and real tables have a handful in use.
    for (uint32_t i = 0; i < header.entry_count; ++i) {
        GptEntry a = read_entry(header, array, i);
        if (!is_used(a)) continue;
        for (uint32_t j = i + 1; j < header.entry_count; ++j) {
            const uint8_t* b = array.data + static_cast<size_t>(j) * header.entry_size;
            if (is_zero(read_guid(b))) continue;
            if (ranges_overlap(a.first_lba, a.last_lba, load_le64(b + 32), load_le64(b + 40))) {
                return GptStatus::kOverlappingPartitions;
            }
        }
    }
    table->header = header;
    table->entries = array;
    return GptStatus::kOk;
}

GptStatus parse_gpt_disk(ByteView disk, uint32_t sector_size, GptTable* table) {
    if (sector_size < 512 || sector_size > 65536 || (sector_size & (sector_size - 1)) != 0) {
        return GptStatus::kBadSectorSize;
    }
    uint64_t disk_sector_count = disk.size / sector_size;
    ByteView lba1;
    if (!disk.slice(sector_size, sector_size, &lba1)) return GptStatus::kTruncated;
    GptHeader header;
    GptStatus status = parse_gpt_header(lba1, sector_size, disk_sector_count, &header);
    if (status != GptStatus::kOk) return status;
    // parse_gpt_header checked that the array lies within disk_sector_count sectors.
    ByteView entries;
    if (!disk.slice(static_cast<size_t>(header.entries_lba * sector_size), header.entries_byte_size,
                    &entries)) {
        return GptStatus::kTruncated;
    }
    return parse_gpt_table(header, entries, table);
}

GptStatus gpt_entry(const GptTable& table, uint32_t index, GptEntry* entry) {
    if (index >= table.header.entry_count) return GptStatus::kIndexOutOfRange;
    if (!entry_geometry_consistent(table.header, table.entries)) return GptStatus::kTruncated;
    *entry = read_entry(table.header, table.entries, index);
    return GptStatus::kOk;
}

GptStatus gpt_find_partition(const GptTable& table, const Guid& type, GptEntry* entry) {
    if (!entry_geometry_consistent(table.header, table.entries)) return GptStatus::kTruncated;
    bool found = false;
    for (uint32_t i = 0; i < table.header.entry_count; ++i) {
        GptEntry candidate = read_entry(table.header, table.entries, i);
        if (!is_used(candidate) || !(candidate.type == type)) continue;
        if (found) return GptStatus::kDuplicatePartitionType;
        *entry = candidate;
        found = true;
    }
    return found ? GptStatus::kOk : GptStatus::kNotFound;
}

GptStatus check_protective_mbr(ByteView lba0) {
    constexpr size_t kPartitionRecords = 446;
    constexpr size_t kBootSignature = 510;
    if (lba0.size < 512) return GptStatus::kTruncated;
    if (lba0[kBootSignature] != 0x55 || lba0[kBootSignature + 1] != 0xAA) {
        return GptStatus::kNoMbrSignature;
    }
    for (size_t record = 0; record < 4; ++record) {
        constexpr size_t kOsTypeOffset = 4;
        if (lba0[kPartitionRecords + 16 * record + kOsTypeOffset] == 0xEE) return GptStatus::kOk;
    }
    return GptStatus::kNotProtectiveMbr;
}

}  // namespace ingot::fw
