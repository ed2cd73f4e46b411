#include "LinuxBootParams.h"

namespace ingot::fw {
namespace {

// Offsets in the boot sector / zero page.
constexpr size_t kSetupSects = 0x1f1;
constexpr size_t kBootFlag = 0x1fe;
constexpr size_t kJump = 0x200;
constexpr size_t kHeaderMagic = 0x202;
constexpr size_t kVersion = 0x206;
constexpr size_t kTypeOfLoader = 0x210;
constexpr size_t kLoadFlags = 0x211;
constexpr size_t kCode32Start = 0x214;
constexpr size_t kRamdiskImage = 0x218;
constexpr size_t kRamdiskSize = 0x21c;
constexpr size_t kCmdLinePtr = 0x228;
constexpr size_t kInitrdAddrMax = 0x22c;
constexpr size_t kKernelAlignment = 0x230;
constexpr size_t kRelocatable = 0x234;
constexpr size_t kXLoadFlags = 0x236;
constexpr size_t kCmdlineSize = 0x238;
constexpr size_t kPrefAddress = 0x258;
constexpr size_t kInitSize = 0x260;
constexpr size_t kAcpiRsdpAddr = 0x070;
constexpr size_t kExtRamdiskImage = 0x0c0;
constexpr size_t kExtRamdiskSize = 0x0c4;
constexpr size_t kExtCmdLinePtr = 0x0c8;
constexpr size_t kE820Entries = 0x1e8;
constexpr size_t kE820Table = 0x2d0;
constexpr size_t kE820MaxEntries = 128;

constexpr uint16_t kMinVersion = 0x020c;  // 64-bit entry and xloadflags
constexpr uint8_t kLoadedHigh = 0x01;
constexpr uint16_t kXlfKernel64 = 0x0001;

bool bad(BootError* error, const char* what) {
    error->set(Refusal::kBadKernel, "kernel is not a 64-bit bzImage: ").add(what);
    return false;
}

}  // namespace

bool read_kernel_header(ByteView first, uint64_t file_size, KernelHeader* h, BootError* error) {
    if (first.size < 0x270) return bad(error, "shorter than a setup header");
    fill_bytes(h->bytes, 0, sizeof h->bytes);
    size_t n = first.size < sizeof h->bytes ? first.size : sizeof h->bytes;
    copy_bytes(h->bytes, first.data, n);
    const uint8_t* b = h->bytes;
    if (load_le16(b + kBootFlag) != 0xAA55) return bad(error, "no boot flag 0xAA55");
    if (!bytes_equal(b + kHeaderMagic, "HdrS", 4)) return bad(error, "no HdrS signature");
    uint16_t version = load_le16(b + kVersion);
    if (version < kMinVersion) {
        error->set(Refusal::kBadKernel, "boot protocol ").hex(version).add(" is older than 2.12");
        return false;
    }
    if (!(b[kLoadFlags] & kLoadedHigh)) return bad(error, "not loadable at 1 MiB or above");
    if (!(load_le16(b + kXLoadFlags) & kXlfKernel64)) return bad(error, "no 64-bit entry point");
    h->header_end = kJump + 2 + b[kJump + 1];
    if (h->header_end > n || h->header_end < 0x26c) return bad(error, "setup header length");
    uint32_t setup_sects = b[kSetupSects] ? b[kSetupSects] : 4;
    h->setup_size = (uint64_t{setup_sects} + 1) * 512;
    if (h->setup_size >= file_size) return bad(error, "no protected-mode code after the setup");
    h->payload_size = file_size - h->setup_size;
    h->pref_address = load_le64(b + kPrefAddress);
    h->alignment = load_le32(b + kKernelAlignment);
    if (h->alignment == 0 || (h->alignment & (h->alignment - 1))) return bad(error, "kernel_alignment");
    h->relocatable = b[kRelocatable] != 0;
    uint64_t init_size = load_le32(b + kInitSize);
    h->load_size = init_size > h->payload_size ? init_size : h->payload_size;
    h->initrd_limit = uint64_t{load_le32(b + kInitrdAddrMax)} + 1;
    h->cmdline_max = load_le32(b + kCmdlineSize);
    return true;
}

void write_boot_params(uint8_t* zp, const KernelHeader& h, const BootParamsInputs& in) {
    fill_bytes(zp, 0, 4096);
    copy_bytes(zp + kSetupSects, h.bytes + kSetupSects, h.header_end - kSetupSects);
    zp[kTypeOfLoader] = 0xff;  // "undefined" loader id
    store_le32(zp + kCode32Start, 0);
    store_le32(zp + kCmdLinePtr, static_cast<uint32_t>(in.cmdline_paddr));
    store_le32(zp + kExtCmdLinePtr, static_cast<uint32_t>(in.cmdline_paddr >> 32));
    store_le32(zp + kRamdiskImage, static_cast<uint32_t>(in.initrd_paddr));
    store_le32(zp + kExtRamdiskImage, static_cast<uint32_t>(in.initrd_paddr >> 32));
    store_le32(zp + kRamdiskSize, static_cast<uint32_t>(in.initrd_size));
    store_le32(zp + kExtRamdiskSize, static_cast<uint32_t>(in.initrd_size >> 32));
    store_le64(zp + kAcpiRsdpAddr, in.rsdp_paddr);
    size_t count = 0;
    for (size_t i = 0; i < in.memory->size() && count < kE820MaxEntries; ++i) {
        const auto& e = (*in.memory)[i];
        uint8_t* entry = zp + kE820Table + 20 * count++;
        store_le64(entry, e.base);
        store_le64(entry + 8, e.size);
        store_le32(entry + 16, e.type);
    }
    zp[kE820Entries] = static_cast<uint8_t>(count);
}

}  // namespace ingot::fw
