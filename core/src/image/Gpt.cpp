#include "ingot/image/Gpt.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "ReadAt.h"
#include "WriteAt.h"
#include "ingot/core/Error.h"
#include "ingot/core/Sha256.h"

namespace ingot::image {
namespace {

void storeLe16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v);
    p[1] = static_cast<uint8_t>(v >> 8);
}
void storeLe32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void storeLe64(uint8_t* p, uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint16_t loadLe16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] | p[1] << 8);
}
uint32_t loadLe32(const uint8_t* p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = v << 8 | p[i];
    return v;
}
uint64_t loadLe64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
    return v;
}

uint32_t crc32Of(const uint8_t* data, size_t size) {
    return static_cast<uint32_t>(::crc32(::crc32(0, nullptr, 0), data, static_cast<uInt>(size)));
}

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The disk stores the first three GUID fields (4, 2 and 2 bytes) little-endian.
constexpr int kDiskOrder[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};

std::string partitionLabel(const GptDisk& disk, size_t index) {
    return "GPT partition " + std::to_string(index + 1) + " ('" + disk.partitions[index].name +
           "')";
}

void checkDisk(const GptDisk& disk) {
    constexpr uint64_t kMinimumSectors = kGptFirstUsableLba + 1 + kGptEntrySectors + 1;
    if (disk.sectorCount < kMinimumSectors)
        throw Error("GPT disk of " + std::to_string(disk.sectorCount) +
                    " sectors is too small: a GPT needs at least " +
                    std::to_string(kMinimumSectors));
    if (disk.partitions.size() > kGptEntryCount)
        throw Error("GPT disk has " + std::to_string(disk.partitions.size()) +
                    " partitions; the table holds " + std::to_string(kGptEntryCount));
    uint64_t lastUsable = gptLastUsableLba(disk.sectorCount);
    for (size_t i = 0; i < disk.partitions.size(); ++i) {
        const GptPartition& p = disk.partitions[i];
        std::string label = partitionLabel(disk, i);
        if (p.type.isZero()) throw Error(label + " has the zero type GUID, which marks unused");
        if (p.firstLba < kGptFirstUsableLba || p.lastLba > lastUsable || p.firstLba > p.lastLba)
            throw Error(label + " spans LBA " + std::to_string(p.firstLba) + "-" +
                        std::to_string(p.lastLba) + ", outside the usable area " +
                        std::to_string(kGptFirstUsableLba) + "-" + std::to_string(lastUsable));
        if (p.name.size() > kGptNameUnits)
            throw Error(label + ": name longer than " + std::to_string(kGptNameUnits) +
                        " characters");
        for (char c : p.name) {
            if (c < 0x20 || c > 0x7e) throw Error(label + ": name is not printable ASCII");
        }
        for (size_t j = 0; j < i; ++j) {
            const GptPartition& q = disk.partitions[j];
            if (p.firstLba <= q.lastLba && q.firstLba <= p.lastLba)
                throw Error(label + " overlaps " + partitionLabel(disk, j));
        }
    }
}

std::vector<uint8_t> entryArray(const GptDisk& disk) {
    std::vector<uint8_t> entries(kGptEntryCount * kGptEntrySize, 0);
    for (size_t i = 0; i < disk.partitions.size(); ++i) {
        const GptPartition& p = disk.partitions[i];
        uint8_t* e = entries.data() + i * kGptEntrySize;
        auto type = p.type.toDiskBytes();
        auto unique = p.unique.toDiskBytes();
        std::memcpy(e, type.data(), 16);
        std::memcpy(e + 16, unique.data(), 16);
        storeLe64(e + 32, p.firstLba);
        storeLe64(e + 40, p.lastLba);
        storeLe64(e + 48, p.attributes);
        for (size_t c = 0; c < p.name.size(); ++c)
            storeLe16(e + 56 + 2 * c, static_cast<uint8_t>(p.name[c]));
    }
    return entries;
}

