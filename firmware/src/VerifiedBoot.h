// The verified boot path, from a disk to a kernel ready to enter: GPT → boot pack → signed
// manifest → GPT checked against it → kernel and initrd loaded and hashed → boot parameters
// with the measured command line. Nothing here touches hardware, so host tests run it whole.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "BlockDevice.h"
#include "Manifest.h"
#include "MemoryMap.h"
#include "Refusal.h"
#include "ingot/fw/Minisign.h"

namespace ingot::fw {

struct TrustedKeys {
    static constexpr size_t kMax = 8;
    MinisignPublicKey keys[kMax];
    size_t count = 0;
};

// Parses trusted keys from text: minisign .pub files concatenated, or bare key lines, one key
// per line; blank and "untrusted comment:" lines are skipped. False on a malformed key line.
bool parse_trusted_keys(ByteView text, TrustedKeys* keys, BootError* error);

// Large buffers, provided by the caller (the firmware's BSS, a test's heap).
struct BootScratch {
    static constexpr size_t kManifestMax = 64 * 1024;
    static constexpr size_t kSignatureMax = 4096;
    static constexpr size_t kGptEntriesMax = 16 * 1024;
    static constexpr size_t kCmdlineMax = 4096;
    uint8_t manifest[kManifestMax];
    uint8_t signature[kSignatureMax];
    uint8_t gpt_sectors[34 * 512];  // protective MBR, header and a 16 KiB entry array
    uint8_t gpt_entries[kGptEntriesMax];
    char cmdline[kCmdlineMax];
    Manifest parsed;
};

struct BootInputs {
    BlockDevice* disk;
    GuestRam* ram;
    MemoryMap* memory;           // RAM to place things in; the firmware's own range reserved
    const TrustedKeys* keys;
    ByteView extra_cmdline;      // words to pass on to the kernel (the virtio-mmio devices)
    uint64_t rsdp_paddr;         // handed on in the zero page; 0 lets Linux scan for it
    uint8_t* bounce;             // disk reads land here first
    size_t bounce_size;
    BootScratch* scratch;
};

struct BootPlan {
    uint64_t entry;        // 64-bit kernel entry point
    uint64_t boot_params;  // zero page, passed in %rsi
    uint8_t measurement[32];
    uint64_t kernel_paddr;
    uint64_t initrd_paddr;
    uint64_t initrd_size;
};

// Either fills `plan` or refuses with the reason and a one-line message.
bool verified_boot(const BootInputs& in, BootPlan* plan, BootError* error);

}  // namespace ingot::fw
