#include "Refusal.h"

namespace ingot::fw {

const char* refusal_name(Refusal reason) {
    switch (reason) {
        case Refusal::kNone: return "none";
        case Refusal::kNoTrustedKey: return "no-trusted-key";
        case Refusal::kBadStartInfo: return "bad-start-info";
        case Refusal::kNoDisk: return "no-disk";
        case Refusal::kBadDevice: return "bad-device";
        case Refusal::kDiskError: return "disk-error";
        case Refusal::kBadGpt: return "bad-gpt";
        case Refusal::kBadBootPack: return "bad-boot-pack";
        case Refusal::kUnsigned: return "unsigned";
        case Refusal::kBadSignatureFile: return "bad-signature-file";
        case Refusal::kUnknownKey: return "unknown-key";
        case Refusal::kBadSignature: return "bad-signature";
        case Refusal::kBadManifest: return "bad-manifest";
        case Refusal::kGptMismatch: return "gpt-mismatch";
        case Refusal::kKernelDigest: return "kernel-digest";
        case Refusal::kInitrdDigest: return "initrd-digest";
        case Refusal::kBadKernel: return "bad-kernel";
        case Refusal::kNoMemory: return "no-memory";
        case Refusal::kCpuException: return "cpu-exception";
    }
    return "unknown";
}

}  // namespace ingot::fw
