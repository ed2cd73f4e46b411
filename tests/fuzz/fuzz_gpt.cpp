// GPT parsing of arbitrary bytes, two ways:
//  - the whole input as a disk image with 512-byte sectors (parse_gpt_disk), as in tests;
//  - the firmware's way: an 8-byte disk size and a sector-size choice, then the LBA 1 sector,
//    then the entry array (parse_gpt_header + parse_gpt_table), so the fuzzer can reach every
//    header check without building a disk of the size the header describes.
// Properties: accepted tables only yield used entries inside the usable area and the entry
// array inside the input.
#include <cstdint>

#include "FuzzCheck.h"
#include "ingot/fw/Gpt.h"

namespace {

using namespace ingot::fw;

void check_table(const GptTable& table, const uint8_t* data, size_t size) {
    FUZZ_CHECK(table.entries.data >= data && table.entries.end() <= data + size);
    FUZZ_CHECK(table.entries.size == uint64_t{table.header.entry_count} * table.header.entry_size);
    for (uint32_t i = 0; i < table.header.entry_count; ++i) {
        GptEntry entry;
        FUZZ_CHECK(gpt_entry(table, i, &entry) == GptStatus::kOk);
        FUZZ_CHECK(entry.name_utf16le.size <= 72 && entry.name_utf16le.size % 2 == 0);
        if (!is_used(entry)) continue;
        FUZZ_CHECK(entry.first_lba >= table.header.first_usable_lba);
        FUZZ_CHECK(entry.last_lba <= table.header.last_usable_lba);
        FUZZ_CHECK(entry.first_lba <= entry.last_lba);
        GptEntry found;
        GptStatus status = gpt_find_partition(table, entry.type, &found);
        FUZZ_CHECK(status == GptStatus::kOk || status == GptStatus::kDuplicatePartitionType);
    }
    GptEntry entry;
    FUZZ_CHECK(gpt_entry(table, table.header.entry_count, &entry) == GptStatus::kIndexOutOfRange);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    ByteView input(data, size);
    GptTable table;
    if (parse_gpt_disk(input, 512, &table) == GptStatus::kOk) check_table(table, data, size);
    (void)check_protective_mbr(input);

    if (size < 9) return 0;
    uint64_t disk_sectors = load_le64(data);
    uint32_t sector_size = (data[8] & 1) ? 4096 : 512;
    ByteView rest = input.suffix(9);
    ByteView header_sector;
    if (!rest.slice(0, rest.size < sector_size ? rest.size : sector_size, &header_sector)) return 0;
    GptHeader header;
    if (parse_gpt_header(header_sector, sector_size, disk_sectors, &header) != GptStatus::kOk) {
        return 0;
    }
    FUZZ_CHECK(header.entries_byte_size <= kGptMaxEntryArrayBytes);
    FUZZ_CHECK(header.entries_lba + header.entries_sector_count <= disk_sectors);
    FUZZ_CHECK(header.last_usable_lba < disk_sectors && header.alternate_lba < disk_sectors);
    if (parse_gpt_table(header, rest.suffix(header_sector.size), &table) == GptStatus::kOk) {
        check_table(table, data, size);
    }
    return 0;
}
