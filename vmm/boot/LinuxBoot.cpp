#include "LinuxBoot.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "E820.h"
#include "X86Layout.h"
#include "ingot/core/Error.h"

namespace ingot::vmm {

namespace {

template <typename T>
T get(std::span<const uint8_t> bytes, size_t offset) {
    T v;
    std::memcpy(&v, bytes.data() + offset, sizeof v);
    return v;
}
template <typename T>
void put(std::span<uint8_t> bytes, size_t offset, T v) {
    std::memcpy(bytes.data() + offset, &v, sizeof v);
}

constexpr uint16_t kMinimumProtocol = 0x020c;  // 2.12: xloadflags, 64-bit entry
constexpr uint16_t kXlfKernel64 = 1 << 0;
constexpr uint8_t kLoadedHigh = 1 << 0;
constexpr uint8_t kCanUseHeap = 1 << 7;
constexpr uint8_t kLoaderUndefined = 0xff;

}  // namespace

bool looksLikeBzImage(std::span<const uint8_t> file) {
    return file.size() >= 0x264 && get<uint16_t>(file, bootparams::kBootFlag) == 0xaa55 &&
           std::memcmp(file.data() + bootparams::kHeaderMagic, "HdrS", 4) == 0;
}

BootEntry loadLinuxBzImage(GuestMemory& memory, const LinuxBootInputs& in) {
    using namespace bootparams;
    auto fail = [&](const std::string& why) -> Error {
        return Error("kernel " + in.kernelName + ": " + why, ExitStatus::kUsage);
    };
    const auto& k = in.kernel;
    if (!looksLikeBzImage(k)) throw fail("not a bzImage (no boot flag 0xAA55 / \"HdrS\" header)");
    uint16_t version = get<uint16_t>(k, kVersion);
    if (version < kMinimumProtocol) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "boot protocol %u.%02u is older than 2.12", version >> 8,
                      version & 0xff);
        throw fail(buf);
    }
    if (!(get<uint16_t>(k, kXLoadFlags) & kXlfKernel64)) throw fail("has no 64-bit entry point");
    if (!(get<uint8_t>(k, kLoadFlags) & kLoadedHigh)) throw fail("is not a bzImage (zImage)");

    size_t setupSects = get<uint8_t>(k, kSetupSects);
    if (setupSects == 0) setupSects = 4;
    size_t setupBytes = (setupSects + 1) * 512;
    size_t headerEnd = 0x202 + get<uint8_t>(k, 0x201);
    if (setupBytes >= k.size() || headerEnd > setupBytes || headerEnd > kSize)
        throw fail("truncated (setup " + std::to_string(setupBytes) + " bytes, file " +
                   std::to_string(k.size()) + ")");
    auto payload = k.subspan(setupBytes);
    uint64_t initSize = std::max<uint64_t>(get<uint32_t>(k, kInitSize), payload.size());
    uint64_t lowEnd = memory.lowRamEnd();
    if (layout::kKernelLoad + initSize > lowEnd)
        throw Error("guest memory too small for kernel " + in.kernelName + " (needs " +
                        std::to_string((layout::kKernelLoad + initSize) >> 20) + " MiB)",
                    ExitStatus::kUsage);
    memory.write(layout::kKernelLoad, payload);

    std::vector<uint8_t> zeroPage(kSize, 0);
    std::span<uint8_t> zp(zeroPage);
    std::memcpy(zp.data() + kSetupSects, k.data() + kSetupSects, headerEnd - kSetupSects);
    put<uint8_t>(zp, kTypeOfLoader, kLoaderUndefined);
    put<uint8_t>(zp, kLoadFlags, get<uint8_t>(k, kLoadFlags) | kCanUseHeap);
    put<uint16_t>(zp, kHeapEndPtr, 0xfe00);

    // cmdline_size counts characters without the terminating NUL (boot.rst); protocols
    // before 2.06 had no field and allowed 255.
    uint32_t cmdlineMax = get<uint32_t>(k, kCmdlineSize);
    if (cmdlineMax == 0) cmdlineMax = 255;
    if (in.cmdline.size() > std::min<uint64_t>(cmdlineMax, layout::kCmdlineMax - 1))
        throw Error("kernel command line is " + std::to_string(in.cmdline.size()) +
                        " bytes; kernel " + in.kernelName + " accepts " +
                        std::to_string(cmdlineMax),
                    ExitStatus::kUsage);
    auto cmd = memory.slice(layout::kCmdline, in.cmdline.size() + 1);
    std::memcpy(cmd.data(), in.cmdline.c_str(), in.cmdline.size() + 1);
    put<uint32_t>(zp, kCmdLinePtr, static_cast<uint32_t>(layout::kCmdline));

    if (!in.initrd.empty()) {
        uint64_t addrMax = static_cast<uint64_t>(get<uint32_t>(k, kInitrdAddrMax)) + 1;
        uint64_t top = std::min(lowEnd, addrMax);
        uint64_t kernelEnd = layout::kKernelLoad + initSize;
        if (in.initrd.size() > top || ((top - in.initrd.size()) & ~0xfffull) < kernelEnd)
            throw Error("guest memory too small for the initrd (" +
                            std::to_string(in.initrd.size() >> 20) + " MiB) above kernel " +
                            in.kernelName,
                        ExitStatus::kUsage);
        uint64_t at = (top - in.initrd.size()) & ~0xfffull;
        memory.write(at, in.initrd);
        put<uint32_t>(zp, kRamdiskImage, static_cast<uint32_t>(at));
        put<uint32_t>(zp, kRamdiskSize, static_cast<uint32_t>(in.initrd.size()));
        put<uint32_t>(zp, kExtRamdiskImage, static_cast<uint32_t>(at >> 32));
        put<uint32_t>(zp, kExtRamdiskSize, static_cast<uint32_t>(in.initrd.size() >> 32));
    }
    if (in.rsdpAddress) put<uint64_t>(zp, kAcpiRsdpAddr, in.rsdpAddress);

    auto map = buildE820Map(memory);
    if (map.size() > kE820MaxEntries) throw Error("e820 map has too many entries");
    put<uint8_t>(zp, kE820Entries, static_cast<uint8_t>(map.size()));
    for (size_t i = 0; i < map.size(); ++i) {
        size_t at = kE820Table + i * 20;
        put<uint64_t>(zp, at, map[i].addr);
        put<uint64_t>(zp, at + 8, map[i].size);
        put<uint32_t>(zp, at + 16, map[i].type);
    }
    memory.write(layout::kZeroPage, zp);
    // The 64-bit entry point sits 0x200 bytes into the protected-mode code.
    return {BootEntry::Mode::kLinux64, layout::kKernelLoad + 0x200, layout::kZeroPage};
}

}  // namespace ingot::vmm
