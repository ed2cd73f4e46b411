// The firmware's whole verified-boot path on the host, against images written by core's image
// writer: a good image boots, every kind of tampering is refused with its own reason, and no
// byte of the boot pack can change unnoticed.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "../../support/BootPackLayout.h"
#include "VerifiedBoot.h"
#include "ingot/fw/Sha256.h"
#include "ingot/core/File.h"
#include "ingot/image/BootPack.h"
#include "ingot/image/DiskImage.h"
#include "ingot/sign/Minisign.h"

namespace fw = ingot::fw;
namespace image = ingot::image;
namespace sign = ingot::sign;
using Bytes = std::vector<uint8_t>;

namespace {

constexpr uint64_t kRamBytes = 64ull << 20;
constexpr uint64_t kFirmwareStart = 0x100000, kFirmwareEnd = 0x280000;

// A small but well-formed 64-bit bzImage: the loader reads only the setup header.
Bytes fakeKernel(std::mt19937& rng) {
    Bytes k(5 * 512 + 300 * 1024);
    for (auto& b : k) b = static_cast<uint8_t>(rng());
    std::memset(k.data() + 0x1f1, 0, 0x270 - 0x1f1);
    k[0x1f1] = 4;
    k[0x1fe] = 0x55, k[0x1ff] = 0xaa;
    k[0x200] = 0xeb, k[0x201] = 0x6a;
    std::memcpy(&k[0x202], "HdrS", 4);
    k[0x206] = 0x0f, k[0x207] = 0x02;
    k[0x211] = 0x01;
    uint32_t initrdMax = 0x7fffffff, alignment = 0x200000, cmdlineSize = 2047, initSize = 4 << 20;
    std::memcpy(&k[0x22c], &initrdMax, 4);
    std::memcpy(&k[0x230], &alignment, 4);
    k[0x234] = 1;
    k[0x236] = 0x03;
    std::memcpy(&k[0x238], &cmdlineSize, 4);
    uint64_t pref = 16 << 20;
    std::memcpy(&k[0x258], &pref, 8);
    std::memcpy(&k[0x260], &initSize, 4);
    return k;
}

class MemoryDisk final : public fw::BlockDevice {
public:
    explicit MemoryDisk(const Bytes& bytes) : bytes_(bytes) {}
    uint64_t sector_count() const override { return bytes_.size() / kSectorSize; }
    bool read(uint64_t sector, uint32_t count, void* buffer) override {
        if (sector + count > sector_count()) return false;
        std::memcpy(buffer, bytes_.data() + sector * kSectorSize, size_t{count} * kSectorSize);
        return true;
    }

private:
    const Bytes& bytes_;
};

class HostRam final : public fw::GuestRam {
public:
    // Left uninitialised (like RAM) so that only the pages a boot touches cost anything.
    HostRam() : bytes_(new uint8_t[kRamBytes]) {}
    uint8_t* at(uint64_t paddr, uint64_t size) override {
        return paddr + size <= kRamBytes ? bytes_.get() + paddr : nullptr;
    }

private:
    std::unique_ptr<uint8_t[]> bytes_;
};

struct Outcome {
    bool booted;
    fw::BootError error;
    fw::BootPlan plan;
    std::string cmdline;
};

class VerifiedBoot : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                         ("ingot-fw-boot-" + std::to_string(getpid())));
        std::filesystem::create_directories(*dir_);
        std::mt19937 rng(7);
        auto kernel = fakeKernel(rng);
        Bytes initrd(200 * 1024 + 3);
        for (auto& b : initrd) b = static_cast<uint8_t>(rng());
        ingot::writeFileAtomically((*dir_ / "kernel").string(), std::string(kernel.begin(), kernel.end()));
        ingot::writeFileAtomically((*dir_ / "initrd").string(), std::string(initrd.begin(), initrd.end()));
        key_ = new sign::MinisignSecretKey(sign::generateMinisignKey());
        otherKey_ = new sign::MinisignSecretKey(sign::generateMinisignKey());
        good_ = new Bytes(makeImage(*key_, "good"));
        otherSigned_ = new Bytes(makeImage(*otherKey_, "other"));
    }
    static void TearDownTestSuite() {
        std::filesystem::remove_all(*dir_);
        delete dir_;
        delete key_;
        delete otherKey_;
        delete good_;
        delete otherSigned_;
    }

    static image::DiskImageInput input(bool withInitrd = true) {
        image::DiskImageInput in;
        in.name = "test/fw";
        in.version = "1";
        in.cmdline = "console=ttyS0 quiet";
        in.kernelPath = (*dir_ / "kernel").string();
        if (withInitrd) in.initrdPath = (*dir_ / "initrd").string();
        return in;
    }
    static Bytes makeImage(const sign::MinisignSecretKey& key, const std::string& file,
                           bool withInitrd = true) {
        auto path = (*dir_ / (file + ".img")).string();
        lastImage_ = image::writeDiskImage(input(withInitrd), key, path);
        auto text = ingot::readWholeFile(path, "test image", 1ull << 30);
        return Bytes(text.begin(), text.end());
    }

    static Outcome boot(const Bytes& disk, const std::vector<sign::MinisignPublicKey>& trusted) {
        MemoryDisk device(disk);
        HostRam ram;
        fw::MemoryMap map;
        EXPECT_TRUE(map.add(0, 0x9fc00, fw::kE820Ram));
        EXPECT_TRUE(map.add(0x100000, kRamBytes - 0x100000, fw::kE820Ram));
        EXPECT_TRUE(map.reserve(0, 0x100000));
        EXPECT_TRUE(map.reserve(kFirmwareStart, kFirmwareEnd - kFirmwareStart));
        fw::TrustedKeys keys;
        std::string keyText;
        for (const auto& k : trusted) keyText += sign::formatPublicKey(k);
        fw::BootError error;
        EXPECT_TRUE(fw::parse_trusted_keys(fw::ByteView(keyText.data(), keyText.size()), &keys, &error))
            << error.message.c_str();
        auto scratch = std::make_unique<fw::BootScratch>();
        Bytes bounce(64 * 1024);
        std::string extra = "virtio_mmio.device=512@0xd0000000:5";
        fw::BootInputs in{&device, &ram, &map, &keys, fw::ByteView(extra.data(), extra.size()),
                          0xe0000, bounce.data(), bounce.size(), scratch.get()};
        Outcome o{};
        o.booted = fw::verified_boot(in, &o.plan, &o.error);
        if (o.booted) {
            const uint8_t* zp = ram.at(o.plan.boot_params, 4096);
            uint64_t cmdline = fw::load_le32(zp + 0x228) | (uint64_t{fw::load_le32(zp + 0xc8)} << 32);
            o.cmdline = reinterpret_cast<const char*>(ram.at(cmdline, 1));
        }
        return o;
    }
    static Outcome bootTrustingKey(const Bytes& disk) { return boot(disk, {key_->publicPart()}); }

    static uint64_t bootOffset() { return lastLayoutBootFirstLba() * 512; }
    static uint64_t lastLayoutBootFirstLba() { return lastImage_.manifest.partitions.at(0).firstLba; }
    static uint64_t memberOffset(const Bytes&, const std::string& name) {
        return ingot::testing::bootPackMemberOffset(lastImage_, name);
    }

    static inline std::filesystem::path* dir_;
    static inline sign::MinisignSecretKey* key_;
    static inline sign::MinisignSecretKey* otherKey_;
    static inline Bytes* good_;
    static inline Bytes* otherSigned_;
    static inline image::DiskImage lastImage_;
};

