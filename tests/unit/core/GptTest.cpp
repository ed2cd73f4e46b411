// The GPT writer, read back by the firmware's independent parser (ingot::fw), plus a hand check
// of the backup copy, which that parser only locates.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <zlib.h>

#include <fcntl.h>
#include <unistd.h>

#include "CoreTestSupport.h"
#include "ingot/fw/Gpt.h"
#include "ingot/image/Gpt.h"

namespace ingot::image {
namespace {

using test::Bytes;

constexpr const char kBootType[] = "9cb833bb-c637-4cc9-8edc-f81d674c8551";
constexpr const char kRootType[] = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709";

uint64_t le64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
    return v;
}
uint32_t le32(const uint8_t* p) {
    return static_cast<uint32_t>(le64(p) & 0xFFFFFFFF);
}
uint32_t zlibCrc(const uint8_t* p, size_t n) {
    return static_cast<uint32_t>(crc32(0, p, static_cast<uInt>(n)));
}

GptDisk sampleDisk() {
    GptLayout layout = layoutGptPartitions({300 * 1024, 3 * 1024 * 1024 + 1});
    GptDisk disk;
    disk.sectorCount = layout.sectorCount;
    disk.diskGuid = deterministicGuid("test/disk", "disk");
    disk.partitions = {
        {Guid::parse(kBootType), deterministicGuid("test/disk", "boot"), layout.extents[0].firstLba,
         layout.extents[0].lastLba, "ingot-boot", 0},
        {Guid::parse(kRootType), deterministicGuid("test/disk", "root"), layout.extents[1].firstLba,
         layout.extents[1].lastLba, "ingot-root", 0},
    };
    return disk;
}

Bytes wholeDisk(const GptDisk& disk) {
    Bytes bytes(disk.sectorCount * kSectorSize, 0);
    Bytes primary = gptPrimaryRegion(disk);
    Bytes backup = gptBackupRegion(disk);
    std::copy(primary.begin(), primary.end(), bytes.begin());
    std::copy(backup.begin(), backup.end(), bytes.end() - static_cast<ptrdiff_t>(backup.size()));
    return bytes;
}

TEST(Guid, TextAndDiskOrder) {
    Guid guid = Guid::parse("9CB833BB-C637-4cc9-8edc-f81d674c8551");
    EXPECT_EQ(guid.toString(), kBootType);
    auto disk = guid.toDiskBytes();
    const uint8_t expected[16] = {0xbb, 0x33, 0xb8, 0x9c, 0x37, 0xc6, 0xc9, 0x4c,
                                  0x8e, 0xdc, 0xf8, 0x1d, 0x67, 0x4c, 0x85, 0x51};
    EXPECT_TRUE(std::equal(disk.begin(), disk.end(), expected));
    EXPECT_EQ(Guid::fromDiskBytes(disk.data()), guid);
    for (const char* bad :
         {"", "9cb833bb-c637-4cc9-8edc-f81d674c855", "9cb833bbxc637-4cc9-8edc-f81d674c8551",
          "9cb833bb-c637-4cc9-8edc-f81d674c855g"}) {
        test::expectError([&] { Guid::parse(bad); }, {"invalid GUID"});
    }
}

TEST(Guid, DeterministicFromNameAndRole) {
    Guid boot = deterministicGuid("gold/debian", "boot");
    EXPECT_EQ(boot, deterministicGuid("gold/debian", "boot"));
    EXPECT_NE(boot, deterministicGuid("gold/debian", "root"));
    EXPECT_NE(boot, deterministicGuid("gold/debian2", "boot"));
    // NUL separators: ("ab", "c") and ("a", "bc") must not collide.
    EXPECT_NE(deterministicGuid("ab", "c"), deterministicGuid("a", "bc"));
    EXPECT_EQ(boot.bytes[6] >> 4, 4) << "RFC 4122 version 4";
    EXPECT_EQ(boot.bytes[8] & 0xC0, 0x80) << "RFC 4122 variant";

    // The documented derivation, recomputed here.
    std::string input = std::string("ingot-gpt-guid-v1") + '\0' + "gold/debian" + '\0' + "boot";
    uint8_t digest[32];
    unsigned int size = 0;
    ASSERT_EQ(EVP_Digest(input.data(), input.size(), digest, &size, EVP_sha256(), nullptr), 1);
    digest[6] = static_cast<uint8_t>((digest[6] & 0x0F) | 0x40);
    digest[8] = static_cast<uint8_t>((digest[8] & 0x3F) | 0x80);
    EXPECT_TRUE(std::equal(boot.bytes.begin(), boot.bytes.end(), digest));
}

TEST(GptLayout, AlignsToMiBAndReservesTheBackup) {
    GptLayout layout = layoutGptPartitions({1, 1024 * 1024, 1024 * 1024 + 1});
    ASSERT_EQ(layout.extents.size(), 3u);
    EXPECT_EQ(layout.extents[0].firstLba, 2048u);
    EXPECT_EQ(layout.extents[0].lastLba, 4095u);
    EXPECT_EQ(layout.extents[1].firstLba, 4096u);
    EXPECT_EQ(layout.extents[1].lastLba, 6143u);
    EXPECT_EQ(layout.extents[2].firstLba, 6144u);
    EXPECT_EQ(layout.extents[2].lastLba, 10239u);
    EXPECT_EQ(layout.sectorCount, 12288u);
    EXPECT_LE(layout.extents[2].lastLba, gptLastUsableLba(layout.sectorCount));
    test::expectError([] { layoutGptPartitions({0}); }, {"0 bytes"});
}

TEST(GptWriter, FirmwareParserReadsWhatWeWrite) {
    GptDisk disk = sampleDisk();
    Bytes bytes = wholeDisk(disk);

    EXPECT_EQ(fw::check_protective_mbr(test::view(bytes)), fw::GptStatus::kOk);
    fw::GptTable table;
    ASSERT_EQ(fw::parse_gpt_disk(test::view(bytes), 512, &table), fw::GptStatus::kOk);
    EXPECT_EQ(table.header.first_usable_lba, 34u);
    EXPECT_EQ(table.header.last_usable_lba, disk.sectorCount - 34);
    EXPECT_EQ(table.header.alternate_lba, disk.sectorCount - 1);
    EXPECT_EQ(table.header.entries_lba, 2u);
    EXPECT_EQ(table.header.entry_count, 128u);
    EXPECT_EQ(table.header.entry_size, 128u);
    auto diskGuid = disk.diskGuid.toDiskBytes();
    EXPECT_TRUE(std::equal(diskGuid.begin(), diskGuid.end(), table.header.disk_guid.bytes));

    uint32_t used = 0;
    for (uint32_t i = 0; i < 128; ++i) {
        fw::GptEntry entry;
        ASSERT_EQ(fw::gpt_entry(table, i, &entry), fw::GptStatus::kOk);
        if (!fw::is_used(entry)) continue;
        ASSERT_LT(i, disk.partitions.size()) << "entries in table order, nothing after them";
        const GptPartition& p = disk.partitions[i];
        ++used;
        char type[fw::kGuidTextSize], unique[fw::kGuidTextSize];
        fw::format_guid(entry.type, type);
        fw::format_guid(entry.unique, unique);
        EXPECT_EQ(std::string(type, sizeof type), p.type.toString());
        EXPECT_EQ(std::string(unique, sizeof unique), p.unique.toString());
        EXPECT_EQ(entry.first_lba, p.firstLba);
        EXPECT_EQ(entry.last_lba, p.lastLba);
        EXPECT_EQ(entry.first_lba % 2048, 0u);
        EXPECT_TRUE(fw::gpt_name_equals(entry, test::view(p.name)));
        EXPECT_EQ(entry.name_utf16le.size, 2 * p.name.size());
    }
    EXPECT_EQ(used, disk.partitions.size());

    fw::Guid bootType;
    ASSERT_TRUE(fw::parse_guid(test::view(std::string_view(kBootType)), &bootType));
    fw::GptEntry boot;
    ASSERT_EQ(fw::gpt_find_partition(table, bootType, &boot), fw::GptStatus::kOk);
    EXPECT_EQ(boot.index, 0u);
}

TEST(GptWriter, BackupHeaderMirrorsThePrimary) {
    GptDisk disk = sampleDisk();
    Bytes bytes = wholeDisk(disk);
    const uint8_t* primary = bytes.data() + 512;
    const uint8_t* backup = bytes.data() + (disk.sectorCount - 1) * 512;
    ASSERT_EQ(std::string(reinterpret_cast<const char*>(backup), 8), "EFI PART");
    uint32_t headerSize = le32(backup + 12);
    ASSERT_EQ(headerSize, 92u);
    Bytes header(backup, backup + headerSize);
    std::fill_n(header.begin() + 16, 4, 0);
    EXPECT_EQ(zlibCrc(header.data(), header.size()), le32(backup + 16));

    EXPECT_EQ(le64(backup + 24), disk.sectorCount - 1) << "MyLBA";
    EXPECT_EQ(le64(backup + 32), 1u) << "AlternateLBA";
    EXPECT_EQ(le64(backup + 72), disk.sectorCount - 33) << "PartitionEntryLBA";
    // Everything but the CRC and the three location fields equals the primary.
    const std::pair<size_t, size_t> sameFields[] = {{0, 8},  {8, 4},   {12, 4}, {20, 4}, {40, 8},
                                                    {48, 8}, {56, 16}, {80, 4}, {84, 4}, {88, 4}};
    for (auto [offset, width] : sameFields) {
        EXPECT_TRUE(std::equal(backup + offset, backup + offset + width, primary + offset))
            << "header field at byte " << offset;
    }
    const uint8_t* backupEntries = bytes.data() + (disk.sectorCount - 33) * 512;
    EXPECT_TRUE(std::equal(backupEntries, backupEntries + 128 * 128, bytes.data() + 1024));
    EXPECT_EQ(zlibCrc(backupEntries, 128 * 128), le32(backup + 88));
    EXPECT_TRUE(std::all_of(backup + 92, backup + 512, [](uint8_t b) { return b == 0; }));

    // Protective MBR: one 0xEE partition from LBA 1 over the rest of the disk.
    EXPECT_EQ(bytes[446 + 4], 0xEE);
    EXPECT_EQ(le32(bytes.data() + 446 + 8), 1u);
    EXPECT_EQ(le32(bytes.data() + 446 + 12), disk.sectorCount - 1);
    EXPECT_TRUE(
        std::all_of(bytes.begin() + 462, bytes.begin() + 510, [](uint8_t b) { return b == 0; }));
}

TEST(GptWriter, WritesASparseFile) {
    test::TempDir dir;
    GptDisk disk = sampleDisk();
    std::string path = dir.file("disk.img");
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(disk.sectorCount * 512)), 0);
    writeGpt(fd, disk, path);
    ::close(fd);
    Bytes bytes = test::readFile(path);
    EXPECT_EQ(bytes, wholeDisk(disk));
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, disk.sectorCount * 512 / 2)
        << "the space between the tables stays a hole";
}

