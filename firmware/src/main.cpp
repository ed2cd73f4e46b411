// ingot-fw: reads its PVH start info, finds the disk, runs the verified boot and enters Linux.
// Anything that fails ends the VM through refuse(); nothing unverified is ever jumped to.
#include "BuiltinKeys.h"
#include "Cmdline.h"
#include "MemoryMap.h"
#include "Platform.h"
#include "VerifiedBoot.h"
#include "VirtioBlk.h"

extern "C" uint8_t __image_start[], __image_end[];
extern "C" const uint64_t exception_stubs[32];

namespace ingot::fw {
namespace {

constexpr uint32_t kStartInfoMagic = 0x336ec578;
constexpr uint64_t kFourGiB = 0x1'0000'0000ull;
constexpr uint64_t kLowMemoryEnd = 0x100000;

// xen/include/public/arch-x86/hvm/start_info.h
struct HvmStartInfo {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;
    uint32_t memmap_entries;
    uint32_t reserved;
};
struct HvmModlistEntry {
    uint64_t paddr;
    uint64_t size;
    uint64_t cmdline_paddr;
    uint64_t reserved;
};
struct HvmMemmapEntry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
    uint32_t reserved;
};

struct IdtGate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type;
    uint16_t offset_middle;
    uint32_t offset_high;
    uint32_t zero;
};

alignas(16) IdtGate idt[32];
alignas(4096) uint8_t bounce[VirtioBlk::kMaxSectorsPerRequest * BlockDevice::kSectorSize];
BootScratch scratch;
MemoryMap memory;
TrustedKeys keys;
VirtioBlk disk;
char own_cmdline[2048];

// Guest-physical addresses are our addresses below 4 GiB (entry.S maps them 1:1).
class IdentityRam final : public GuestRam {
public:
    uint8_t* at(uint64_t paddr, uint64_t size) override {
        if (paddr + size > kFourGiB || !memory.is_ram(paddr, size)) return nullptr;
        return reinterpret_cast<uint8_t*>(paddr);
    }
};
IdentityRam ram;

void install_idt() {
    for (int v = 0; v < 32; ++v) {
        uint64_t handler = exception_stubs[v];
        idt[v] = {static_cast<uint16_t>(handler), 0x10, 0, 0x8e,
                  static_cast<uint16_t>(handler >> 16), static_cast<uint32_t>(handler >> 32), 0};
    }
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } descriptor{sizeof idt - 1, reinterpret_cast<uint64_t>(idt)};
    asm volatile("lidt %0" : : "m"(descriptor));
}

// Trusts only what this range of guest RAM says about itself after checking it lies in RAM.
template <typename T>
const T* guest_object(uint64_t paddr, uint64_t count = 1) {
    if (paddr == 0 || paddr >= kFourGiB || count * sizeof(T) >= kFourGiB - paddr) return nullptr;
    return reinterpret_cast<const T*>(paddr);
}

void read_start_info(uint64_t paddr, BootError* error, uint64_t* rsdp) {
    const auto* info = guest_object<HvmStartInfo>(paddr);
    if (!info || info->magic != kStartInfoMagic) {
        error->set(Refusal::kBadStartInfo, "no hvm_start_info (PVH boot required)");
        refuse(*error);
    }
    const auto* map = info->version >= 1 ? guest_object<HvmMemmapEntry>(info->memmap_paddr, info->memmap_entries) : nullptr;
    if (!map || info->memmap_entries == 0) {
        error->set(Refusal::kBadStartInfo, "hvm_start_info has no memory map");
        refuse(*error);
    }
    for (uint32_t i = 0; i < info->memmap_entries; ++i) {
        if (!memory.add(map[i].addr, map[i].size, map[i].type)) {
            error->set(Refusal::kBadStartInfo, "memory map entry ").dec(i).add(" is unusable");
            refuse(*error);
        }
    }
    // Below 1 MiB live the start info, ACPI tables and BIOS areas; the firmware is its own.
    memory.reserve(0, kLowMemoryEnd);
    memory.reserve(reinterpret_cast<uint64_t>(__image_start),
                   reinterpret_cast<uint64_t>(__image_end) - reinterpret_cast<uint64_t>(__image_start));

    if (const char* line = guest_object<char>(info->cmdline_paddr, sizeof own_cmdline)) {
        size_t n = 0;
        while (n + 1 < sizeof own_cmdline && line[n]) {
            own_cmdline[n] = line[n];
            ++n;
        }
        own_cmdline[n] = '\0';
    }
    // Keys: built in at build time, plus any the monitor passes as the first module.
    if (!parse_trusted_keys(ByteView(kBuiltinTrustedKeys, sizeof kBuiltinTrustedKeys - 1), &keys, error))
        refuse(*error);
    const auto* modules = guest_object<HvmModlistEntry>(info->modlist_paddr, info->nr_modules);
    if (modules && info->nr_modules > 0) {
        const auto* text = guest_object<uint8_t>(modules[0].paddr, modules[0].size);
        if (!text || !memory.is_ram(modules[0].paddr, modules[0].size) ||
            !parse_trusted_keys(ByteView(text, modules[0].size), &keys, error)) {
            if (!error->failed()) error->set(Refusal::kNoTrustedKey, "keys module is not in RAM");
            refuse(*error);
        }
    }
    *rsdp = info->rsdp_paddr;
}

size_t length(const char* s) {
    size_t n = 0;
    while (s[n]) ++n;
    return n;
}

}  // namespace

extern "C" [[noreturn]] void fw_exception(uint64_t vector) {
    BootError error;
    error.set(Refusal::kCpuException, "CPU exception ").dec(vector);
    refuse(error);
}

extern "C" [[noreturn]] void fw_main(uint64_t start_info) {
    console_init();
    report_progress(Progress::kFirmwareEntry);
    console_write("ingot-fw: start\n");
    install_idt();
    BootError error;
    uint64_t rsdp = 0;
    read_start_info(start_info, &error, &rsdp);

    // The first virtio-blk among the virtio-mmio devices is the disk; every device word is
    // passed on to the kernel.
    Text<1024> device_words;
    bool have_disk = false;
    BootError device_error;
    for_each_word(ByteView(own_cmdline, length(own_cmdline)), [&](ByteView word) {
        VirtioMmioDeviceWord device;
        if (!parse_virtio_mmio_device(word, &device)) return;
        if (device_words.size()) device_words.add(" ");
        device_words.add(word);
        if (!have_disk && device.base < kFourGiB) have_disk = disk.init(device.base, &device_error);
    });
    if (!have_disk) {
        if (device_error.failed()) refuse(device_error);
        error.set(Refusal::kNoDisk, "no virtio_mmio.device= on the command line names a disk");
        refuse(error);
    }

    BootPlan plan;
    BootInputs inputs{&disk, &ram, &memory, &keys, device_words.view(), rsdp, bounce, sizeof bounce, &scratch};
    if (!verified_boot(inputs, &plan, &error)) refuse(error);
    disk.reset();
    report_progress(Progress::kVerified);
    report_measurement(plan.measurement);
    Text<160> line;
    line.add("ingot-fw: verified, measurement ").hex_bytes(plan.measurement, 32).add("\n");
    console_write(line.c_str());
    report_progress(Progress::kKernelJump);
    asm volatile("cli; jmp *%0" : : "r"(plan.entry), "S"(plan.boot_params) : "memory");
    halt();
}

}  // namespace ingot::fw
