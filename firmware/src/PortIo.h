// x86 port and memory-mapped I/O for the firmware.
#pragma once

#include <stdint.h>

namespace ingot::fw {

inline void outb(uint16_t port, uint8_t value) {
    asm volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}
inline void outl(uint16_t port, uint32_t value) {
    asm volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}
inline uint8_t inb(uint16_t port) {
    uint8_t value;
    asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}
inline uint32_t mmio_read32(uint64_t address) {
    return *reinterpret_cast<volatile uint32_t*>(address);
}
inline void mmio_write32(uint64_t address, uint32_t value) {
    *reinterpret_cast<volatile uint32_t*>(address) = value;
}
// Orders the compiler's memory accesses; x86 keeps stores to ordinary memory in order, and the
// MMIO write that follows traps to the device.
inline void compiler_barrier() {
    asm volatile("" : : : "memory");
}
inline void cpu_relax() {
    asm volatile("pause");
}

}  // namespace ingot::fw