// One 512-byte header sector; `primary` selects the copy (their LBAs are mirrored).
std::vector<uint8_t> headerSector(const GptDisk& disk, bool primary, uint32_t entriesCrc) {
    uint64_t lastLba = disk.sectorCount - 1;
    std::vector<uint8_t> h(kSectorSize, 0);
    std::memcpy(h.data(), "EFI PART", 8);
    storeLe32(h.data() + 8, 0x00010000);  // revision 1.0
    storeLe32(h.data() + 12, 92);         // header size
    storeLe64(h.data() + 24, primary ? 1 : lastLba);
    storeLe64(h.data() + 32, primary ? lastLba : 1);
    storeLe64(h.data() + 40, kGptFirstUsableLba);
    storeLe64(h.data() + 48, gptLastUsableLba(disk.sectorCount));
    auto guid = disk.diskGuid.toDiskBytes();
    std::memcpy(h.data() + 56, guid.data(), 16);
    storeLe64(h.data() + 72, primary ? 2 : lastLba - kGptEntrySectors);
    storeLe32(h.data() + 80, kGptEntryCount);
    storeLe32(h.data() + 84, kGptEntrySize);
    storeLe32(h.data() + 88, entriesCrc);
    storeLe32(h.data() + 16, crc32Of(h.data(), 92));
    return h;
}

std::vector<uint8_t> protectiveMbr(const GptDisk& disk) {
    std::vector<uint8_t> mbr(kSectorSize, 0);
    uint8_t* entry = mbr.data() + 446;
    // CHS fields: start 0/0/2 (LBA 1), end "beyond CHS" as UEFI 5.2.3 prescribes.
    entry[1] = 0x00;
    entry[2] = 0x02;
    entry[3] = 0x00;
    entry[4] = 0xEE;
    entry[5] = entry[6] = entry[7] = 0xFF;
    storeLe32(entry + 8, 1);
    storeLe32(entry + 12,
              static_cast<uint32_t>(std::min<uint64_t>(disk.sectorCount - 1, 0xFFFFFFFF)));
    mbr[510] = 0x55;
    mbr[511] = 0xAA;
    return mbr;
}

}  // namespace

Guid Guid::parse(std::string_view text) {
    auto bad = [&] {
        return Error("invalid GUID '" + std::string(text) +
                         "': expected the form 9cb833bb-c637-4cc9-8edc-f81d674c8551",
                     ExitStatus::kUsage);
    };
    if (text.size() != 36) throw bad();
    Guid guid;
    size_t out = 0;
    for (size_t i = 0; i < text.size();) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-') throw bad();
            ++i;
            continue;
        }
        int hi = hexValue(text[i]), lo = hexValue(text[i + 1]);
        if (hi < 0 || lo < 0) throw bad();
        guid.bytes[out++] = static_cast<uint8_t>(hi << 4 | lo);
        i += 2;
    }
    return guid;
}

Guid Guid::fromDiskBytes(const uint8_t* disk) {
    Guid guid;
    for (int i = 0; i < 16; ++i) guid.bytes[kDiskOrder[i]] = disk[i];
    return guid;
}

std::array<uint8_t, 16> Guid::toDiskBytes() const {
    std::array<uint8_t, 16> disk{};
    for (int i = 0; i < 16; ++i) disk[i] = bytes[kDiskOrder[i]];
    return disk;
}

std::string Guid::toString() const {
    std::string hex = toHex(bytes.data(), bytes.size());
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
           hex.substr(16, 4) + "-" + hex.substr(20);
}

