// The little a freestanding C++ program needs: the compiler emits calls to these even with
// -ffreestanding (struct copies, zeroing), and an abstract base needs __cxa_pure_virtual.
#include <stddef.h>
#include <stdint.h>

#include "Platform.h"

extern "C" {

void* memcpy(void* destination, const void* source, size_t size) {
    auto* d = static_cast<uint8_t*>(destination);
    const auto* s = static_cast<const uint8_t*>(source);
    // rep movsb is fast on every CPU the firmware meets, and short.
    asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(size) : : "memory");
    return destination;
}

void* memset(void* destination, int value, size_t size) {
    auto* d = static_cast<uint8_t*>(destination);
    asm volatile("rep stosb" : "+D"(d), "+c"(size) : "a"(value) : "memory");
    return destination;
}

void* memmove(void* destination, const void* source, size_t size) {
    auto* d = static_cast<uint8_t*>(destination);
    const auto* s = static_cast<const uint8_t*>(source);
    if (d <= s || d >= s + size) return memcpy(destination, source, size);
    while (size--) d[size] = s[size];
    return destination;
}

int memcmp(const void* a, const void* b, size_t size) {
    const auto* x = static_cast<const uint8_t*>(a);
    const auto* y = static_cast<const uint8_t*>(b);
    for (size_t i = 0; i < size; ++i)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

[[noreturn]] void __cxa_pure_virtual() {
    ingot::fw::BootError error;
    error.set(ingot::fw::Refusal::kCpuException, "pure virtual call");
    ingot::fw::refuse(error);
}

}  // extern "C"
