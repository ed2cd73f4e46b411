// Byte views and endian helpers for freestanding code (no <span>, <cstring> or <bit> here).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace ingot::fw {

// A read-only view of bytes owned by someone else. Every parser in this library takes its input
// as a ByteView and hands back views into that same input, so nothing is copied or allocated.
struct ByteView {
    const uint8_t* data = nullptr;
    size_t size = 0;

    constexpr ByteView() = default;
    constexpr ByteView(const uint8_t* bytes, size_t count) : data(bytes), size(count) {}
    ByteView(const char* chars, size_t count)
        : data(reinterpret_cast<const uint8_t*>(chars)), size(count) {}
    ByteView(const void* bytes, size_t count)
        : data(static_cast<const uint8_t*>(bytes)), size(count) {}

    constexpr bool empty() const { return size == 0; }
    constexpr const uint8_t* begin() const { return data; }
    constexpr const uint8_t* end() const { return data + size; }
    constexpr uint8_t operator[](size_t index) const { return data[index]; }

    // The view [offset, offset + count) of this view, or false if it does not fit.
    [[nodiscard]] bool slice(size_t offset, size_t count, ByteView* out) const;
    // Everything from offset on (empty if offset is past the end).
    ByteView suffix(size_t offset) const;
    bool starts_with(ByteView prefix) const;
};

// The bytes of a string literal, without its terminating NUL.
template <size_t N>
ByteView literal_bytes(const char (&text)[N]) {
    return ByteView(text, N - 1);
}

bool operator==(ByteView a, ByteView b);

bool bytes_equal(const void* a, const void* b, size_t size);
void copy_bytes(void* destination, const void* source, size_t size);
void fill_bytes(void* destination, uint8_t value, size_t size);

constexpr uint16_t load_le16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
constexpr uint32_t load_le32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
           (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
constexpr uint64_t load_le64(const uint8_t* p) {
    return static_cast<uint64_t>(load_le32(p)) | (static_cast<uint64_t>(load_le32(p + 4)) << 32);
}
constexpr uint32_t load_be32(const uint8_t* p) {
    return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
           (static_cast<uint32_t>(p[2]) << 8) | static_cast<uint32_t>(p[3]);
}
constexpr uint64_t load_be64(const uint8_t* p) {
    return (static_cast<uint64_t>(load_be32(p)) << 32) | static_cast<uint64_t>(load_be32(p + 4));
}
constexpr void store_le32(uint8_t* p, uint32_t value) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(value >> (8 * i));
}
constexpr void store_le64(uint8_t* p, uint64_t value) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(value >> (8 * i));
}
constexpr void store_be32(uint8_t* p, uint32_t value) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(value >> (24 - 8 * i));
}
constexpr void store_be64(uint8_t* p, uint64_t value) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(value >> (56 - 8 * i));
}

constexpr uint32_t rotr32(uint32_t x, unsigned n) {
    return (x >> n) | (x << (32 - n));
}
constexpr uint64_t rotr64(uint64_t x, unsigned n) {
    return (x >> n) | (x << (64 - n));
}

}  // namespace ingot::fw