bool Guid::isZero() const {
    return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

Guid deterministicGuid(std::string_view imageName, std::string_view role) {
    std::string input = "ingot-gpt-guid-v1";
    input += '\0';
    input += imageName;
    input += '\0';
    input += role;
    Sha256Digest digest = sha256(input);
    Guid guid;
    std::copy_n(digest.begin(), 16, guid.bytes.begin());
    guid.bytes[6] = static_cast<uint8_t>((guid.bytes[6] & 0x0F) | 0x40);
    guid.bytes[8] = static_cast<uint8_t>((guid.bytes[8] & 0x3F) | 0x80);
    return guid;
}

GptLayout layoutGptPartitions(const std::vector<uint64_t>& partitionBytes) {
    constexpr uint64_t kAlignmentBytes = kPartitionAlignmentSectors * kSectorSize;
    GptLayout layout;
    uint64_t next = kPartitionAlignmentSectors;
    for (uint64_t bytes : partitionBytes) {
        if (bytes == 0) throw Error("GPT layout: a partition of 0 bytes");
        if (bytes > (UINT64_MAX >> 2)) throw Error("GPT layout: partition too large");
        uint64_t sectors =
            (bytes + kAlignmentBytes - 1) / kAlignmentBytes * kPartitionAlignmentSectors;
        layout.extents.push_back({next, next + sectors - 1});
        next += sectors;
    }
    layout.sectorCount = next + kPartitionAlignmentSectors;
    return layout;
}

std::vector<uint8_t> gptPrimaryRegion(const GptDisk& disk) {
    checkDisk(disk);
    std::vector<uint8_t> entries = entryArray(disk);
    uint32_t entriesCrc = crc32Of(entries.data(), entries.size());
    std::vector<uint8_t> region = protectiveMbr(disk);
    std::vector<uint8_t> header = headerSector(disk, true, entriesCrc);
    region.insert(region.end(), header.begin(), header.end());
    region.insert(region.end(), entries.begin(), entries.end());
    return region;
}

std::vector<uint8_t> gptBackupRegion(const GptDisk& disk) {
    checkDisk(disk);
    std::vector<uint8_t> region = entryArray(disk);
    uint32_t entriesCrc = crc32Of(region.data(), region.size());
    std::vector<uint8_t> header = headerSector(disk, false, entriesCrc);
    region.insert(region.end(), header.begin(), header.end());
    return region;
}

void writeGpt(int fd, const GptDisk& disk, std::string_view where) {
    std::vector<uint8_t> primary = gptPrimaryRegion(disk);
    std::vector<uint8_t> backup = gptBackupRegion(disk);
    detail::writeAllAt(fd, primary.data(), primary.size(), 0, where);
    detail::writeAllAt(fd, backup.data(), backup.size(),
                       (disk.sectorCount - 1 - kGptEntrySectors) * kSectorSize, where);
}

namespace {

std::string hex32(uint32_t v) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text = "0x";
    for (int shift = 28; shift >= 0; shift -= 4) text += kDigits[(v >> shift) & 0xF];
    return text;
}

struct GptHeader {
    uint64_t myLba, alternateLba, firstUsable, lastUsable, entriesLba;
    uint32_t entryCount, entrySize, entriesCrc;
    Guid diskGuid;
};

Error gptError(std::string_view where, const std::string& what) {
    return Error(std::string(where) + ": " + what, ExitStatus::kVerification);
}

GptHeader parseHeader(const uint8_t* h, uint64_t lba, const char* which, std::string_view where) {
    std::string label = std::string(which) + " GPT header (LBA " + std::to_string(lba) + ", byte " +
                        std::to_string(lba * kSectorSize) + ")";
    auto fail = [&](const std::string& why) { return gptError(where, label + ": " + why); };
    if (std::memcmp(h, "EFI PART", 8) != 0) throw fail("no \"EFI PART\" signature");
    if (loadLe32(h + 8) != 0x00010000)
        throw fail("revision " + hex32(loadLe32(h + 8)) + ", expected 0x00010000");
    uint32_t headerSize = loadLe32(h + 12);
    if (headerSize < 92 || headerSize > kSectorSize)
        throw fail("header size " + std::to_string(headerSize) + " is outside 92-512");
    std::vector<uint8_t> copy(h, h + headerSize);
    storeLe32(copy.data() + 16, 0);
    uint32_t stored = loadLe32(h + 16), computed = crc32Of(copy.data(), copy.size());
    if (stored != computed)
        throw fail("header CRC32 is " + hex32(stored) + " but the header's bytes give " +
                   hex32(computed) + " (the header was modified or is corrupt)");
    GptHeader header;
    header.myLba = loadLe64(h + 24);
    header.alternateLba = loadLe64(h + 32);
    header.firstUsable = loadLe64(h + 40);
    header.lastUsable = loadLe64(h + 48);
    header.diskGuid = Guid::fromDiskBytes(h + 56);
    header.entriesLba = loadLe64(h + 72);
    header.entryCount = loadLe32(h + 80);
    header.entrySize = loadLe32(h + 84);
    header.entriesCrc = loadLe32(h + 88);
    if (header.myLba != lba) throw fail("claims to be at LBA " + std::to_string(header.myLba));
    if (header.entryCount != kGptEntryCount || header.entrySize != kGptEntrySize)
        throw fail("has " + std::to_string(header.entryCount) + " entries of " +
                   std::to_string(header.entrySize) + " bytes; ingot images use " +
                   std::to_string(kGptEntryCount) + " of " + std::to_string(kGptEntrySize));
    return header;
}

void checkEntriesCrc(const GptHeader& header, const uint8_t* entries, const char* which,
                     std::string_view where) {
    uint32_t computed = crc32Of(entries, kGptEntryCount * kGptEntrySize);
    if (computed != header.entriesCrc)
        throw gptError(where, std::string(which) + " GPT entry array (LBA " +
                                  std::to_string(header.entriesLba) + ", byte " +
                                  std::to_string(header.entriesLba * kSectorSize) + "): CRC32 is " +
                                  hex32(computed) + " but the header records " +
                                  hex32(header.entriesCrc) +
                                  " (a partition entry was modified or is corrupt)");
}

GptPartition parseEntry(const uint8_t* e, size_t index, uint64_t entryOffset,
                        std::string_view where) {
    GptPartition p;
    p.type = Guid::fromDiskBytes(e);
    p.unique = Guid::fromDiskBytes(e + 16);
    p.firstLba = loadLe64(e + 32);
    p.lastLba = loadLe64(e + 40);
    p.attributes = loadLe64(e + 48);
    for (size_t c = 0; c < kGptNameUnits; ++c) {
        uint16_t unit = loadLe16(e + 56 + 2 * c);
        if (unit == 0) break;
        if (unit < 0x20 || unit > 0x7e)
            throw gptError(where, "GPT entry " + std::to_string(index + 1) + " (byte " +
                                      std::to_string(entryOffset) +
                                      "): name is not printable ASCII");
        p.name += static_cast<char>(unit);
    }
    return p;
}

// The first byte where `actual` differs from `expected`, or npos.
size_t firstDifference(const uint8_t* actual, const std::vector<uint8_t>& expected) {
    for (size_t i = 0; i < expected.size(); ++i)
        if (actual[i] != expected[i]) return i;
    return std::string::npos;
}

}  // namespace

