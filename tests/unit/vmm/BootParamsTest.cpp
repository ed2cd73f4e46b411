#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "GuestMemory.h"
#include "VmmTestSupport.h"
#include "boot/BootEntry.h"
#include "boot/E820.h"
#include "boot/LinuxBoot.h"
#include "boot/X86Layout.h"
#include "ingot/core/Error.h"

namespace ingot::vmm {
namespace {

namespace bp = bootparams;
using test::contains;
using test::errorFrom;
using test::load;
using test::store;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;
constexpr uint8_t kLoadedHigh = 0x01;
constexpr uint8_t kCanUseHeap = 0x80;
constexpr uint16_t kXlfKernel64 = 0x01;
constexpr uint8_t kHeaderLengthByte = 0x6a;  // header ends at 0x202 + 0x6a = 0x26c
constexpr size_t kHeaderEnd = 0x202 + kHeaderLengthByte;

// The fields of a synthetic bzImage's setup header.
struct BzImageSpec {
    uint8_t setupSects = 4;
    uint16_t version = 0x020f;
    uint8_t loadFlags = kLoadedHigh;
    uint16_t xloadFlags = kXlfKernel64;
    uint32_t cmdlineSize = 2047;
    uint32_t initrdAddrMax = 0x7fffffff;
    uint32_t initSize = 0;
    size_t payloadSize = 64 * 1024;
};

uint8_t payloadByte(size_t i) {
    return static_cast<uint8_t>((i * 7 + 3) ^ (i >> 8));
}

std::vector<uint8_t> makeBzImage(const BzImageSpec& spec = {}) {
    size_t setupBytes = (size_t{spec.setupSects ? spec.setupSects : 4u} + 1) * 512;
    std::vector<uint8_t> image(setupBytes + spec.payloadSize, 0);
    uint8_t* p = image.data();
    // Recognisable filler in the setup area, so the test can tell what the loader copied.
    for (size_t i = 0; i < setupBytes; ++i) p[i] = static_cast<uint8_t>(0x40 + (i % 61));
    p[bp::kSetupSects] = spec.setupSects;
    store<uint16_t>(p + bp::kBootFlag, 0xaa55);
    p[0x200] = 0xeb;  // jmp short over the header
    p[0x201] = kHeaderLengthByte;
    std::memcpy(p + bp::kHeaderMagic, "HdrS", 4);
    store<uint16_t>(p + bp::kVersion, spec.version);
    p[bp::kTypeOfLoader] = 0;
    p[bp::kLoadFlags] = spec.loadFlags;
    store<uint32_t>(p + bp::kRamdiskImage, 0);
    store<uint32_t>(p + bp::kRamdiskSize, 0);
    store<uint16_t>(p + bp::kHeapEndPtr, 0);
    store<uint32_t>(p + bp::kCmdLinePtr, 0);
    store<uint32_t>(p + bp::kInitrdAddrMax, spec.initrdAddrMax);
    store<uint16_t>(p + bp::kXLoadFlags, spec.xloadFlags);
    store<uint32_t>(p + bp::kCmdlineSize, spec.cmdlineSize);
    store<uint32_t>(p + bp::kInitSize, spec.initSize);
    for (size_t i = 0; i < spec.payloadSize; ++i) p[setupBytes + i] = payloadByte(i);
    return image;
}

std::vector<uint8_t> patternBytes(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 13 + (i >> 12));
    return v;
}

LinuxBootInputs inputs(std::span<const uint8_t> kernel, std::string name, std::string cmdline = "",
                       std::span<const uint8_t> initrd = {}, uint64_t rsdpAddress = 0) {
    LinuxBootInputs in;
    in.kernel = kernel;
    in.kernelName = std::move(name);
    in.initrd = initrd;
    in.cmdline = std::move(cmdline);
    in.rsdpAddress = rsdpAddress;
    return in;
}

std::vector<uint8_t> zeroPage(GuestMemory& memory) {
    auto s = memory.slice(layout::kZeroPage, bp::kSize);
    return {s.begin(), s.end()};
}

TEST(LinuxBoot, RecognisesABzImageByItsBootFlagAndHeaderMagic) {
    auto image = makeBzImage();
    EXPECT_TRUE(looksLikeBzImage(image));
    auto noFlag = image;
    noFlag[bp::kBootFlag] = 0;
    EXPECT_FALSE(looksLikeBzImage(noFlag));
    auto noMagic = image;
    noMagic[bp::kHeaderMagic] = 'X';
    EXPECT_FALSE(looksLikeBzImage(noMagic));
    EXPECT_FALSE(looksLikeBzImage(std::span<const uint8_t>(image).first(0x263)));
    EXPECT_FALSE(looksLikeBzImage({}));
}

TEST(LinuxBoot, CopiesThePayloadToOneMiB) {
    GuestMemory memory(512 * kMiB);
    BzImageSpec spec;
    spec.payloadSize = 300 * 1024 + 17;
    auto image = makeBzImage(spec);
    loadLinuxBzImage(memory, inputs(image, "k", "console=ttyS0"));
    auto loaded = memory.slice(layout::kKernelLoad, spec.payloadSize);
    std::vector<uint8_t> expected(image.begin() + 5 * 512, image.end());
    EXPECT_TRUE(std::equal(loaded.begin(), loaded.end(), expected.begin(), expected.end()));
}

TEST(LinuxBoot, SetupSectsZeroMeansFour) {
    GuestMemory memory(64 * kMiB);
    BzImageSpec spec;
    spec.setupSects = 0;
    auto image = makeBzImage(spec);
    loadLinuxBzImage(memory, inputs(image, "k"));
    EXPECT_EQ(memory.readObject<uint8_t>(layout::kKernelLoad), payloadByte(0));
    EXPECT_EQ(memory.readObject<uint8_t>(layout::kKernelLoad + 1000), payloadByte(1000));
}

TEST(LinuxBoot, ReturnsTheSixtyFourBitEntryAndTheZeroPage) {
    GuestMemory memory(512 * kMiB);
    auto image = makeBzImage();
    BootEntry entry = loadLinuxBzImage(memory, inputs(image, "k"));
    EXPECT_EQ(entry.mode, BootEntry::Mode::kLinux64);
    EXPECT_EQ(entry.entry, 0x100000u + 0x200u);
    EXPECT_EQ(entry.bootInfo, layout::kZeroPage);
}

TEST(LinuxBoot, ZeroPageHoldsTheCopiedSetupHeader) {
    GuestMemory memory(512 * kMiB);
    auto image = makeBzImage();
    loadLinuxBzImage(memory, inputs(image, "k", "quiet"));
    auto zp = zeroPage(memory);
    // Fields the loader writes itself.
    auto written = [](size_t off) {
        return off == bp::kTypeOfLoader || off == bp::kLoadFlags ||
               (off >= bp::kHeapEndPtr && off < bp::kHeapEndPtr + 2) ||
               (off >= bp::kCmdLinePtr && off < bp::kCmdLinePtr + 4) ||
               (off >= bp::kRamdiskImage && off < bp::kRamdiskSize + 4);
    };
    for (size_t off = bp::kSetupSects; off < kHeaderEnd; ++off) {
        if (written(off)) continue;
        EXPECT_EQ(zp[off], image[off]) << "offset 0x" << std::hex << off;
    }
    // Below the header only the fields the loader fills are set (no initrd, no RSDP here).
    for (size_t off = 0; off < bp::kSetupSects; ++off) {
        if (off == bp::kE820Entries) continue;
        EXPECT_EQ(zp[off], 0) << "offset 0x" << std::hex << off;
    }
    // Nothing past the header's end comes from the image.
    for (size_t off = kHeaderEnd; off < bp::kE820Table; ++off)
        EXPECT_EQ(zp[off], 0) << "offset 0x" << std::hex << off;
    EXPECT_EQ(load<uint16_t>(&zp[bp::kBootFlag]), 0xaa55);
    EXPECT_EQ(std::memcmp(&zp[bp::kHeaderMagic], "HdrS", 4), 0);
    EXPECT_EQ(load<uint16_t>(&zp[bp::kVersion]), 0x020f);
}

TEST(LinuxBoot, ZeroPageIdentifiesTheLoaderAndItsHeap) {
    GuestMemory memory(512 * kMiB);
    auto image = makeBzImage();
    loadLinuxBzImage(memory, inputs(image, "k"));
    auto zp = zeroPage(memory);
    EXPECT_EQ(zp[bp::kTypeOfLoader], 0xff);
    EXPECT_EQ(zp[bp::kLoadFlags], kLoadedHigh | kCanUseHeap);
    EXPECT_EQ(load<uint16_t>(&zp[bp::kHeapEndPtr]), 0xfe00);
}

TEST(LinuxBoot, CommandLineIsPlacedNulTerminated) {
    GuestMemory memory(512 * kMiB);
    // Stale bytes after the command line must not become part of it.
    std::vector<uint8_t> junk(64, 'x');
    memory.write(layout::kCmdline, junk);
    auto image = makeBzImage();
    const std::string cmdline = "console=ttyS0 root=/dev/vda rw";
    loadLinuxBzImage(memory, inputs(image, "k", cmdline));
    auto zp = zeroPage(memory);
    uint32_t ptr = load<uint32_t>(&zp[bp::kCmdLinePtr]);
    EXPECT_EQ(ptr, layout::kCmdline);
    EXPECT_EQ(load<uint32_t>(&zp[bp::kExtCmdLinePtr]), 0u);
    auto bytes = memory.slice(ptr, cmdline.size() + 1);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes.data())), cmdline);
    EXPECT_EQ(bytes[cmdline.size()], 0);
}

