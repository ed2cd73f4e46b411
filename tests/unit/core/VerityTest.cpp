// dm-verity trees: sizes and bytes exactly as `veritysetup format` writes them (the digests below
// were taken from cryptsetup 2.6.1 over the same data; tests/interop/verity runs it live), the
// verifier accepting them, and every kind of corruption or hostile input refused with an
// ingot::Error that names the block.
#include "ingot/image/Verity.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>

#include "CoreTestSupport.h"

namespace ingot::image {
namespace {

using test::Bytes;

// Block i holds the little-endian word i * 2654435761 (mod 2^32), repeated.
void patternBlock(uint64_t index, uint8_t* out, size_t size) {
    uint32_t word = static_cast<uint32_t>(index * 2654435761u);
    for (size_t at = 0; at < size; at += 4)
        for (size_t k = 0; k < 4; ++k) out[at + k] = static_cast<uint8_t>(word >> (8 * k));
}

Bytes patternData(uint64_t blocks, size_t blockSize = kVerityBlockSize) {
    Bytes data(blocks * blockSize);
    for (uint64_t i = 0; i < blocks; ++i) patternBlock(i, data.data() + i * blockSize, blockSize);
    return data;
}

VerityParams sampleParams(uint64_t blocks) {
    VerityParams params;
    params.dataBlocks = blocks;
    for (uint8_t i = 0; i < 32; ++i) params.salt.push_back(i);
    params.uuid = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                   0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    return params;
}

struct Built {
    VerityTree tree;
    Bytes area;
};

// Builds in memory from the pattern, checking that the sink writes each area byte once.
Built build(const VerityParams& params) {
    VerityLayout layout = verityLayout(params);
    Built built;
    built.area.assign(layout.areaBytes, 0);
    std::vector<uint8_t> written(layout.areaBytes, 0);
    VerityTreeBuilder builder(params, [&](uint64_t offset, const uint8_t* data, size_t size) {
        ASSERT_LE(offset + size, built.area.size());
        std::memcpy(built.area.data() + offset, data, size);
        for (size_t i = 0; i < size; ++i) ++written[offset + i];
    });
    Bytes block(params.dataBlockSize);
    for (uint64_t i = 0; i < params.dataBlocks; ++i) {
        patternBlock(i, block.data(), block.size());
        builder.addBlock(block.data());
    }
    built.tree = builder.finish();
    EXPECT_TRUE(std::all_of(written.begin(), written.end(), [](uint8_t n) { return n == 1; }));
    return built;
}

std::string hex(const Bytes& bytes) {
    return toHex(
        sha256(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
}

struct PeerCase {
    uint64_t blocks;
    uint64_t treeBlocks;
    std::vector<uint64_t> levelBlocks;
    const char* rootHash;
    const char* areaSha256;  // of veritysetup's whole hash file
};

TEST(Verity, MatchesVeritysetupForEveryTreeShape) {
    const PeerCase cases[] = {
        {1,
         0,
         {},
         "4ce3ecf32c133bf6321901b6092219474b6ac91a19d0304621d629e6bb9987dc",
         "65d91df5f86d11c33b49464fa434156904972bd8fae1d81ffe21eaae7d1554f2"},
        {2,
         1,
         {1},
         "657799b2d4c6a2c1ea2ba98dee7b8a54c40fdcd5680ed03193b983d41a0f530f",
         "dcb56782b094da19e89c70209a8ace006a972ea088ef9967c1d59b81bb96c4a5"},
        {128,
         1,
         {1},
         "e4476576d9bc045ee4c51727b6e5672a069a429433cabe982c4bdca1e9805237",
         "c0df147e24ffd8b3dc2c3677e4bfa2ac5af2d0da51be2f77b48c2101fe1876e7"},
        {129,
         3,
         {2, 1},
         "ac0da31da5d8018dcbdfbb2834409a65c7258dfcdea561e0cf2db920db3395a4",
         "f14e4272299bab4ce08b161c1f2c0e2a7a01d4f7e47216360cf3028bfec1a888"},
        {16385,
         132,
         {129, 2, 1},
         "2b756876c4ca3fc8223fe016e50e83cca0d3315429cdcb61892604922feb70c5",
         "904bb3be56663907200ed99423ca7a637aacce37158bf647400b4db670409bd0"},
    };
    for (const PeerCase& c : cases) {
        SCOPED_TRACE(c.blocks);
        VerityParams params = sampleParams(c.blocks);
        VerityLayout layout = verityLayout(params);
        EXPECT_EQ(layout.hashOffset, 4096u);
        EXPECT_EQ(layout.treeBlocks, c.treeBlocks);
        EXPECT_EQ(layout.treeBytes, c.treeBlocks * 4096);
        EXPECT_EQ(layout.areaBytes, (c.treeBlocks + 1) * 4096);
        EXPECT_EQ(layout.levelBlocks, c.levelBlocks);
        // Top level first, right after the superblock's block; level 0 last.
        uint64_t next = 1;
        for (size_t level = layout.levels(); level-- > 0;) {
            EXPECT_EQ(layout.levelFirstBlock[level], next);
            next += layout.levelBlocks[level];
        }
        Built built = build(params);
        EXPECT_EQ(toHex(built.tree.rootHash), c.rootHash);
        EXPECT_EQ(hex(built.area), c.areaSha256);
    }
}

TEST(Verity, MatchesVeritysetupWithSmallBlocks) {
    VerityParams params;
    params.dataBlockSize = 512;
    params.hashBlockSize = 512;
    params.dataBlocks = 72;
    params.salt = {0xab, 0xcd};
    params.uuid = sampleParams(1).uuid;
    VerityLayout layout = verityLayout(params);
    EXPECT_EQ(layout.hashOffset, 512u);
    EXPECT_EQ(layout.levelBlocks, (std::vector<uint64_t>{5, 1}));
    EXPECT_EQ(layout.areaBytes, 3584u);
    Built built = build(params);
    EXPECT_EQ(toHex(built.tree.rootHash),
              "5c2ed0272411db2893d483f6ef776c474f438008a60f94249f873eccecb63d25");
    EXPECT_EQ(hex(built.area), "4b25f3aedb5ba4d59d97530bc30177d9ab5b75598e8bccff3888e428d4bc9065");
}

TEST(Verity, SuperblockRoundTrips) {
    VerityParams params = sampleParams(129);
    auto sb = veritySuperblock(params);
    EXPECT_EQ(std::memcmp(sb.data(), "verity\0\0", 8), 0);
    EXPECT_EQ(parseVeritySuperblock(sb.data(), sb.size(), "sb"), params);
    Built built = build(params);
    EXPECT_TRUE(std::equal(sb.begin(), sb.end(), built.area.begin()));
    EXPECT_TRUE(std::all_of(built.area.begin() + 512, built.area.begin() + 4096,
                            [](uint8_t b) { return b == 0; }));
}

TEST(Verity, SuperblockCorruptionIsRefusedNamingTheByte) {
    auto good = veritySuperblock(sampleParams(129));
    struct Case {
        size_t offset;
        uint8_t value;
        const char* message;
    };
    const Case cases[] = {
        {0, 'V', "byte 0: no \"verity\" signature"},
        {8, 2, "byte 8: version 2"},
        {12, 0, "byte 12: hash type 0"},
        {37, 'x', "byte 32: algorithm"},
        {70, 0x20, "hash block size"},  // 0x201000: not a power of two in range
        {64, 0x01, "data block size"},
        {80, 0x01, "byte 89: padding"},  // salt size 1: the rest of the salt is not padding
        {81, 0x01, "byte 80: salt size 288 exceeds 256"},
        {84, 1, "byte 84: padding"},
        {88 + 32, 1, "byte 120: padding"},
        {511, 1, "byte 511: padding"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.offset);
        auto bad = good;
        bad[c.offset] = c.value;
        test::expectError([&] { parseVeritySuperblock(bad.data(), bad.size(), "hash.img"); },
                          {"hash.img", c.message});
    }
    auto zeroBlocks = good;
    std::fill(zeroBlocks.begin() + 72, zeroBlocks.begin() + 80, 0);
    test::expectError([&] { parseVeritySuperblock(zeroBlocks.data(), 512, "sb"); },
                      {"0 data blocks"});
    test::expectError([&] { parseVeritySuperblock(good.data(), 511, "sb"); }, {"too short"});
}

TEST(Verity, VerifierAcceptsEveryBlockAndCachesHashBlocks) {
    VerityParams params = sampleParams(300);
    Built built = build(params);
    VerityVerifier verifier(params, built.tree.rootHash, built.area, "tree");
    Bytes data = patternData(300);
    // Backwards and forwards, so cached and freshly read hash blocks both serve.
    for (uint64_t i = 300; i-- > 0;) verifier.verifyBlock(i, data.data() + i * 4096);
    for (uint64_t i = 0; i < 300; ++i) verifier.verifyBlock(i, data.data() + i * 4096);

    VerityParams one = sampleParams(1);
    Built single = build(one);
    VerityVerifier rootOnly(one, single.tree.rootHash, single.area, "tree");
    rootOnly.verifyBlock(0, data.data());
    try {
        rootOnly.verifyBlock(0, data.data() + 4096);
        ADD_FAILURE() << "a different block passed";
    } catch (const VerityError& e) {
        EXPECT_EQ(e.kind(), VerityError::Kind::kDataBlock);
        EXPECT_EQ(e.block(), 0u);
    }
}

TEST(Verity, CorruptDataBlockIsNamed) {
    VerityParams params = sampleParams(16385);
    Built built = build(params);
    VerityVerifier verifier(params, built.tree.rootHash, built.area, "tree");
    Bytes block(4096);
    patternBlock(16384, block.data(), block.size());
    verifier.verifyBlock(16384, block.data());
    block[4095] ^= 1;
    try {
        verifier.verifyBlock(16384, block.data());
        ADD_FAILURE() << "corrupt block passed";
    } catch (const VerityError& e) {
        EXPECT_EQ(e.kind(), VerityError::Kind::kDataBlock);
        EXPECT_EQ(e.block(), 16384u);
        EXPECT_EQ(e.offset(), 16384u * 4096);
        EXPECT_NE(std::string(e.what()).find("data block 16384"), std::string::npos) << e.what();
        EXPECT_EQ(e.status(), ExitStatus::kVerification);
    }
}

TEST(Verity, VerifyAllOverAFileNamesTheFirstBadBlockAndItsFileByte) {
    test::TempDir dir;
    Bytes data = patternData(260);
    test::writeFile(dir.file("data"), data);
    VerityParams params = sampleParams(0);
    VerityTree tree = writeVerityHashFile(dir.file("data"), dir.file("hash"), params);
    EXPECT_EQ(tree.params.dataBlocks, 260u);
    Built built = build(tree.params);
    EXPECT_EQ(test::readFile(dir.file("hash")), built.area);
    EXPECT_EQ(tree.rootHash, built.tree.rootHash);

    VerityVerifier verifier(tree.params, tree.rootHash, test::readFile(dir.file("hash")), "hash");
    EXPECT_EQ(verifier.verifyAll(dir.file("data")), 260u);

    data[200 * 4096 + 17] ^= 0x80;
    data[250 * 4096] ^= 0x80;
    test::writeFile(dir.file("data"), data);
    test::expectError([&] { verifier.verifyAll(dir.file("data")); },
                      {dir.file("data"), "block 200 ", "file byte 819200", "does not match"});

    // The same through a file descriptor at an offset, as the image reader uses it.
    Bytes padded(8192, 0);
    padded.insert(padded.end(), data.begin(), data.end());
    test::writeFile(dir.file("disk"), padded);
    int fd = ::open(dir.file("disk").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    try {
        verifier.verifyAll(fd, 8192, "disk: root");
        ADD_FAILURE() << "corrupt data passed";
    } catch (const VerityError& e) {
        EXPECT_EQ(e.block(), 200u);
        EXPECT_EQ(e.offset(), 8192u + 200 * 4096);
        EXPECT_NE(std::string(e.what()).find("disk: root: block 200 (file byte 827392)"),
                  std::string::npos)
            << e.what();
    }
    ::close(fd);
}

TEST(Verity, CorruptHashBlocksAreNamed) {
    VerityParams params = sampleParams(16385);
    Built built = build(params);
    VerityLayout layout = built.tree.layout;
    Bytes data(4096);
    patternBlock(5000, data.data(), data.size());

    struct Case {
        uint64_t byte;  // in the hash area
        uint64_t areaBlock;
        const char* against;
    };
    const uint64_t level0 = layout.levelFirstBlock[0];
    const Case cases[] = {
        // The level-0 block holding data block 5000's digest (5000 / 128 = 39).
        {(level0 + 39) * 4096 + (5000 % 128) * 32, level0 + 39, "its digest in level 1"},
        // Level 1, block 0, which covers data blocks 0..16383.
        {layout.levelFirstBlock[1] * 4096 + 39 * 32, layout.levelFirstBlock[1], "level 2"},
        // The top block: only the root hash vouches for it.
        {1 * 4096 + 3, 1, "the root hash"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.byte);
        Bytes area = built.area;
        area[c.byte] ^= 1;
        VerityVerifier verifier(params, built.tree.rootHash, area, "tree");
        try {
            verifier.verifyBlock(5000, data.data());
            ADD_FAILURE() << "corrupt hash block passed";
        } catch (const VerityError& e) {
            EXPECT_EQ(e.kind(), VerityError::Kind::kHashBlock) << e.what();
            EXPECT_EQ(e.block(), c.areaBlock) << e.what();
            EXPECT_NE(std::string(e.what()).find(c.against), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("hash block " + std::to_string(c.areaBlock)),
                      std::string::npos)
                << e.what();
        }
    }

    // Zero padding after the last digest of a partial block is covered too: level 0's last
    // block holds one digest (data block 16384).
    Bytes area = built.area;
    area[(level0 + 128) * 4096 + 4000] = 1;
    VerityVerifier verifier(params, built.tree.rootHash, area, "tree");
    patternBlock(16384, data.data(), data.size());
    test::expectError([&] { verifier.verifyBlock(16384, data.data()); },
                      {"hash block " + std::to_string(level0 + 128)});
}

TEST(Verity, WrongRootHashIsRefused) {
    VerityParams params = sampleParams(2);
    Built built = build(params);
    Sha256Digest wrong = built.tree.rootHash;
    wrong[31] ^= 1;
    VerityVerifier verifier(params, wrong, built.area, "tree");
    Bytes data = patternData(1);
    test::expectError([&] { verifier.verifyBlock(0, data.data()); }, {"the root hash"});
}

TEST(Verity, HostileTreesAndParametersAreClearErrors) {
    VerityParams params = sampleParams(129);
    Built built = build(params);
    Bytes data = patternData(1);

    Bytes truncated(built.area.begin(), built.area.end() - 1);
    test::expectError([&] { VerityVerifier(params, built.tree.rootHash, truncated, "short tree"); },
                      {"short tree", "16383 bytes", "needs 16384", "truncated"});
    test::expectError([&] { VerityVerifier(params, built.tree.rootHash, Bytes{}, "empty"); },
                      {"empty", "0 bytes"});

    VerityVerifier verifier(params, built.tree.rootHash, built.area, "tree");
    test::expectError([&] { verifier.verifyBlock(129, data.data()); },
                      {"data block 129", "outside", "129 blocks"});
    test::expectError([&] { verifier.verifyBlock(UINT64_MAX, data.data()); }, {"outside"});

    auto expectBadParams = [&](VerityParams p, std::string_view message) {
        test::expectError([&] { verityLayout(p); }, {message});
        test::expectError([&] { VerityVerifier(p, built.tree.rootHash, built.area, "t"); },
                          {message});
        test::expectError([&] { VerityTreeBuilder(p, [](uint64_t, const uint8_t*, size_t) {}); },
                          {message});
    };
    VerityParams p = params;
    p.dataBlocks = 0;
    expectBadParams(p, "0 data blocks");
    p = params;
    p.dataBlocks = UINT64_MAX;
    expectBadParams(p, "2^62");
    p = params;
    p.dataBlockSize = 1000;
    expectBadParams(p, "data block size 1000");
    p = params;
    p.hashBlockSize = 1 << 17;
    expectBadParams(p, "hash block size 131072");
    p = params;
    p.hashBlockSize = 256;
    expectBadParams(p, "hash block size 256");
    p = params;
    p.salt.assign(257, 0);
    expectBadParams(p, "salt of 257 bytes");

    // The largest tree the limits allow has a sane layout (no overflow in the level sizes).
    p = params;
    p.dataBlocks = (uint64_t{1} << 62) / 4096;
    VerityLayout big = verityLayout(p);
    EXPECT_EQ(big.levels(), 8u);
    EXPECT_EQ(big.levelBlocks.back(), 1u);
}

TEST(Verity, HashAreaInAFileThatShrinksIsAnError) {
    test::TempDir dir;
    VerityParams params = sampleParams(129);
    Built built = build(params);
    test::writeFile(dir.file("hash"), Bytes(built.area.begin(), built.area.begin() + 8192));
    int fd = ::open(dir.file("hash").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    test::expectError(
        [&] { VerityVerifier(params, built.tree.rootHash, fd, 0, 8192, "hash file"); },
        {"hash file", "8192 bytes", "needs 16384"});
    // A caller that states the wrong size gets a read error naming the file, not a crash.
    VerityVerifier verifier(params, built.tree.rootHash, fd, 0, 16384, "hash file");
    Bytes data = patternData(1);
    test::expectError([&] { verifier.verifyBlock(0, data.data()); }, {"hash file", "file ends"});
    ::close(fd);
}

TEST(Verity, BuilderRefusesTheWrongNumberOfBlocks) {
    VerityParams params = sampleParams(2);
    VerityTreeBuilder builder(params, [](uint64_t, const uint8_t*, size_t) {});
    Bytes data = patternData(1);
    builder.addBlock(data.data());
    test::expectError([&] { builder.finish(); }, {"1 of 2 data blocks"});
    builder.addBlock(data.data());
    test::expectError([&] { builder.addBlock(data.data()); }, {"more than the 2"});
}

TEST(Verity, HashFileNeedsWholeBlocks) {
    test::TempDir dir;
    test::writeFile(dir.file("data"), std::string(4097, 'x'));
    test::expectError(
        [&] { writeVerityHashFile(dir.file("data"), dir.file("hash"), sampleParams(0)); },
        {"4097 bytes", "multiple"});
    test::writeFile(dir.file("empty"), std::string());
    test::expectError(
        [&] { writeVerityHashFile(dir.file("empty"), dir.file("hash"), sampleParams(0)); },
        {"0 bytes"});
    EXPECT_EQ(dir.list(), (std::vector<std::string>{"data", "empty"}));
}

TEST(Verity, SaltIsDeterministicPerImageName) {
    EXPECT_EQ(veritySalt("gold/debian"), veritySalt("gold/debian"));
    EXPECT_NE(veritySalt("gold/debian"), veritySalt("gold/ubuntu"));
    EXPECT_EQ(veritySalt("gold/debian").size(), 32u);
    std::string input = std::string("ingot-verity-salt-v1") + '\0' + "gold/debian";
    Sha256Digest expected = sha256(input);
    EXPECT_EQ(veritySalt("gold/debian"), Bytes(expected.begin(), expected.end()));
}

TEST(Verity, ManifestDescriptionRoundTrips) {
    Built built = build(sampleParams(129));
    ManifestVerity m = built.tree.manifestVerity();
    EXPECT_EQ(m.algorithm, "sha256");
    EXPECT_EQ(m.dataBlocks, 129u);
    EXPECT_EQ(m.hashOffset, 4096u);
    EXPECT_EQ(m.uuid, "00112233-4455-6677-8899-aabbccddeeff");
    EXPECT_EQ(m.salt, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    EXPECT_EQ(m.rootHash, "ac0da31da5d8018dcbdfbb2834409a65c7258dfcdea561e0cf2db920db3395a4");
    VerityTarget target = verityTarget(m);
    EXPECT_EQ(target.params, built.tree.params);
    EXPECT_EQ(target.rootHash, built.tree.rootHash);
    EXPECT_EQ(target.hashOffset, 4096u);

    ManifestVerity bad = m;
    bad.algorithm = "sha1";
    test::expectError([&] { verityTarget(bad); }, {"'verity'", "sha1"});
    bad = m;
    bad.rootHash = "00";
    test::expectError([&] { verityTarget(bad); }, {"rootHash"});
    bad = m;
    bad.salt = "0g";
    test::expectError([&] { verityTarget(bad); }, {"salt"});
    bad = m;
    bad.uuid = "not-a-uuid";
    test::expectError([&] { verityTarget(bad); }, {"uuid"});
    bad = m;
    bad.hashOffset = 8192;
    test::expectError([&] { verityTarget(bad); }, {"hashOffset 8192"});
    bad = m;
    bad.dataBlocks = 0;
    test::expectError([&] { verityTarget(bad); }, {"0 data blocks"});
    bad = m;
    bad.dataBlockSize = uint64_t{1} << 40;
    test::expectError([&] { verityTarget(bad); }, {"block size"});
}

}  // namespace
}  // namespace ingot::image