// Rewrites GPT entry `index` and both CRCs, as an attacker who knows the format would.
void rewriteGptEntry(Bytes& disk, unsigned index, const std::function<void(uint8_t*)>& change) {
    uint8_t* header = disk.data() + 512;
    uint64_t entriesLba = fw::load_le64(header + 72);
    uint32_t count = fw::load_le32(header + 80), size = fw::load_le32(header + 84);
    uint8_t* entries = disk.data() + entriesLba * 512;
    change(entries + index * size);
    fw::store_le32(header + 88, static_cast<uint32_t>(crc32(0, entries, count * size)));
    fw::store_le32(header + 16, 0);
    fw::store_le32(header + 16, static_cast<uint32_t>(crc32(0, header, fw::load_le32(header + 12))));
}

}  // namespace

TEST_F(VerifiedBoot, GoodImageBootsWithMeasuredCommandLine) {
    auto o = bootTrustingKey(*good_);
    ASSERT_TRUE(o.booted) << fw::refusal_name(o.error.reason) << ": " << o.error.message.c_str();
    EXPECT_EQ(o.plan.kernel_paddr, 16u << 20) << "the kernel's preferred address was free";
    EXPECT_EQ(o.plan.entry, o.plan.kernel_paddr + 0x200);
    EXPECT_EQ(o.plan.initrd_size, 200u * 1024 + 3);
    EXPECT_EQ(o.plan.initrd_paddr % 4096, 0u);
    EXPECT_LE(o.plan.initrd_paddr + o.plan.initrd_size, kRamBytes);
    EXPECT_TRUE(o.cmdline.starts_with("console=ttyS0 quiet virtio_mmio.device=512@0xd0000000:5"))
        << o.cmdline;
    auto at = o.cmdline.find(" ingot.measurement=");
    ASSERT_NE(at, std::string::npos) << o.cmdline;
    EXPECT_EQ(o.cmdline.size() - at, 19u + 64);

    // The measurement is the documented chain over manifest, key, kernel, initrd, command line.
    auto sha = [](const void* p, size_t n) {
        std::array<uint8_t, 32> d{};
        fw::Sha256::hash(p, n, d.data());
        return d;
    };
    std::array<uint8_t, 32> m{};
    auto extend = [&](const std::array<uint8_t, 32>& digest) {
        uint8_t both[64];
        std::memcpy(both, m.data(), 32);
        std::memcpy(both + 32, digest.data(), 32);
        m = sha(both, 64);
    };
    auto pub = key_->publicPart();
    uint8_t keyRecord[42] = {'E', 'd'};
    std::memcpy(keyRecord + 2, pub.keyId.data(), 8);
    std::memcpy(keyRecord + 10, pub.key.data(), 32);
    auto kernel = ingot::readWholeFile((*dir_ / "kernel").string(), "kernel", 1 << 30);
    auto initrd = ingot::readWholeFile((*dir_ / "initrd").string(), "initrd", 1 << 30);
    auto manifestOffset = memberOffset(*good_, "manifest.json");
    std::string manifestText(good_->begin() + static_cast<long>(manifestOffset),
                             good_->begin() + static_cast<long>(manifestOffset) +
                                 static_cast<long>(lastImage_.manifestText.size()));
    extend(sha(manifestText.data(), manifestText.size()));
    extend(sha(keyRecord, sizeof keyRecord));
    extend(sha(kernel.data(), kernel.size()));
    extend(sha(initrd.data(), initrd.size()));
    std::string measured = o.cmdline.substr(0, at);
    extend(sha(measured.data(), measured.size()));
    EXPECT_EQ(std::memcmp(m.data(), o.plan.measurement, 32), 0);
}