GptDisk readGpt(int fd, uint64_t fileSize, std::string_view where) {
    constexpr uint64_t kMinimumSectors = kGptFirstUsableLba + 1 + kGptEntrySectors + 1;
    if (fileSize % kSectorSize != 0)
        throw gptError(where, "size " + std::to_string(fileSize) +
                                  " bytes is not a whole number of 512-byte sectors "
                                  "(truncated?)");
    if (fileSize / kSectorSize < kMinimumSectors)
        throw gptError(where, "only " + std::to_string(fileSize) +
                                  " bytes, too small to hold a GPT disk (truncated?)");
    uint64_t lastLba = fileSize / kSectorSize - 1;

    std::vector<uint8_t> primary(kGptFirstUsableLba * kSectorSize);
    detail::readAllAt(fd, primary.data(), primary.size(), 0, where);
    if (primary[510] != 0x55 || primary[511] != 0xAA || primary[446 + 4] != 0xEE)
        throw gptError(where,
                       "LBA 0 is not a protective MBR (no 0x55AA signature and type-0xEE entry); "
                       "not a GPT disk");
    GptHeader head = parseHeader(primary.data() + kSectorSize, 1, "primary", where);
    if (head.alternateLba != lastLba)
        throw gptError(where, "the primary GPT header puts the backup header at LBA " +
                                  std::to_string(head.alternateLba) +
                                  ", but the file's last sector is LBA " + std::to_string(lastLba) +
                                  (head.alternateLba > lastLba ? " (file truncated?)" : ""));
    if (head.entriesLba != 2)
        throw gptError(where, "the primary GPT header puts its entries at LBA " +
                                  std::to_string(head.entriesLba) + ", not 2");
    if (head.firstUsable != kGptFirstUsableLba || head.lastUsable != gptLastUsableLba(lastLba + 1))
        throw gptError(where, "the primary GPT header's usable area " +
                                  std::to_string(head.firstUsable) + "-" +
                                  std::to_string(head.lastUsable) + " is not " +
                                  std::to_string(kGptFirstUsableLba) + "-" +
                                  std::to_string(gptLastUsableLba(lastLba + 1)));
    const uint8_t* entries = primary.data() + 2 * kSectorSize;
    checkEntriesCrc(head, entries, "primary", where);

    uint64_t backupOffset = (lastLba - kGptEntrySectors) * kSectorSize;
    std::vector<uint8_t> backup((kGptEntrySectors + 1) * kSectorSize);
    detail::readAllAt(fd, backup.data(), backup.size(), backupOffset, where);
    GptHeader tail =
        parseHeader(backup.data() + kGptEntrySectors * kSectorSize, lastLba, "backup", where);
    if (tail.alternateLba != 1 || tail.entriesLba != lastLba - kGptEntrySectors)
        throw gptError(where, "the backup GPT header (LBA " + std::to_string(lastLba) +
                                  ") does not point back at LBA 1 and its entries at LBA " +
                                  std::to_string(lastLba - kGptEntrySectors));
    checkEntriesCrc(tail, backup.data(), "backup", where);
    if (tail.diskGuid != head.diskGuid || tail.firstUsable != head.firstUsable ||
        tail.lastUsable != head.lastUsable)
        throw gptError(where, "the primary and backup GPT headers describe different disks");
    if (std::memcmp(entries, backup.data(), kGptEntryCount * kGptEntrySize) != 0)
        throw gptError(where, "the primary and backup GPT entry arrays differ");

    GptDisk disk;
    disk.sectorCount = lastLba + 1;
    disk.diskGuid = head.diskGuid;
    std::optional<size_t> firstUnused;
    for (size_t i = 0; i < kGptEntryCount; ++i) {
        const uint8_t* e = entries + i * kGptEntrySize;
        uint64_t entryOffset = 2 * kSectorSize + i * kGptEntrySize;
        if (Guid::fromDiskBytes(e).isZero()) {
            if (!firstUnused) firstUnused = i;
            continue;
        }
        if (firstUnused)
            throw gptError(where, "GPT entry " + std::to_string(i + 1) + " (byte " +
                                      std::to_string(entryOffset) +
                                      ") is used after unused entry " +
                                      std::to_string(*firstUnused + 1) +
                                      "; ingot images list their partitions first");
        disk.partitions.push_back(parseEntry(e, i, entryOffset, where));
    }
    try {
        checkDisk(disk);
    } catch (const Error& e) {
        throw gptError(where, e.what());
    }

    // Everything the checks above accept must also be byte-for-byte what the writer produces
    // for this description (protective MBR included), so no reserved field, boot code or
    // padding can carry unsigned data.
    std::vector<uint8_t> expected = gptPrimaryRegion(disk);
    size_t at = firstDifference(primary.data(), expected);
    if (at != std::string::npos)
        throw gptError(where, std::string(at < kSectorSize ? "protective MBR" : "GPT") + " byte " +
                                  std::to_string(at) +
                                  " differs from the canonical form of this table");
    expected = gptBackupRegion(disk);
    at = firstDifference(backup.data(), expected);
    if (at != std::string::npos)
        throw gptError(where, "backup GPT byte " + std::to_string(backupOffset + at) +
                                  " differs from the canonical form of this table");
    return disk;
}

}  // namespace ingot::image
