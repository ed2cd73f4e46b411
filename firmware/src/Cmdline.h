// The firmware's own command line: which virtio-mmio devices exist, in the form QEMU's microvm
// and ingot-vmm append ("virtio_mmio.device=512@0xd0000000:5"), as the Linux driver reads it.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ingot/fw/Bytes.h"

namespace ingot::fw {

struct VirtioMmioDeviceWord {
    uint64_t size;
    uint64_t base;
    uint32_t irq;
};

inline constexpr char kVirtioMmioDevicePrefix[] = "virtio_mmio.device=";

// Calls `visit(word)` for each space-separated word of `cmdline`.
template <typename Visit>
void for_each_word(ByteView cmdline, Visit visit) {
    size_t i = 0;
    while (i < cmdline.size) {
        while (i < cmdline.size && (cmdline[i] == ' ' || cmdline[i] == '\t' || cmdline[i] == '\n'))
            ++i;
        size_t start = i;
        while (i < cmdline.size && cmdline[i] != ' ' && cmdline[i] != '\t' && cmdline[i] != '\n')
            ++i;
        if (i > start) visit(ByteView(cmdline.data + start, i - start));
    }
}

// Parses one "virtio_mmio.device=<size>[KMG]@<base>:<irq>[:<id>]" word; numbers as the kernel's
// memparse/kstrtoul read them (decimal, or hexadecimal after 0x). False for anything else.
bool parse_virtio_mmio_device(ByteView word, VirtioMmioDeviceWord* device);

}  // namespace ingot::fw