TEST(LinuxBoot, EmptyCommandLineIsAnEmptyString) {
    GuestMemory memory(64 * kMiB);
    auto image = makeBzImage();
    loadLinuxBzImage(memory, inputs(image, "k"));
    EXPECT_EQ(memory.readObject<uint8_t>(layout::kCmdline), 0);
}

TEST(LinuxBoot, InitrdGoesPageAlignedToTheTopOfLowRam) {
    GuestMemory memory(512 * kMiB);
    auto image = makeBzImage();
    auto initrd = patternBytes(3 * kMiB + 123, 0x21);
    loadLinuxBzImage(memory, inputs(image, "k", "", initrd));
    auto zp = zeroPage(memory);
    uint64_t at = load<uint32_t>(&zp[bp::kRamdiskImage]) |
                  (uint64_t{load<uint32_t>(&zp[bp::kExtRamdiskImage])} << 32);
    uint64_t size = load<uint32_t>(&zp[bp::kRamdiskSize]) |
                    (uint64_t{load<uint32_t>(&zp[bp::kExtRamdiskSize])} << 32);
    EXPECT_EQ(size, initrd.size());
    EXPECT_EQ(at % 4096, 0u);
    EXPECT_EQ(at, (512 * kMiB - initrd.size()) & ~0xfffull);
    EXPECT_LE(at + size, 512 * kMiB);
    auto placed = memory.slice(at, size);
    EXPECT_TRUE(std::equal(placed.begin(), placed.end(), initrd.begin(), initrd.end()));
}

