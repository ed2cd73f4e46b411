// What the firmware reports to the outside: the serial console, the boot-progress port and the
// debug-exit port (docs/vmm.md has the contracts).
#pragma once

#include <stdint.h>

#include "Refusal.h"

namespace ingot::fw {

void console_init();
void console_write(const char* text);

enum class Progress : uint32_t {
    kFirmwareEntry = 0x01,
    kVerified = 0x02,
    kKernelJump = 0x03,
};
void report_progress(Progress code);
// Sends the 32-byte measurement as 16 words 0x8000_0000 | index << 16 | bytes[2i] << 8 | bytes[2i+1].
void report_measurement(const uint8_t measurement[32]);

// Prints "ingot-fw: refused (<name>): <message>" and ends the VM through the debug-exit port.
[[noreturn]] void refuse(const BootError& error);
[[noreturn]] void halt();

}  // namespace ingot::fw
