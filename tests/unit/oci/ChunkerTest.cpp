#include "ingot/oci/Chunker.h"

#include <gtest/gtest.h>

#include <set>

#include "OciTestSupport.h"

namespace ingot::oci {
namespace {

using test::diskLikeBytes;
using test::randomBytes;

std::span<const uint8_t> span(const std::string& bytes) {
    return {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
}

std::vector<Chunk> chunk(const std::string& bytes) {
    return chunkBytes(span(bytes));
}

std::set<std::string> dataDigests(const std::vector<Chunk>& chunks) {
    std::set<std::string> digests;
    for (const Chunk& c : chunks)
        if (!c.isZero) digests.insert(toHex(c.sha256));
    return digests;
}

// Every chunker output must tile the input exactly, with sizes inside the limits and digests
// of the bytes they cover; holes must be runs of zeros, and no data chunk may border a hole
// with a zero byte (runs are measured to the byte).
void checkTiling(const std::string& bytes, const std::vector<Chunk>& chunks,
                 const ChunkerParams& params = {}) {
    uint64_t offset = 0;
    for (size_t i = 0; i < chunks.size(); ++i) {
        const Chunk& c = chunks[i];
        ASSERT_EQ(c.offset, offset) << "chunk " << i;
        ASSERT_GT(c.length, 0u);
        ASSERT_LE(c.offset + c.length, bytes.size());
        std::string_view content(bytes.data() + c.offset, c.length);
        if (c.isZero) {
            EXPECT_GE(c.length, params.minSize);
            EXPECT_EQ(content.find_first_not_of('\0'), std::string_view::npos);
        } else {
            EXPECT_LE(c.length, params.maxSize);
            // Short chunks only where the data ends: before a hole or at the end of the disk.
            bool last = i + 1 == chunks.size() || chunks[i + 1].isZero;
            if (!last) {
                EXPECT_GE(c.length, params.minSize) << "chunk " << i;
            }
            EXPECT_EQ(c.sha256, sha256(content)) << "chunk " << i;
            if (i + 1 < chunks.size() && chunks[i + 1].isZero) {
                EXPECT_NE(content.back(), '\0') << "chunk " << i;
            }
            if (i > 0 && chunks[i - 1].isZero) {
                EXPECT_NE(content.front(), '\0') << "chunk " << i;
            }
        }
        offset += c.length;
    }
    EXPECT_EQ(offset, bytes.size());
}

TEST(Chunker, EmptyInputHasNoChunks) {
    EXPECT_TRUE(chunk("").empty());
}

TEST(Chunker, InputBelowTheMinimumIsOneChunk) {
    std::string bytes = randomBytes(1000, 1);
    auto chunks = chunk(bytes);
    ASSERT_EQ(chunks.size(), 1u);
    EXPECT_EQ(chunks[0].length, 1000u);
    EXPECT_FALSE(chunks[0].isZero);
    checkTiling(bytes, chunks);
}

TEST(Chunker, ContentWithoutCutPointsIsCutAtTheMaximum) {
    // A constant non-zero byte gives the gear hash a constant value that matches no mask.
    ChunkerParams params;
    std::string exact(params.maxSize, '\x5a');
    auto one = chunk(exact);
    ASSERT_EQ(one.size(), 1u);
    EXPECT_EQ(one[0].length, params.maxSize);

    std::string longer(2 * params.maxSize + 5, '\x5a');
    auto three = chunk(longer);
    ASSERT_EQ(three.size(), 3u);
    EXPECT_EQ(three[0].length, params.maxSize);
    EXPECT_EQ(three[1].length, params.maxSize);
    EXPECT_EQ(three[2].length, 5u);
    EXPECT_EQ(three[0].sha256, three[1].sha256);
    checkTiling(longer, three);
}

TEST(Chunker, RandomDataAveragesNearTheTarget) {
    std::string bytes = randomBytes(32 << 20, 2);
    auto chunks = chunk(bytes);
    checkTiling(bytes, chunks);
    double average = double(bytes.size()) / double(chunks.size());
    std::printf("32 MiB of random data: %zu chunks, average %.0f KiB\n", chunks.size(),
                average / 1024);
    EXPECT_GT(average, 160 * 1024);
    EXPECT_LT(average, 400 * 1024);
}

TEST(Chunker, SameBytesGiveSameChunksWhateverThePieces) {
    std::string bytes = diskLikeBytes(12 << 20, 3);
    auto whole = chunk(bytes);
    checkTiling(bytes, whole);
    for (size_t piece : {size_t(1) << 20, size_t(4097), size_t(1000), size_t(4096 * 3)}) {
        std::vector<Chunk> chunks;
        Chunker chunker({}, [&](const Chunk& c, std::span<const uint8_t>) { chunks.push_back(c); });
        for (size_t at = 0; at < bytes.size(); at += piece) {
            size_t n = std::min(piece, bytes.size() - at);
            chunker.update(reinterpret_cast<const uint8_t*>(bytes.data() + at), n);
        }
        chunker.finish();
        EXPECT_EQ(chunks, whole) << "pieces of " << piece;
    }
    EXPECT_EQ(chunk(bytes), whole);

    test::TempDir dir;
    test::writeFile(dir.file("disk"), bytes);
    size_t seen = 0;
    auto fromFile =
        chunkFile(dir.file("disk"), {}, [&](const Chunk& c, std::span<const uint8_t> b) {
            EXPECT_EQ(b.size(), c.isZero ? 0 : c.length);
            ++seen;
        });
    EXPECT_EQ(fromFile, whole);
    EXPECT_EQ(seen, whole.size());
}

TEST(Chunker, ZeroRunsOfAtLeastTheMinimumBecomeHoles) {
    ChunkerParams params;
    std::string bytes = randomBytes(300000, 4);
    bytes.resize(4 * 4096 * 100 + 7, '\0');  // a run of zeros up to 1.6 MB, unaligned at both ends
    size_t holeStart = 300000;
    ASSERT_NE(bytes[holeStart - 1], '\0');
    bytes += randomBytes(200000, 5);
    size_t shortRun = bytes.size();
    bytes.append(32 * 1024, '\0');  // below the minimum: stays inside data
    bytes += randomBytes(100000, 6);
    auto chunks = chunk(bytes);
    checkTiling(bytes, chunks);
    std::vector<Chunk> holes;
    for (const Chunk& c : chunks)
        if (c.isZero) holes.push_back(c);
    ASSERT_EQ(holes.size(), 1u);
    EXPECT_EQ(holes[0].offset, holeStart);
    EXPECT_EQ(holes[0].length, 4 * 4096 * 100 + 7 - holeStart);
    for (const Chunk& c : chunks) EXPECT_FALSE(c.isZero && c.offset >= shortRun);

    // Exactly the minimum is a hole; one byte less is not. The random ends are forced non-zero
    // so the run has exactly the length written.
    std::string head = randomBytes(8193, 7), tail = randomBytes(8190, 8);
    head.back() = 'h';
    tail.front() = 't';
    std::string edge = head + std::string(params.minSize, '\0') + tail;
    auto edgeChunks = chunk(edge);
    checkTiling(edge, edgeChunks);
    ASSERT_EQ(edgeChunks.size(), 3u);
    EXPECT_TRUE(edgeChunks[1].isZero);
    EXPECT_EQ(edgeChunks[1].offset, head.size());
    EXPECT_EQ(edgeChunks[1].length, params.minSize);
    std::string below = head + std::string(params.minSize - 1, '\0') + tail;
    for (const Chunk& c : chunk(below)) EXPECT_FALSE(c.isZero);
}

TEST(Chunker, AllZeroDiskIsOneHoleIncludingAShortTail) {
    std::string bytes(10 * 1024 * 1024 + 100, '\0');
    auto chunks = chunk(bytes);
    ASSERT_EQ(chunks.size(), 1u);
    EXPECT_TRUE(chunks[0].isZero);
    EXPECT_EQ(chunks[0].length, bytes.size());
}

struct Survival {
    size_t before, after, shared;
};

Survival survival(const std::string& a, const std::string& b) {
    auto da = dataDigests(chunk(a));
    auto db = dataDigests(chunk(b));
    size_t shared = 0;
    for (const std::string& d : db) shared += da.count(d);
    return {da.size(), db.size(), shared};
}

TEST(Chunker, AnEditInTheMiddleChangesOnlyTheChunksAroundIt) {
    const std::string base = diskLikeBytes(32 << 20, 9);
    size_t middle = base.size() / 2 + 12345;

    std::string modified = base;
    for (size_t i = 0; i < 100; ++i)
        modified[middle + i] = static_cast<char>(~modified[middle + i]);
    std::string inserted = base;
    inserted.insert(middle, randomBytes(1000, 10));
    std::string deleted = base;
    deleted.erase(middle, 777);

    for (auto [name, edited] :
         {std::pair{"modify 100 bytes", &modified}, std::pair{"insert 1000 bytes", &inserted},
          std::pair{"delete 777 bytes", &deleted}}) {
        Survival s = survival(base, *edited);
        std::printf("%s: %zu chunks before, %zu after, %zu shared\n", name, s.before, s.after,
                    s.shared);
        EXPECT_GE(s.shared + 3, s.before) << name;
        EXPECT_LE(s.after - s.shared, 3u) << name;
    }
}

TEST(Chunker, RefusesInconsistentParameters) {
    ChunkerParams params;
    params.averageSize = 300 * 1024;
    test::expectError([&] { Chunker(params, {}); }, {"power-of-two"});
    params.averageSize = 32 * 1024;
    test::expectError([&] { Chunker(params, {}); }, {"min"});
}

}  // namespace
}  // namespace ingot::oci