TEST(LinuxBoot, InitrdStaysBelowInitrdAddrMax) {
    GuestMemory memory(512 * kMiB);
    BzImageSpec spec;
    spec.initrdAddrMax = 0x0fffffff;  // 256 MiB - 1
    auto image = makeBzImage(spec);
    auto initrd = patternBytes(kMiB + 1, 0x5a);
    loadLinuxBzImage(memory, inputs(image, "k", "", initrd));
    auto zp = zeroPage(memory);
    uint64_t at = load<uint32_t>(&zp[bp::kRamdiskImage]);
    EXPECT_EQ(at, (256 * kMiB - initrd.size()) & ~0xfffull);
    EXPECT_LE(at + initrd.size() - 1, spec.initrdAddrMax);
    auto placed = memory.slice(at, initrd.size());
    EXPECT_TRUE(std::equal(placed.begin(), placed.end(), initrd.begin(), initrd.end()));
}

TEST(LinuxBoot, InitrdOfALargeGuestStaysBelowTheMmioHoleAndAddrMax) {
    GuestMemory memory(5 * kGiB);
    auto image = makeBzImage();
    auto initrd = patternBytes(2 * kMiB, 7);
    loadLinuxBzImage(memory, inputs(image, "k", "", initrd));
    auto zp = zeroPage(memory);
    EXPECT_EQ(load<uint32_t>(&zp[bp::kRamdiskImage]), 0x80000000u - 2 * kMiB);
    EXPECT_EQ(load<uint32_t>(&zp[bp::kExtRamdiskImage]), 0u);
}

