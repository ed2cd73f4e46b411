// GPT parsing: tables written by sfdisk and by a small writer in this file (independent of the
// library: its own CRC and GUID code), then every header and entry check tripped on purpose.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "TestSupport.h"
#include "ingot/fw/Gpt.h"

namespace ingot::fw {
namespace {

using test::Bytes;

// The partition types of an ingot image (DESIGN.md, "Image format v1").
constexpr const char kBootPackType[] = "9cb833bb-c637-4cc9-8edc-f81d674c8551";
constexpr const char kRootType[] = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709";
constexpr const char kRootVerityType[] = "2c7357ed-ebd2-46d9-aec1-23d437ec2bf5";

uint32_t bitwise_crc32(const uint8_t* data, size_t size) {
    uint32_t crc = 0xFFFFFFFF;
    for (size_t i = 0; i < size; ++i) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320 & (0u - (crc & 1)));
    }
    return ~crc;
}

Bytes guid_bytes(const std::string& text) {
    std::string hex;
    for (char c : text) {
        if (c != '-') hex.push_back(c);
    }
    Bytes b = test::from_hex(hex);
    std::swap(b[0], b[3]);
    std::swap(b[1], b[2]);
    std::swap(b[4], b[5]);
    std::swap(b[6], b[7]);
    return b;
}

