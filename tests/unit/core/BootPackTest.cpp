// The boot pack against its definition in docs/image-format.md: the expected bytes are built
// here by hand from the document, so any change in libarchive's output (hex case, trailer
// fields, inode numbering, padding, block padding) fails the golden tests.
#include <gtest/gtest.h>

#include <cstdio>

#include "CoreTestSupport.h"
#include "ingot/fw/Cpio.h"
#include "ingot/image/BootPack.h"

namespace ingot::image {
namespace {

using test::Bytes;

// One newc header as the document spells it out.
std::string header(uint32_t ino, uint32_t mode, uint32_t nlink, uint32_t filesize,
                   const std::string& name) {
    char fields[13 * 8 + 1];
    std::snprintf(fields, sizeof fields, "%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
                  ino, mode, 0u, 0u, nlink, 0u, filesize, 0u, 0u, 0u, 0u,
                  static_cast<uint32_t>(name.size() + 1), 0u);
    std::string h = "070701" + std::string(fields) + name + '\0';
    while (h.size() % 4) h += '\0';
    return h;
}

std::string padded(std::string data) {
    while (data.size() % 4) data += '\0';
    return data;
}

// The canonical pack of (name, contents) pairs, per the document.
Bytes expectedPack(const std::vector<std::pair<std::string, std::string>>& members) {
    std::string pack;
    uint32_t ino = 1;
    for (const auto& [name, data] : members) {
        pack += header(ino++, 0100644, 1, static_cast<uint32_t>(data.size()), name);
        pack += padded(data);
    }
    pack += header(0, 0, 1, 0, "TRAILER!!!");
    return Bytes(pack.begin(), pack.end());
}

void expectSameBytes(const Bytes& actual, const Bytes& expected) {
    ASSERT_EQ(actual.size(), expected.size());
    auto [a, e] = std::mismatch(actual.begin(), actual.end(), expected.begin());
    EXPECT_TRUE(a == actual.end())
        << "first difference at byte " << (a - actual.begin()) << ": libarchive wrote 0x"
        << std::hex << int(*a) << ", the format says 0x" << int(*e);
}

TEST(BootPack, FirstHeaderLiterally) {
    Bytes pack = buildBootPack({BootPackMember::fromBytes("manifest.json", "{}")});
    std::string text(pack.begin(), pack.end());
    EXPECT_EQ(text.substr(0, 110),
              "070701"
              "00000001"    // ino
              "000081a4"    // mode 0100644, lower-case hex
              "00000000"    // uid
              "00000000"    // gid
              "00000001"    // nlink
              "00000000"    // mtime
              "00000002"    // filesize
              "00000000"    // devmajor
              "00000000"    // devminor
              "00000000"    // rdevmajor
              "00000000"    // rdevminor
              "0000000e"    // namesize: 13 + NUL
              "00000000");  // check
    // 110 + 14 = 124: already a multiple of 4, so the data follows at once, then 2 zero bytes.
    EXPECT_EQ(text.substr(110, 14), std::string("manifest.json") + '\0');
    EXPECT_EQ(text.substr(124, 4), std::string("{}\0\0", 4));
    EXPECT_EQ(text.substr(128, 6), "070701");
    EXPECT_EQ(text.size(), 128u + 124u) << "trailer header + name \"TRAILER!!!\" padded to 124";
}

TEST(BootPack, GoldenBytesWithEveryPaddingResidue) {
    test::TempDir dir;
    // Sizes 4k+0..3 for the data, and names whose header padding differs.
    std::string manifest = R"({"format":1,"name":"x"})";  // 23 bytes
    std::string signature = test::randomBytes(201, 1);
    std::string kernel = test::randomBytes(70000, 2);  // 70000 % 4 == 0
    std::string initrd = test::randomBytes(4099, 3);   // 4099 % 4 == 3
    test::writeFile(dir.file("kernel"), kernel);
    test::writeFile(dir.file("initrd"), initrd);

    auto members = ingotBootPackMembers(manifest, signature, {dir.file("kernel"), kernel.size()},
                                        BootPackFile{dir.file("initrd"), initrd.size()});
    Bytes expected = expectedPack({{"manifest.json", manifest},
                                   {"manifest.json.minisig", signature},
                                   {"kernel", kernel},
                                   {"initrd", initrd}});
    Bytes pack = buildBootPack(members);
    expectSameBytes(pack, expected);
    EXPECT_EQ(bootPackSize(members), expected.size());

    for (size_t extra : {1, 2, 3}) {
        std::string odd = test::randomBytes(extra, extra);
        expectSameBytes(
            buildBootPack(
                {BootPackMember::fromBytes("a", odd), BootPackMember::fromBytes("bb", odd),
                 BootPackMember::fromBytes("ccc", odd), BootPackMember::fromBytes("dddd", "")}),
            expectedPack({{"a", odd}, {"bb", odd}, {"ccc", odd}, {"dddd", ""}}));
    }
}

TEST(BootPack, WithoutInitrdAndReadByTheFirmwareReader) {
    test::TempDir dir;
    std::string kernel = test::randomBytes(12345, 4);
    test::writeFile(dir.file("vmlinuz"), kernel);
    auto members =
        ingotBootPackMembers("{}", "sig\n", {dir.file("vmlinuz"), kernel.size()}, std::nullopt);
    Bytes pack = buildBootPack(members);
    expectSameBytes(pack, expectedPack({{"manifest.json", "{}"},
                                        {"manifest.json.minisig", "sig\n"},
                                        {"kernel", kernel}}));

    fw::CpioReader reader(test::view(pack));
    fw::CpioEntry entry;
    const char* names[] = {"manifest.json", "manifest.json.minisig", "kernel"};
    for (uint32_t i = 0; i < 3; ++i) {
        ASSERT_EQ(reader.next(&entry), fw::CpioStatus::kOk);
        EXPECT_EQ(test::asString(entry.name), names[i]);
        EXPECT_EQ(entry.inode, i + 1);
        EXPECT_EQ(entry.mode, 0100644u);
        EXPECT_EQ(entry.link_count, 1u);
        EXPECT_EQ(entry.mtime, 0u);
        EXPECT_EQ(entry.uid + entry.gid + entry.dev_major + entry.dev_minor + entry.rdev_major +
                      entry.rdev_minor,
                  0u);
    }
    EXPECT_EQ(reader.next(&entry), fw::CpioStatus::kEnd);
    // The reader stops right after the trailer's name; its padding to 4 bytes ends the pack.
    EXPECT_EQ((reader.offset() + 3) & ~size_t{3}, pack.size()) << "nothing after the trailer";

    ASSERT_EQ(fw::cpio_find(test::view(pack), test::view(std::string_view("kernel")), &entry),
              fw::CpioStatus::kOk);
    EXPECT_EQ(test::asString(entry.data), kernel);
}

TEST(BootPack, ReturnsDigestsOfWhatItStreamed) {
    test::TempDir dir;
    std::string kernel = test::randomBytes(3 << 20, 5);  // several read chunks
    test::writeFile(dir.file("kernel"), kernel);
    Bytes pack;
    auto digests = writeBootPack(
        ingotBootPackMembers("m", "s", {dir.file("kernel"), kernel.size()}, std::nullopt),
        [&](const void* data, size_t size) {
            pack.insert(pack.end(), static_cast<const uint8_t*>(data),
                        static_cast<const uint8_t*>(data) + size);
        });
    ASSERT_EQ(digests.size(), 3u);
    EXPECT_EQ(digests[0], sha256("m"));
    EXPECT_EQ(digests[1], sha256("s"));
    EXPECT_EQ(digests[2], sha256(kernel));
}

TEST(BootPack, RefusesBadMembers) {
    test::TempDir dir;
    test::writeFile(dir.file("short"), "abc");
    using M = BootPackMember;
    test::expectError([] { buildBootPack({M::fromBytes("", "x")}); }, {"empty name"});
    test::expectError([] { buildBootPack({M::fromBytes("TRAILER!!!", "x")}); }, {"reserved"});
    test::expectError([] { buildBootPack({M::fromBytes("a b", "x")}); }, {"'a b'", "ASCII"});
    test::expectError(
        [] {
            buildBootPack({M::fromBytes("a", "x"), M::fromBytes("a", "y")});
        },
        {"'a'", "twice"});
    test::expectError([&] { buildBootPack({M::fromFile("kernel", dir.file("short"), 4)}); },
                      {"kernel", dir.file("short"), "changed size"});
    test::expectError([&] { buildBootPack({M::fromFile("kernel", dir.file("short"), 2)}); },
                      {"changed size"});
    test::expectError([&] { buildBootPack({M::fromFile("initrd", dir.file("missing"), 2)}); },
                      {"cannot read initrd", "missing", "No such file"});
    test::expectError([] { buildBootPack({M::fromFile("big", "/dev/null", 1ull << 32)}); },
                      {"at most 4 GiB"});
}

TEST(BootPack, PassesOnTheSinksException) {
    std::vector<BootPackMember> members = {BootPackMember::fromBytes("a", "x")};
    EXPECT_THROW(writeBootPack(members, [](const void*, size_t) { throw Error("disk full"); }),
                 Error);
    test::expectError(
        [&] { writeBootPack(members, [](const void*, size_t) { throw Error("disk full"); }); },
        {"disk full"});
}

}  // namespace
}  // namespace ingot::image