TEST(LinuxBoot, NoInitrdLeavesTheRamdiskFieldsZero) {
    GuestMemory memory(64 * kMiB);
    auto image = makeBzImage();
    loadLinuxBzImage(memory, inputs(image, "k"));
    auto zp = zeroPage(memory);
    EXPECT_EQ(load<uint32_t>(&zp[bp::kRamdiskImage]), 0u);
    EXPECT_EQ(load<uint32_t>(&zp[bp::kRamdiskSize]), 0u);
}

TEST(LinuxBoot, ZeroPageCarriesTheRsdpAddress) {
    GuestMemory memory(64 * kMiB);
    auto image = makeBzImage();
    loadLinuxBzImage(memory, inputs(image, "k", "", {}, 0xe0000));
    auto zp = zeroPage(memory);
    EXPECT_EQ(load<uint64_t>(&zp[bp::kAcpiRsdpAddr]), 0xe0000u);

    GuestMemory other(64 * kMiB);
    loadLinuxBzImage(other, inputs(image, "k"));
    EXPECT_EQ(other.readObject<uint64_t>(layout::kZeroPage + bp::kAcpiRsdpAddr), 0u);
}

TEST(LinuxBoot, ZeroPageE820TableEqualsTheMemoryMap) {
    for (uint64_t size : {512 * kMiB, 5 * kGiB}) {
        SCOPED_TRACE(size);
        GuestMemory memory(size);
        auto image = makeBzImage();
        loadLinuxBzImage(memory, inputs(image, "k"));
        auto zp = zeroPage(memory);
        auto map = buildE820Map(memory);
        ASSERT_EQ(zp[bp::kE820Entries], map.size());
        for (size_t i = 0; i < map.size(); ++i) {
            const uint8_t* e = &zp[bp::kE820Table + i * 20];
            EXPECT_EQ(load<uint64_t>(e), map[i].addr) << i;
            EXPECT_EQ(load<uint64_t>(e + 8), map[i].size) << i;
            EXPECT_EQ(load<uint32_t>(e + 16), map[i].type) << i;
        }
        // The slot after the last entry is untouched.
        for (size_t off = 0; off < 20; ++off)
            EXPECT_EQ(zp[bp::kE820Table + map.size() * 20 + off], 0);
    }
}

// --- Rejections -------------------------------------------------------------------------------