void put32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void put64(uint8_t* p, uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint64_t get64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

struct TestPartition {
    std::string type;
    std::string uuid;
    std::string name;
    uint64_t first_lba;
    uint64_t last_lba;
};

struct TestDisk {
    uint32_t sector_size = 512;
    uint64_t sector_count = 4096;
    uint32_t entry_count = 128;
    uint32_t entry_size = 128;
    std::vector<TestPartition> partitions;
};

TestDisk ingot_like_disk() {
    TestDisk disk;
    disk.partitions = {
        {kBootPackType, "11111111-2222-3333-4444-555555555555", "boot", 2048, 2559},
        {kRootType, "66666666-7777-8888-9999-aaaaaaaaaaaa", "root", 2560, 3583},
        {kRootVerityType, "bbbbbbbb-cccc-dddd-eeee-ffffffffffff", "root-verity", 3584, 4000},
    };
    return disk;
}

class GptImage {
public:
    explicit GptImage(const TestDisk& spec) : spec_(spec) {
        size_t sector = spec.sector_size;
        bytes_.assign(spec.sector_count * sector, 0);
        // Protective MBR: one partition of type 0xEE covering the disk.
        bytes_[446 + 4] = 0xEE;
        put32(&bytes_[446 + 8], 1);
        put32(&bytes_[446 + 12], 0xFFFFFFFF);
        bytes_[510] = 0x55;
        bytes_[511] = 0xAA;

        uint8_t* entries = &bytes_[2 * sector];
        for (size_t i = 0; i < spec.partitions.size(); ++i) {
            const TestPartition& partition = spec.partitions[i];
            uint8_t* entry = entries + i * spec.entry_size;
            Bytes type = guid_bytes(partition.type), uuid = guid_bytes(partition.uuid);
            std::copy(type.begin(), type.end(), entry);
            std::copy(uuid.begin(), uuid.end(), entry + 16);
            put64(entry + 32, partition.first_lba);
            put64(entry + 40, partition.last_lba);
            for (size_t c = 0; c < partition.name.size(); ++c)
                entry[56 + 2 * c] = partition.name[c];
        }
        uint8_t* header = header_bytes();
        std::copy_n("EFI PART", 8, header);
        put32(header + 8, 0x00010000);
        put32(header + 12, 92);
        put64(header + 24, 1);
        put64(header + 32, spec.sector_count - 1);
        uint64_t entry_sectors =
            (uint64_t{spec.entry_count} * spec.entry_size + sector - 1) / sector;
        put64(header + 40, 2 + entry_sectors);
        put64(header + 48, spec.sector_count - 2 - entry_sectors);
        Bytes disk_guid = guid_bytes("01234567-89ab-cdef-0123-456789abcdef");
        std::copy(disk_guid.begin(), disk_guid.end(), header + 56);
        put64(header + 72, 2);
        put32(header + 80, spec.entry_count);
        put32(header + 84, spec.entry_size);
        fix_crcs();
    }

    uint8_t* header_bytes() { return &bytes_[spec_.sector_size]; }
    uint8_t* entry_bytes(size_t index) {
        return &bytes_[2 * spec_.sector_size + index * spec_.entry_size];
    }

    // Recomputes both CRCs, so that a test's change reaches the check it is aimed at.
    void fix_crcs() {
        uint8_t* header = header_bytes();
        uint32_t count =
            header[80] | header[81] << 8 | header[82] << 16 | uint32_t{header[83]} << 24;
        uint32_t size =
            header[84] | header[85] << 8 | header[86] << 16 | uint32_t{header[87]} << 24;
        uint64_t entries_lba = get64(header + 72);
        uint64_t array_bytes = uint64_t{count} * size;
        if (entries_lba < spec_.sector_count &&
            entries_lba * spec_.sector_size + array_bytes <= bytes_.size()) {
            put32(header + 88,
                  bitwise_crc32(&bytes_[entries_lba * spec_.sector_size], array_bytes));
        }
        uint32_t header_size = header[12] | header[13] << 8;
        if (header_size > spec_.sector_size) header_size = spec_.sector_size;
        put32(header + 16, 0);
        put32(header + 16, bitwise_crc32(header, header_size));
    }

    GptStatus parse(GptTable* table) const {
        return parse_gpt_disk(test::view(bytes_), spec_.sector_size, table);
    }
    GptStatus parse() const {
        GptTable table;
        return parse(&table);
    }

    Bytes& bytes() { return bytes_; }

private:
    TestDisk spec_;
    Bytes bytes_;
};

Guid guid(const char* text) {
    Guid g;
    EXPECT_TRUE(parse_guid(ByteView(text, 36), &g)) << text;
    return g;
}

std::string guid_text(const Guid& g) {
    char text[kGuidTextSize];
    format_guid(g, text);
    return std::string(text, sizeof text);
}

void expect_ingot_partitions(const GptTable& table, const TestDisk& disk) {
    for (size_t i = 0; i < disk.partitions.size(); ++i) {
        const TestPartition& expected = disk.partitions[i];
        GptEntry entry;
        ASSERT_EQ(gpt_find_partition(table, guid(expected.type.c_str()), &entry), GptStatus::kOk);
        EXPECT_EQ(entry.index, i);
        EXPECT_EQ(guid_text(entry.type), expected.type);
        EXPECT_EQ(guid_text(entry.unique), expected.uuid);
        EXPECT_EQ(entry.first_lba, expected.first_lba);
        EXPECT_EQ(entry.last_lba, expected.last_lba);
        EXPECT_TRUE(gpt_name_equals(entry, test::view(expected.name))) << expected.name;
    }
}

TEST(GptTest, GuidTextRoundTrip) {
    Guid g = guid(kBootPackType);
    EXPECT_EQ(test::to_hex(g.bytes, 16), "bb33b89c37c6c94c8edcf81d674c8551");
    EXPECT_EQ(guid_text(g), kBootPackType);
    Guid upper;
    EXPECT_TRUE(parse_guid(test::view("9CB833BB-C637-4CC9-8EDC-F81D674C8551"), &upper));
    EXPECT_TRUE(upper == g);
    EXPECT_FALSE(parse_guid(test::view("9cb833bb-c637-4cc9-8edc-f81d674c855"), &upper));
    EXPECT_FALSE(parse_guid(test::view("9cb833bbxc637-4cc9-8edc-f81d674c8551"), &upper));
    EXPECT_FALSE(parse_guid(test::view("9cb833bb-c637-4cc9-8edc-f81d674c855g"), &upper));
}

TEST(GptTest, ParsesWrittenTable) {
    TestDisk disk = ingot_like_disk();
    GptImage image(disk);
    GptTable table;
    ASSERT_EQ(image.parse(&table), GptStatus::kOk);
    EXPECT_EQ(table.header.entry_count, 128u);
    EXPECT_EQ(table.header.first_usable_lba, 34u);
    EXPECT_EQ(table.header.alternate_lba, 4095u);
    EXPECT_EQ(guid_text(table.header.disk_guid), "01234567-89ab-cdef-0123-456789abcdef");
    expect_ingot_partitions(table, disk);

    size_t used = 0;
    for (uint32_t i = 0; i < table.header.entry_count; ++i) {
        GptEntry entry;
        ASSERT_EQ(gpt_entry(table, i, &entry), GptStatus::kOk);
        used += is_used(entry);
    }
    EXPECT_EQ(used, 3u);
    GptEntry entry;
    EXPECT_EQ(gpt_entry(table, 128, &entry), GptStatus::kIndexOutOfRange);
    EXPECT_EQ(gpt_find_partition(table, guid("00000000-0000-0000-0000-000000000001"), &entry),
              GptStatus::kNotFound);
    EXPECT_EQ(check_protective_mbr(ByteView(image.bytes().data(), 512)), GptStatus::kOk);
}

TEST(GptTest, FourKibSectorsAndSmallEntryArrays) {
    TestDisk disk;
    disk.sector_size = 4096;
    disk.sector_count = 64;
    disk.entry_count = 4;
    disk.entry_size = 256;
    disk.partitions = {{kBootPackType, "11111111-2222-3333-4444-555555555555", "b", 8, 15}};
    GptImage image(disk);
    GptTable table;
    ASSERT_EQ(image.parse(&table), GptStatus::kOk);
    EXPECT_EQ(table.header.entries_sector_count, 1u);
    EXPECT_EQ(table.header.first_usable_lba, 3u);
    expect_ingot_partitions(table, disk);
    // The same bytes read with the wrong sector size find no header.
    EXPECT_EQ(parse_gpt_disk(test::view(image.bytes()), 512, &table), GptStatus::kBadSignature);
    EXPECT_EQ(parse_gpt_disk(test::view(image.bytes()), 1000, &table), GptStatus::kBadSectorSize);
}

struct HeaderCase {
    const char* what;
    std::function<void(GptImage&)> change;
    GptStatus expected;
};

TEST(GptTest, HeaderChecks) {
    auto set64 = [](size_t offset, uint64_t value) {
        return [=](GptImage& image) { put64(image.header_bytes() + offset, value); };
    };
    auto set32 = [](size_t offset, uint32_t value) {
        return [=](GptImage& image) { put32(image.header_bytes() + offset, value); };
    };
    const HeaderCase cases[] = {
        {"signature", [](GptImage& i) { i.header_bytes()[0] = 'X'; }, GptStatus::kBadSignature},
        {"revision", set32(8, 0x00020000), GptStatus::kBadRevision},
        {"header size too small", set32(12, 91), GptStatus::kBadHeaderSize},
        {"header size above sector", set32(12, 513), GptStatus::kBadHeaderSize},
        {"my lba", set64(24, 2), GptStatus::kBadHeaderLocation},
        {"alternate beyond end", set64(32, 4096), GptStatus::kBadAlternateLocation},
        {"alternate in usable area", set64(32, 100), GptStatus::kBadAlternateLocation},
        {"first usable after last", set64(40, 4063), GptStatus::kBadUsableRange},
        {"last usable beyond end", set64(48, 4096), GptStatus::kBadUsableRange},
        {"first usable in header", set64(40, 1), GptStatus::kBadUsableRange},
        {"entry size 0", set32(84, 0), GptStatus::kBadEntrySize},
        {"entry size 136", set32(84, 136), GptStatus::kBadEntrySize},
        {"entry size 64", set32(84, 64), GptStatus::kBadEntrySize},
        {"entry count 0", set32(80, 0), GptStatus::kBadEntryCount},
        {"entry array over 1 MiB", set32(80, 8193), GptStatus::kBadEntryCount},
        {"entry count overflow", set32(80, 0xFFFFFFFF), GptStatus::kBadEntryCount},
        {"entries in usable area", set64(72, 34), GptStatus::kBadEntryArrayLocation},
        {"entries at header", set64(72, 1), GptStatus::kBadEntryArrayLocation},
        {"entries off disk", set64(72, 0xFFFFFFFFFFFFFFF0ULL), GptStatus::kBadEntryArrayLocation},
        {"entries spill past end", set64(72, 4090), GptStatus::kBadEntryArrayLocation},
    };
    for (const auto& test_case : cases) {
        GptImage image(ingot_like_disk());
        test_case.change(image);
        image.fix_crcs();
        EXPECT_EQ(image.parse(), test_case.expected) << test_case.what;
    }
}

TEST(GptTest, CrcMismatchesAreDetected) {
    {
        GptImage image(ingot_like_disk());
        image.header_bytes()[60] ^= 1;  // disk GUID, covered by the header CRC only
        EXPECT_EQ(image.parse(), GptStatus::kBadHeaderCrc);
    }
    {
        GptImage image(ingot_like_disk());
        image.entry_bytes(1)[40] ^= 1;  // root partition's last LBA
        EXPECT_EQ(image.parse(), GptStatus::kBadEntriesCrc);
    }
    {
        GptImage image(ingot_like_disk());
        image.entry_bytes(127)[0] = 1;  // an unused entry still counts
        EXPECT_EQ(image.parse(), GptStatus::kBadEntriesCrc);
    }
}

TEST(GptTest, PartitionChecks) {
    {
        GptImage image(ingot_like_disk());
        put64(image.entry_bytes(0) + 32, 2600);  // first > last
        image.fix_crcs();
        EXPECT_EQ(image.parse(), GptStatus::kBadPartitionRange);
    }
    {
        GptImage image(ingot_like_disk());
        put64(image.entry_bytes(2) + 40, 4070);  // past last usable LBA (4062)
        image.fix_crcs();
        EXPECT_EQ(image.parse(), GptStatus::kBadPartitionRange);
    }
    {
        GptImage image(ingot_like_disk());
        put64(image.entry_bytes(0) + 32, 33);  // before first usable LBA (34)
        image.fix_crcs();
        EXPECT_EQ(image.parse(), GptStatus::kBadPartitionRange);
    }
    {
        GptImage image(ingot_like_disk());
        put64(image.entry_bytes(1) + 32, 2559);  // root starts on boot's last sector
        image.fix_crcs();
        EXPECT_EQ(image.parse(), GptStatus::kOverlappingPartitions);
    }
    {
        TestDisk disk = ingot_like_disk();
        disk.partitions[2].type = kBootPackType;
        GptImage image(disk);
        GptTable table;
        ASSERT_EQ(image.parse(&table), GptStatus::kOk);
        GptEntry entry;
        EXPECT_EQ(gpt_find_partition(table, guid(kBootPackType), &entry),
                  GptStatus::kDuplicatePartitionType);
    }
}

TEST(GptTest, TruncatedDisksAreRefused) {
    GptImage image(ingot_like_disk());
    Bytes& bytes = image.bytes();
    // Cut the disk at every sector boundary up to the full size, and mid-sector near the start.
    for (size_t size = 0; size < bytes.size(); size += (size < 4 * 512 ? 7 : 512)) {
        GptTable table;
        GptStatus status = parse_gpt_disk(ByteView(bytes.data(), size), 512, &table);
        EXPECT_NE(status, GptStatus::kOk) << "size " << size;
    }
    // Header read from a short buffer.
    GptHeader header;
    EXPECT_EQ(parse_gpt_header(ByteView(image.header_bytes(), 91), 512, 4096, &header),
              GptStatus::kTruncated);
    ASSERT_EQ(parse_gpt_header(ByteView(image.header_bytes(), 92), 512, 4096, &header),
              GptStatus::kOk);
    GptTable table;
    EXPECT_EQ(parse_gpt_table(header, ByteView(image.entry_bytes(0), 128 * 128 - 1), &table),
              GptStatus::kTruncated);
    EXPECT_EQ(parse_gpt_table(header, ByteView(image.entry_bytes(0), 128 * 128), &table),
              GptStatus::kOk);
}

TEST(GptTest, HandMadeHeaderCannotCauseOutOfBoundsReads) {
    GptImage image(ingot_like_disk());
    GptTable table;
    ASSERT_EQ(image.parse(&table), GptStatus::kOk);
    table.header.entry_count = 1000;  // claims more entries than the array holds
    GptEntry entry;
    EXPECT_NE(gpt_entry(table, 999, &entry), GptStatus::kOk);
    EXPECT_NE(gpt_find_partition(table, guid(kRootType), &entry), GptStatus::kOk);
}

TEST(GptTest, ProtectiveMbrCheck) {
    Bytes sector(512, 0);
    EXPECT_EQ(check_protective_mbr(test::view(sector)), GptStatus::kNoMbrSignature);
    sector[510] = 0x55;
    sector[511] = 0xAA;
    EXPECT_EQ(check_protective_mbr(test::view(sector)), GptStatus::kNotProtectiveMbr);
    sector[446 + 16 * 3 + 4] = 0xEE;
    EXPECT_EQ(check_protective_mbr(test::view(sector)), GptStatus::kOk);
    EXPECT_EQ(check_protective_mbr(ByteView(sector.data(), 511)), GptStatus::kTruncated);
    // A GPT without any MBR still parses: the MBR is optional.
    GptImage image(ingot_like_disk());
    std::fill_n(image.bytes().begin(), 512, 0);
    EXPECT_EQ(image.parse(), GptStatus::kOk);
}

TEST(GptTest, ParsesTableWrittenBySfdisk) {
    std::string sfdisk = test::find_program("sfdisk");
    if (sfdisk.empty()) GTEST_SKIP() << "sfdisk (util-linux, Debian package fdisk) not installed";
    test::TempDir dir;
    std::string image_path = (dir.path() / "disk.img").string();
    constexpr uint64_t kSectors = 16 * 2048;  // 16 MiB
    test::write_file(image_path, Bytes());
    std::filesystem::resize_file(image_path, kSectors * 512);

    TestDisk disk;
    disk.sector_count = kSectors;
    disk.partitions = {
        {kBootPackType, "0b0a0b0a-1111-4222-8333-444455556666", "boot", 2048, 4095},
        {kRootType, "1c1c1c1c-1111-4222-8333-444455556666", "root", 4096, 26623},
        {kRootVerityType, "2d2d2d2d-1111-4222-8333-444455556666", "root-verity", 26624, 30719},
    };
    std::string script =
        "label: gpt\nlabel-id: 01234567-89AB-CDEF-0123-456789ABCDEF\nunit: sectors\n"
        "first-lba: 2048\n";
    for (const auto& p : disk.partitions) {
        script += "start=" + std::to_string(p.first_lba) +
                  ", size=" + std::to_string(p.last_lba - p.first_lba + 1) + ", type=" + p.type +
                  ", uuid=" + p.uuid + ", name=\"" + p.name + "\"\n";
    }
    std::string script_path = (dir.path() / "layout.sfdisk").string();
    test::write_file(script_path, script);
    ASSERT_EQ(test::run_shell(test::shell_quote(sfdisk) + " --quiet --no-reread --no-tell-kernel " +
                              test::shell_quote(image_path) + " < " +
                              test::shell_quote(script_path) + " >/dev/null 2>&1"),
              0);

    Bytes bytes = test::read_file(image_path);
    ASSERT_EQ(check_protective_mbr(ByteView(bytes.data(), 512)), GptStatus::kOk);
    GptTable table;
    ASSERT_EQ(parse_gpt_disk(test::view(bytes), 512, &table), GptStatus::kOk);
    EXPECT_EQ(guid_text(table.header.disk_guid), "01234567-89ab-cdef-0123-456789abcdef");
    EXPECT_EQ(table.header.alternate_lba, kSectors - 1);
    expect_ingot_partitions(table, disk);

    // The backup table at the end is not consulted, so cutting the disk before it must be
    // caught by the alternate-LBA check rather than go unnoticed.
    Bytes truncated(bytes.begin(), bytes.end() - 512);
    EXPECT_EQ(parse_gpt_disk(test::view(truncated), 512, &table), GptStatus::kBadAlternateLocation);
}

}  // namespace
}  // namespace ingot::fw
