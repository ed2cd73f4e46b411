// Why the firmware refused to boot. Each reason has its own debug-exit value, so a monitor (and
// a test) learns what failed from the exit status alone: status = (value << 1) | 1.
#pragma once

#include <stdint.h>

#include "Text.h"

namespace ingot::fw {

enum class Refusal : uint8_t {
    kNone = 0,
    kNoTrustedKey = 0x10,       // neither built-in keys nor a keys module
    kBadStartInfo = 0x11,       // hvm_start_info missing, wrong magic, or no memory map
    kNoDisk = 0x12,             // no virtio-mmio block device on the command line
    kBadDevice = 0x13,          // the device is not a usable virtio-blk (legacy, no VERSION_1…)
    kDiskError = 0x14,          // an I/O error or a read past the end of the disk (truncated)
    kBadGpt = 0x15,             // the partition table does not parse or has no boot partition
    kBadBootPack = 0x16,        // the boot pack is not in canonical form
    kUnsigned = 0x17,           // the boot pack holds no manifest.json.minisig
    kBadSignatureFile = 0x18,   // manifest.json.minisig does not parse
    kUnknownKey = 0x19,         // signed by a key that is not trusted
    kBadSignature = 0x1a,       // the manifest does not match its signature
    kBadManifest = 0x1b,        // signed, but not a manifest this firmware can boot
    kGptMismatch = 0x1c,        // GPT entries differ from the signed partition table
    kKernelDigest = 0x1d,       // kernel bytes differ from the manifest's sha256
    kInitrdDigest = 0x1e,       // initrd bytes differ from the manifest's sha256
    kBadKernel = 0x1f,          // not a 64-bit bzImage this loader supports
    kNoMemory = 0x20,           // the kernel, initrd or boot data do not fit in RAM
    kCpuException = 0x21,       // the firmware itself faulted
};

const char* refusal_name(Refusal reason);

// A refusal with its one-line explanation.
struct BootError {
    Refusal reason = Refusal::kNone;
    Text<200> message;

    bool failed() const { return reason != Refusal::kNone; }
    // Starts the message; callers append details.
    Text<200>& set(Refusal r, const char* what) {
        reason = r;
        message.clear();
        return message.add(what);
    }
};

}  // namespace ingot::fw
