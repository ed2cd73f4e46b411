#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "BootEntry.h"
#include "GuestMemory.h"

namespace ingot::vmm {

struct LinuxBootInputs {
    std::span<const uint8_t> kernel;  // a bzImage
    std::string kernelName;           // for error messages
    std::span<const uint8_t> initrd;  // may be empty
    std::string cmdline;
    uint64_t rsdpAddress = 0;
};

// Offsets into struct boot_params / setup_header (Documentation/arch/x86/boot.rst,
// zero-page.rst) that the loader reads or writes.
namespace bootparams {
constexpr size_t kSize = 4096;
constexpr size_t kAcpiRsdpAddr = 0x070;
constexpr size_t kExtRamdiskImage = 0x0c0;
constexpr size_t kExtRamdiskSize = 0x0c4;
constexpr size_t kExtCmdLinePtr = 0x0c8;
constexpr size_t kE820Entries = 0x1e8;
constexpr size_t kSetupSects = 0x1f1;
constexpr size_t kBootFlag = 0x1fe;
constexpr size_t kHeaderMagic = 0x202;
constexpr size_t kVersion = 0x206;
constexpr size_t kTypeOfLoader = 0x210;
constexpr size_t kLoadFlags = 0x211;
constexpr size_t kRamdiskImage = 0x218;
constexpr size_t kRamdiskSize = 0x21c;
constexpr size_t kHeapEndPtr = 0x224;
constexpr size_t kCmdLinePtr = 0x228;
constexpr size_t kInitrdAddrMax = 0x22c;
constexpr size_t kXLoadFlags = 0x236;
constexpr size_t kCmdlineSize = 0x238;
constexpr size_t kInitSize = 0x260;
constexpr size_t kE820Table = 0x2d0;
constexpr size_t kE820MaxEntries = 128;
}  // namespace bootparams

// Loads a bzImage, its initrd and command line into guest memory and writes the zero page
// (boot_params) with the e820 map. Throws ingot::Error (usage) naming the kernel and what is
// wrong with it: not a bzImage, too old a boot protocol, no 64-bit entry, does not fit.
BootEntry loadLinuxBzImage(GuestMemory& memory, const LinuxBootInputs& inputs);

// True when the bytes start like a bzImage (boot flag + "HdrS"), so callers can tell a bzImage
// from an ELF without trying to load it.
bool looksLikeBzImage(std::span<const uint8_t> file);

}  // namespace ingot::vmm