void expectUsageError(GuestMemory& memory, const LinuxBootInputs& inputs,
                      const std::string& fragment) {
    auto e = errorFrom([&] { loadLinuxBzImage(memory, inputs); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status(), ExitStatus::kUsage) << e->what();
    EXPECT_TRUE(contains(e->what(), fragment)) << e->what();
}

TEST(LinuxBootRejects, FilesThatAreNotBzImages) {
    GuestMemory memory(64 * kMiB);
    std::vector<uint8_t> elf(4096, 0);
    std::memcpy(elf.data(),
                "\x7f"
                "ELF",
                4);
    expectUsageError(memory, inputs(elf, "/boot/vmlinux"), "/boot/vmlinux");
    expectUsageError(memory, inputs(elf, "/boot/vmlinux"), "not a bzImage");
    std::vector<uint8_t> tiny{0x4d, 0x5a};
    expectUsageError(memory, inputs(tiny, "tiny"), "kernel tiny");
}

TEST(LinuxBootRejects, BootProtocolsOlderThan212) {
    GuestMemory memory(64 * kMiB);
    BzImageSpec spec;
    spec.version = 0x020b;
    auto image = makeBzImage(spec);
    expectUsageError(memory, inputs(image, "old"), "kernel old");
    expectUsageError(memory, inputs(image, "old"), "2.11 is older than 2.12");
    spec.version = 0x020c;
    auto ok = makeBzImage(spec);
    EXPECT_NO_THROW(loadLinuxBzImage(memory, inputs(ok, "ok")));
}

TEST(LinuxBootRejects, KernelsWithoutASixtyFourBitEntry) {
    GuestMemory memory(64 * kMiB);
    BzImageSpec spec;
    spec.xloadFlags = 0x02;  // XLF_CAN_BE_LOADED_ABOVE_4G only
    auto image = makeBzImage(spec);
    expectUsageError(memory, inputs(image, "k32"), "kernel k32");
    expectUsageError(memory, inputs(image, "k32"), "64-bit entry");
}

TEST(LinuxBootRejects, ZImagesNotLoadedHigh) {
    GuestMemory memory(64 * kMiB);
    BzImageSpec spec;
    spec.loadFlags = 0;
    auto image = makeBzImage(spec);
    expectUsageError(memory, inputs(image, "z"), "kernel z");
}

TEST(LinuxBootRejects, TruncatedImages) {
    GuestMemory memory(64 * kMiB);
    BzImageSpec spec;
    spec.setupSects = 30;
    auto image = makeBzImage(spec);
    image.resize(10 * 512);  // the setup claims 31 sectors
    expectUsageError(memory, inputs(image, "cut"), "kernel cut");
    expectUsageError(memory, inputs(image, "cut"), "truncated");
    // Setup only, no payload at all.
    auto noPayload = makeBzImage();
    noPayload.resize(5 * 512);
    expectUsageError(memory, inputs(noPayload, "cut"), "truncated");
}

TEST(LinuxBootRejects, CommandLinesLongerThanTheKernelAccepts) {
    GuestMemory memory(64 * kMiB);
    BzImageSpec spec;
    spec.cmdlineSize = 100;
    auto image = makeBzImage(spec);
    LinuxBootInputs in = inputs(image, "small-cmdline", std::string(150, 'a'));
    expectUsageError(memory, in, "kernel small-cmdline");
    expectUsageError(memory, in, "150 bytes");
    in.cmdline = std::string(101, 'a');
    expectUsageError(memory, in, "accepts 100");
    in.cmdline = std::string(99, 'a');
    EXPECT_NO_THROW(loadLinuxBzImage(memory, in));
}

TEST(LinuxBootRejects, CommandLinesLongerThanTheMonitorsBuffer) {
    GuestMemory memory(64 * kMiB);
    BzImageSpec spec;
    spec.cmdlineSize = 0x100000;
    auto image = makeBzImage(spec);
    LinuxBootInputs in = inputs(image, "k", std::string(0x10000, 'a'));
    expectUsageError(memory, in, "kernel k");
}

TEST(LinuxBoot, AcceptsACommandLineOfExactlyCmdlineSizeCharacters) {
    // boot.rst: cmdline_size is "the maximum size of the command line without the terminating
    // zero", so a command line of cmdline_size characters fits.
    GuestMemory memory(64 * kMiB);
    BzImageSpec spec;
    spec.cmdlineSize = 100;
    auto image = makeBzImage(spec);
    LinuxBootInputs in = inputs(image, "k", std::string(100, 'a'));
    bool accepted = true;
    try {
        loadLinuxBzImage(memory, in);
    } catch (const Error&) {
        accepted = false;
    }
    ASSERT_TRUE(accepted) << "boot.rst allows cmdline_size characters plus the NUL";
    EXPECT_EQ(memory.readObject<uint8_t>(layout::kCmdline + 100), 0);
}

TEST(LinuxBootRejects, GuestMemoryTooSmallForTheKernel) {
    GuestMemory memory(16 * kMiB);
    BzImageSpec spec;
    spec.initSize = 32 * kMiB;
    auto image = makeBzImage(spec);
    expectUsageError(memory, inputs(image, "huge"), "kernel huge");
    expectUsageError(memory, inputs(image, "huge"), "too small");
    // init_size is what counts, not the file size: 15 MiB above 1 MiB exactly fits.
    spec.initSize = 15 * kMiB;
    auto fits = makeBzImage(spec);
    EXPECT_NO_THROW(loadLinuxBzImage(memory, inputs(fits, "fits")));
    spec.initSize = 15 * kMiB + 1;
    auto oneOver = makeBzImage(spec);
    expectUsageError(memory, inputs(oneOver, "over"), "kernel over");
}

TEST(LinuxBootRejects, InitrdsThatDoNotFitAboveTheKernel) {
    GuestMemory memory(16 * kMiB);
    BzImageSpec spec;
    spec.initSize = 4 * kMiB;
    auto image = makeBzImage(spec);
    auto initrd = patternBytes(12 * kMiB, 1);
    LinuxBootInputs in = inputs(image, "k", "", initrd);
    expectUsageError(memory, in, "initrd");
    // Larger than all of low RAM.
    auto giant = patternBytes(17 * kMiB, 1);
    in.initrd = giant;
    expectUsageError(memory, in, "initrd");
    // 11 MiB fits exactly between the kernel's end (5 MiB) and 16 MiB.
    auto exact = patternBytes(11 * kMiB, 1);
    in.initrd = exact;
    EXPECT_NO_THROW(loadLinuxBzImage(memory, in));
    EXPECT_EQ(memory.readObject<uint32_t>(layout::kZeroPage + bp::kRamdiskImage), 5 * kMiB);
}

TEST(LinuxBootRejects, InitrdsThatDoNotFitBelowInitrdAddrMax) {
    GuestMemory memory(512 * kMiB);
    BzImageSpec spec;
    spec.initrdAddrMax = 0x00ffffff;  // 16 MiB - 1
    spec.initSize = 8 * kMiB;
    auto image = makeBzImage(spec);
    auto initrd = patternBytes(8 * kMiB, 1);
    expectUsageError(memory, inputs(image, "k", "", initrd), "initrd");
}

TEST(LinuxBootRejects, InitrdErrorNamesTheKernel) {
    GuestMemory memory(16 * kMiB);
    BzImageSpec spec;
    spec.initSize = 4 * kMiB;
    auto image = makeBzImage(spec);
    auto initrd = patternBytes(12 * kMiB, 1);
    auto e = errorFrom([&] { loadLinuxBzImage(memory, inputs(image, "/k/bzImage", "", initrd)); });
    ASSERT_TRUE(e);
    EXPECT_TRUE(contains(e->what(), "/k/bzImage")) << e->what();
}

// --- The real Debian kernel, when the rig has fetched it -------------------------------------

std::vector<uint8_t> readFile(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(LinuxBootRealKernel, LoadsTheDebianBzImageWithAnInitrd) {
    const std::filesystem::path path = INGOT_RIG_KERNEL;
    if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent";
    auto kernel = readFile(path);
    ASSERT_TRUE(looksLikeBzImage(kernel));
    GuestMemory memory(512 * kMiB);
    auto initrd = patternBytes(8 * kMiB, 0x33);
    BootEntry entry = loadLinuxBzImage(
        memory, inputs(kernel, path.string(), "console=ttyS0 panic=-1", initrd, 0xe0000));
    EXPECT_EQ(entry.mode, BootEntry::Mode::kLinux64);
    EXPECT_EQ(entry.entry, 0x100200u);

    auto zp = zeroPage(memory);
    EXPECT_GE(load<uint16_t>(&zp[bp::kVersion]), 0x020f);
    EXPECT_TRUE(load<uint16_t>(&zp[bp::kXLoadFlags]) & kXlfKernel64);
    uint32_t initrdAddrMax = load<uint32_t>(&zp[bp::kInitrdAddrMax]);
    uint32_t initSize = load<uint32_t>(&zp[bp::kInitSize]);
    uint32_t at = load<uint32_t>(&zp[bp::kRamdiskImage]);
    EXPECT_EQ(load<uint32_t>(&zp[bp::kRamdiskSize]), initrd.size());
    EXPECT_EQ(at % 4096, 0u);
    EXPECT_EQ(at, 512 * kMiB - 8 * kMiB);
    EXPECT_LE(uint64_t{at} + initrd.size() - 1, initrdAddrMax);
    EXPECT_GE(at, 0x100000u + initSize);
    auto placed = memory.slice(at, initrd.size());
    EXPECT_TRUE(std::equal(placed.begin(), placed.end(), initrd.begin(), initrd.end()));

    size_t setupBytes = (size_t{kernel[bp::kSetupSects] ? kernel[bp::kSetupSects] : 4u} + 1) * 512;
    auto loaded = memory.slice(layout::kKernelLoad, kernel.size() - setupBytes);
    EXPECT_TRUE(
        std::equal(loaded.begin(), loaded.end(), kernel.begin() + setupBytes, kernel.end()));
}

}  // namespace
}  // namespace ingot::vmm
