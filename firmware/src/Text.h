// A fixed-capacity text buffer for messages: the firmware has no allocator and no printf, and a
// refusal must still say exactly what failed and where.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ingot/fw/Bytes.h"

namespace ingot::fw {

template <size_t Capacity>
class Text {
public:
    Text() { text_[0] = '\0'; }
    Text& add(const char* s) {
        while (s && *s) put(*s++);
        return *this;
    }
    Text& add(ByteView bytes) {
        for (size_t i = 0; i < bytes.size; ++i) {
            char c = static_cast<char>(bytes[i]);
            put(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return *this;
    }
    Text& dec(uint64_t value) {
        char digits[20];
        int n = 0;
        do {
            digits[n++] = static_cast<char>('0' + value % 10);
            value /= 10;
        } while (value);
        while (n) put(digits[--n]);
        return *this;
    }
    Text& hex(uint64_t value) {
        add("0x");
        bool started = false;
        for (int shift = 60; shift >= 0; shift -= 4) {
            unsigned nibble = (value >> shift) & 0xf;
            if (nibble || started || shift == 0) {
                put("0123456789abcdef"[nibble]);
                started = true;
            }
        }
        return *this;
    }
    Text& hex_bytes(const uint8_t* bytes, size_t count) {
        for (size_t i = 0; i < count; ++i) {
            put("0123456789abcdef"[bytes[i] >> 4]);
            put("0123456789abcdef"[bytes[i] & 0xf]);
        }
        return *this;
    }
    void clear() {
        size_ = 0;
        text_[0] = '\0';
        overflowed_ = false;
    }
    const char* c_str() const { return text_; }
    size_t size() const { return size_; }
    bool overflowed() const { return overflowed_; }
    ByteView view() const { return ByteView(text_, size_); }

private:
    void put(char c) {
        if (size_ + 1 >= Capacity) {
            overflowed_ = true;
            return;
        }
        text_[size_++] = c;
        text_[size_] = '\0';
    }
    char text_[Capacity];
    size_t size_ = 0;
    bool overflowed_ = false;
};

}  // namespace ingot::fw
