#include "ingot/image/Gpt.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

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

}  // namespace ingot::image
