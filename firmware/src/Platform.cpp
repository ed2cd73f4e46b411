#include "Platform.h"

#include "PortIo.h"

namespace ingot::fw {
namespace {

constexpr uint16_t kCom1 = 0x3f8;
constexpr uint16_t kDebugExitPort = 0xf4;
constexpr uint16_t kBootProgressPort = 0x440;

void put(char c) {
    // Bounded: a missing UART must not hang the firmware.
    for (int i = 0; i < 100000 && !(inb(kCom1 + 5) & 0x20); ++i) cpu_relax();
    outb(kCom1, static_cast<uint8_t>(c));
}

}  // namespace

void console_init() {
    outb(kCom1 + 1, 0x00);  // no interrupts
    outb(kCom1 + 3, 0x80);  // divisor latch
    outb(kCom1 + 0, 0x01);  // 115200 baud
    outb(kCom1 + 1, 0x00);
    outb(kCom1 + 3, 0x03);  // 8N1
    outb(kCom1 + 2, 0x07);  // FIFOs on and cleared
    outb(kCom1 + 4, 0x03);  // DTR, RTS
}

void console_write(const char* text) {
    for (; *text; ++text) {
        if (*text == '\n') put('\r');
        put(*text);
    }
}

void report_progress(Progress code) {
    outl(kBootProgressPort, static_cast<uint32_t>(code));
}

void report_measurement(const uint8_t m[32]) {
    for (uint32_t i = 0; i < 16; ++i)
        outl(kBootProgressPort, 0x8000'0000u | (i << 16) | (uint32_t{m[2 * i]} << 8) | m[2 * i + 1]);
}

void halt() {
    for (;;) asm volatile("cli; hlt");
}

void refuse(const BootError& error) {
    Text<300> line;
    line.add("ingot-fw: refused (")
        .add(refusal_name(error.reason))
        .add("): ")
        .add(error.message.c_str())
        .add("\n");
    console_write(line.c_str());
    outb(kDebugExitPort, static_cast<uint8_t>(error.reason));
    halt();
}

}  // namespace ingot::fw
