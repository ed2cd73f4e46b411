#include "Cmdline.h"

namespace ingot::fw {
namespace {

// Reads an unsigned number at `text[*at]`: "0x" hex or decimal, no overflow.
bool read_number(ByteView text, size_t* at, uint64_t* value) {
    size_t i = *at;
    unsigned base = 10;
    if (i + 1 < text.size && text[i] == '0' && (text[i + 1] == 'x' || text[i + 1] == 'X')) {
        base = 16;
        i += 2;
    }
    size_t digits_start = i;
    uint64_t v = 0;
    while (i < text.size) {
        uint8_t c = text[i];
        unsigned d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else break;
        if (v > (UINT64_MAX - d) / base) return false;
        v = v * base + d;
        ++i;
    }
    if (i == digits_start) return false;
    *at = i;
    *value = v;
    return true;
}

}  // namespace

bool parse_virtio_mmio_device(ByteView word, VirtioMmioDeviceWord* device) {
    ByteView prefix = literal_bytes(kVirtioMmioDevicePrefix);
    if (!word.starts_with(prefix)) return false;
    size_t at = prefix.size;
    uint64_t size, base, irq;
    if (!read_number(word, &at, &size)) return false;
    if (at < word.size) {
        unsigned shift = 0;
        switch (word[at]) {
            case 'K': case 'k': shift = 10; break;
            case 'M': case 'm': shift = 20; break;
            case 'G': case 'g': shift = 30; break;
            default: break;
        }
        if (shift) {
            if (size > (UINT64_MAX >> shift)) return false;
            size <<= shift;
            ++at;
        }
    }
    if (at >= word.size || word[at] != '@') return false;
    ++at;
    if (!read_number(word, &at, &base)) return false;
    if (at >= word.size || word[at] != ':') return false;
    ++at;
    if (!read_number(word, &at, &irq) || irq > UINT32_MAX) return false;
    if (at < word.size) {
        // An optional platform device id follows; nothing else may.
        uint64_t id;
        if (word[at] != ':') return false;
        ++at;
        if (!read_number(word, &at, &id) || at != word.size) return false;
    }
    if (size == 0 || base + size < base) return false;
    *device = {size, base, static_cast<uint32_t>(irq)};
    return true;
}

}  // namespace ingot::fw
