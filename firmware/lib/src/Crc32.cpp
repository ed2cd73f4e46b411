#include "ingot/fw/Crc32.h"

namespace ingot::fw {
namespace {

struct Crc32Table {
    uint32_t entries[256];
};

// Built by the compiler, so the table is constant data with no run-time initialisation.
constexpr Crc32Table make_crc32_table() {
    Crc32Table table{};
    for (uint32_t byte = 0; byte < 256; ++byte) {
        uint32_t crc = byte;
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? 0xEDB88320u : 0u);
        table.entries[byte] = crc;
    }
    return table;
}

constexpr Crc32Table kCrc32Table = make_crc32_table();

}  // namespace

uint32_t crc32_update(uint32_t crc, const void* data, size_t size) {
    const uint8_t* bytes = static_cast<const uint8_t*>(data);
    crc = ~crc;
    for (size_t i = 0; i < size; ++i)
        crc = kCrc32Table.entries[(crc ^ bytes[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

}  // namespace ingot::fw
