#pragma once

#include <cstdio>
#include <string>

#include "acpi/AcpiTables.h"
#include "boot/X86Layout.h"

namespace ingot::vmm::virtio {

// virtio-mmio device i gets the i-th 512-byte window from layout::kVirtioMmioBase and GSI
// kVirtioFirstGsi + i: GSIs 5..20 stay clear of the PIT (0), COM1 (4) and the IOAPIC's last pins.
constexpr unsigned kMaxVirtioMmioDevices = 16;

inline acpi::VirtioMmioDevice virtioMmioSlot(unsigned index) {
    return {layout::kVirtioMmioBase + uint64_t{index} * layout::kVirtioMmioSize,
            layout::kVirtioMmioSize, layout::kVirtioFirstGsi + index};
}

// The kernel command-line form QEMU's microvm appends ("virtio_mmio.device=512@0xd0000000:5"),
// which Linux parses when built with CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES and ingot-fw reads to
// find its boot disk.
inline std::string virtioMmioCmdlineParameter(const acpi::VirtioMmioDevice& device) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "virtio_mmio.device=%u@0x%llx:%u", device.size,
                  static_cast<unsigned long long>(device.base), device.gsi);
    return buf;
}

}  // namespace ingot::vmm::virtio