TEST_F(VerifiedBoot, ImageWithoutInitrdBoots) {
    auto disk = makeImage(*key_, "no-initrd", false);
    auto o = bootTrustingKey(disk);
    ASSERT_TRUE(o.booted) << o.error.message.c_str();
    EXPECT_EQ(o.plan.initrd_size, 0u);
}

TEST_F(VerifiedBoot, EachTamperingHasItsOwnRefusal) {
    (void)makeImage(*key_, "layout");  // lastImage_ describes the good image's layout again
    struct Case {
        const char* what;
        std::function<void(Bytes&)> tamper;
        fw::Refusal expected;
    };
    std::vector<Case> cases = {
        {"manifest byte", [](Bytes& d) { d[memberOffset(d, "manifest.json") + 10] ^= 0x01; },
         fw::Refusal::kBadSignature},
        {"signature byte", [](Bytes& d) {
             // Line 2, well inside the Ed25519 signature: swap one base64 letter for another.
             uint64_t at = memberOffset(d, "manifest.json.minisig");
             while (d[at] != '\n') ++at;
             d[at + 60] = d[at + 60] == 'A' ? 'B' : 'A';
         }, fw::Refusal::kBadSignature},
        {"kernel byte", [](Bytes& d) { d[memberOffset(d, "kernel") + 100'000] ^= 0x80; },
         fw::Refusal::kKernelDigest},
        {"initrd byte", [](Bytes& d) { d[memberOffset(d, "initrd") + 5] ^= 0x01; },
         fw::Refusal::kInitrdDigest},
        {"GPT entry byte", [](Bytes& d) { d[2 * 512 + 60] ^= 0x01; }, fw::Refusal::kBadGpt},
        {"GPT entry rewritten with valid CRCs", [](Bytes& d) {
             rewriteGptEntry(d, 0, [](uint8_t* e) { e[16] ^= 0x01; });  // unique GUID
         }, fw::Refusal::kGptMismatch},
        {"GPT partition end moved", [](Bytes& d) {
             rewriteGptEntry(d, 0, [](uint8_t* e) { fw::store_le64(e + 40, fw::load_le64(e + 40) - 1); });
         }, fw::Refusal::kGptMismatch},
        {"truncated disk", [](Bytes& d) { d.resize(d.size() / 2 / 512 * 512); }, fw::Refusal::kDiskError},
        {"byte after the trailer", [](Bytes& d) {
             d[bootOffset() + ((lastImage_.bootPackBytes + 511) / 512) * 512 + 7] = 1;
         }, fw::Refusal::kBadBootPack},
    };
    for (const auto& c : cases) {
        Bytes disk = *good_;
        c.tamper(disk);
        auto o = bootTrustingKey(disk);
        EXPECT_FALSE(o.booted) << c.what;
        EXPECT_EQ(o.error.reason, c.expected)
            << c.what << ": got " << fw::refusal_name(o.error.reason) << ": " << o.error.message.c_str();
        EXPECT_GT(o.error.message.size(), 10u) << c.what;
    }
}

TEST_F(VerifiedBoot, KeysDecide) {
    auto o = bootTrustingKey(*otherSigned_);
    EXPECT_EQ(o.error.reason, fw::Refusal::kUnknownKey) << o.error.message.c_str();
    EXPECT_NE(std::string(o.error.message.c_str()).find("not trusted"), std::string::npos);
    o = boot(*good_, {});
    EXPECT_EQ(o.error.reason, fw::Refusal::kNoTrustedKey);
    o = boot(*otherSigned_, {key_->publicPart(), otherKey_->publicPart()});
    EXPECT_TRUE(o.booted) << "any trusted key will do: " << o.error.message.c_str();
}

TEST_F(VerifiedBoot, UnsignedImageIsRefusedAsUnsigned) {
    // The good image's pack again, without its signature member.
    Bytes disk = *good_;
    auto manifestAt = memberOffset(disk, "manifest.json");
    std::string manifest(disk.begin() + static_cast<long>(manifestAt),
                         disk.begin() + static_cast<long>(manifestAt + lastImage_.manifestText.size()));
    std::vector<image::BootPackMember> members{
        image::BootPackMember::fromBytes("manifest.json", manifest),
        image::BootPackMember::fromFile("kernel", (*dir_ / "kernel").string(),
                                        std::filesystem::file_size(*dir_ / "kernel")),
        image::BootPackMember::fromFile("initrd", (*dir_ / "initrd").string(),
                                        std::filesystem::file_size(*dir_ / "initrd"))};
    auto pack = image::buildBootPack(members);
    std::fill(disk.begin() + static_cast<long>(bootOffset()),
              disk.begin() + static_cast<long>(bootOffset() + lastImage_.bootPackBytes), 0);
    std::copy(pack.begin(), pack.end(), disk.begin() + static_cast<long>(bootOffset()));
    auto o = bootTrustingKey(disk);
    EXPECT_EQ(o.error.reason, fw::Refusal::kUnsigned) << o.error.message.c_str();
}

TEST_F(VerifiedBoot, NoByteOfTheBootPackChangesUnnoticed) {
    (void)makeImage(*key_, "layout");
    uint64_t start = bootOffset();
    uint64_t packEnd = start + lastImage_.bootPackBytes;
    std::mt19937_64 rng(2026);
    // Headers and small members are dense with meaning: sample them more than the big files.
    std::vector<uint64_t> offsets;
    for (uint64_t o = start; o < start + 4096; o += 13) offsets.push_back(o);
    for (int i = 0; i < 200; ++i) offsets.push_back(start + rng() % (packEnd - start + 4096));
    for (uint64_t offset : offsets) {
        Bytes disk = *good_;
        disk[offset] ^= static_cast<uint8_t>(1u << (rng() % 8));
        auto o = bootTrustingKey(disk);
        EXPECT_FALSE(o.booted) << "flip at disk offset " << offset << " (pack offset " << offset - start
                               << ") went unnoticed";
    }
}
