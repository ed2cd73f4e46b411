#include "ingot/fw/Bytes.h"

namespace ingot::fw {

bool ByteView::slice(size_t offset, size_t count, ByteView* out) const {
    if (offset > size || count > size - offset) return false;
    *out = ByteView(data + offset, count);
    return true;
}

ByteView ByteView::suffix(size_t offset) const {
    if (offset >= size) return ByteView(data + size, 0);
    return ByteView(data + offset, size - offset);
}

bool ByteView::starts_with(ByteView prefix) const {
    return prefix.size <= size && bytes_equal(data, prefix.data, prefix.size);
}

bool operator==(ByteView a, ByteView b) {
    return a.size == b.size && bytes_equal(a.data, b.data, a.size);
}

bool bytes_equal(const void* a, const void* b, size_t size) {
    const uint8_t* left = static_cast<const uint8_t*>(a);
    const uint8_t* right = static_cast<const uint8_t*>(b);
    for (size_t i = 0; i < size; ++i) {
        if (left[i] != right[i]) return false;
    }
    return true;
}

void copy_bytes(void* destination, const void* source, size_t size) {
    uint8_t* to = static_cast<uint8_t*>(destination);
    const uint8_t* from = static_cast<const uint8_t*>(source);
    for (size_t i = 0; i < size; ++i) to[i] = from[i];
}

void fill_bytes(void* destination, uint8_t value, size_t size) {
    uint8_t* to = static_cast<uint8_t*>(destination);
    for (size_t i = 0; i < size; ++i) to[i] = value;
}

}  // namespace ingot::fw
