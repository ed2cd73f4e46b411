// Content-defined chunking of disk images (docs/oci.md, "Chunks"): a FastCDC-style gear hash
// with normalized chunking cuts the disk where its content says so, not at fixed offsets, so an
// edit moves only the cut points next to it and every other chunk keeps its digest across
// versions. All-zero ranges become holes that are never stored.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "ingot/core/Sha256.h"

namespace ingot::oci {

// The sizes are part of the format in practice: changing them (or the gear table) moves every cut
// point, so the first push after the change shares nothing with earlier versions.
struct ChunkerParams {
    uint64_t minSize = 64 * 1024;
    uint64_t averageSize = 256 * 1024;  // a power of two
    uint64_t maxSize = 1024 * 1024;
};

// The chunker looks at its input in blocks of this size: a block of zeros is recognised with a
// word-wise compare and never hashed. Holes are runs of at least minSize zero bytes, measured to
// the byte (Chunker::processBlock says why).
inline constexpr uint64_t kZeroBlockSize = 4096;

struct Chunk {
    uint64_t offset = 0;
    uint64_t length = 0;
    Sha256Digest sha256{};  // of the raw bytes; all zero for holes, whose content needs no digest
    bool isZero = false;    // a hole: not stored, reads as zeros
    bool operator==(const Chunk&) const = default;
};

// Receives each chunk in offset order; `bytes` holds a data chunk's content and is empty for holes.
using ChunkSink = std::function<void(const Chunk& chunk, std::span<const uint8_t> bytes)>;

// A streaming chunker: feed the disk in order, in pieces of any size, then call finish(). Memory
// is bounded by maxSize plus one block, whatever the disk's size.
class Chunker {
public:
    // Throws ingot::Error (kUsage) on inconsistent parameters.
    explicit Chunker(const ChunkerParams& params, ChunkSink sink);

    void update(const uint8_t* data, size_t size);
    void finish();

private:
    void processBlock(const uint8_t* block, size_t size);
    void addZeros(uint64_t offset, uint64_t size);
    void endZeroRun();
    void feed(const uint8_t* data, size_t size);
    void feedZeros(uint64_t size);
    void emitData();

    ChunkerParams params_;
    ChunkSink sink_;
    uint64_t maskSmall_ = 0;  // before averageSize: harder to match, so few chunks end early
    uint64_t maskLarge_ = 0;  // after averageSize: easier to match, so few reach maxSize

    uint64_t offset_ = 0;         // of the next byte not yet classified
    std::vector<uint8_t> block_;  // a partial zero block's worth of input

    std::vector<uint8_t> chunk_;  // the data chunk being built
    uint64_t chunkOffset_ = 0;
    uint64_t hash_ = 0;

    // Zeros seen but not yet given to the data chunk or a hole: whether they become a hole is
    // known only once the run reaches minSize. Counted, not stored.
    uint64_t zeroRunOffset_ = 0;
    uint64_t zeroRunLength_ = 0;
    bool inHole_ = false;
    bool finished_ = false;
};

// Chunks a whole file, reading it sequentially; `sink` (optional) sees each chunk with its bytes.
// Errors name the file.
std::vector<Chunk> chunkFile(const std::string& path, const ChunkerParams& params = {},
                             const ChunkSink& sink = {});

// Chunks bytes in memory (tests, small inputs).
std::vector<Chunk> chunkBytes(std::span<const uint8_t> bytes, const ChunkerParams& params = {});

}  // namespace ingot::oci