TEST(GptWriter, RefusesInconsistentTables) {
    auto refuse = [](auto change, std::string_view expected) {
        GptDisk disk = sampleDisk();
        change(disk);
        test::expectError([&] { gptPrimaryRegion(disk); }, {expected});
    };
    refuse([](GptDisk& d) { d.partitions[1].firstLba = d.partitions[0].lastLba; }, "overlaps");
    refuse([](GptDisk& d) { d.partitions[1].lastLba = d.sectorCount - 33; }, "outside the usable");
    refuse([](GptDisk& d) { d.partitions[0].firstLba = 33; }, "outside the usable");
    refuse([](GptDisk& d) { d.partitions[0].lastLba = d.partitions[0].firstLba - 1; },
           "outside the usable");
    refuse([](GptDisk& d) { d.partitions[0].name = std::string(37, 'x'); }, "longer than 36");
    refuse([](GptDisk& d) { d.partitions[0].name = "b\xc3\xb6ot"; }, "printable ASCII");
    refuse([](GptDisk& d) { d.partitions[0].type = Guid{}; }, "zero type GUID");
    refuse([](GptDisk& d) { d.sectorCount = 60; }, "too small");
    refuse([](GptDisk& d) { d.partitions.resize(129, d.partitions[0]); }, "129 partitions");
}

}  // namespace
}  // namespace ingot::image
