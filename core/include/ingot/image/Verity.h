// dm-verity hash trees, format 1: what `veritysetup format` writes by default and what the
// kernel's dm-verity target reads (docs/image-format.md, "Partition root-verity").
//
// The hash area (a file, or the root-verity partition) holds a 512-byte superblock at byte 0,
// zeros to the end of the first hash block, then the tree from the top level down to level 0,
// whose digests cover the data blocks. Every digest is SHA-256(salt || block); the root hash is
// the digest of the single top-level block (or of the only data block when there is one).
//
// Linked into the monitor (core only: OpenSSL, no libarchive). Tree and superblock bytes are
// hostile input: every size is checked before anything is read, and every failure is an
// ingot::Error naming the block and its byte offset.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ingot/core/Error.h"
#include "ingot/core/Sha256.h"
#include "ingot/image/Manifest.h"

namespace ingot::image {

inline constexpr uint32_t kVerityBlockSize = 4096;
inline constexpr size_t kVeritySuperblockSize = 512;
inline constexpr size_t kVerityMaxSaltSize = 256;
inline constexpr size_t kVerityDigestSize = 32;   // SHA-256, the only algorithm ingot writes
inline constexpr uint32_t kVerityMaxLevels = 63;  // veritysetup's VERITY_MAX_LEVELS

// What defines one tree. The manifest records all of it; the superblock repeats it.
struct VerityParams {
    uint32_t dataBlockSize = kVerityBlockSize;
    uint32_t hashBlockSize = kVerityBlockSize;
    uint64_t dataBlocks = 0;
    std::vector<uint8_t> salt;       // at most kVerityMaxSaltSize bytes
    std::array<uint8_t, 16> uuid{};  // superblock only; RFC 4122 byte order (as text reads)
    bool operator==(const VerityParams&) const = default;
};

// Where the tree's levels lie in the hash area. Level 0 holds the data blocks' digests; the
// highest level is one block and comes first, right after the superblock's block.
struct VerityLayout {
    uint64_t hashOffset = 0;                // bytes: first tree block (= hashBlockSize)
    std::vector<uint64_t> levelFirstBlock;  // per level: hash-block index in the hash area
    std::vector<uint64_t> levelBlocks;      // per level: number of hash blocks
    uint64_t treeBlocks = 0;
    uint64_t treeBytes = 0;
    uint64_t areaBytes = 0;  // hashOffset + treeBytes: the size veritysetup gives a hash file
    size_t levels() const { return levelBlocks.size(); }
};

// Checks `params` (block sizes powers of two from 512 to 65536, at least one data block, salt
// size, no arithmetic overflow) and computes the layout veritysetup uses. Throws ingot::Error
// (status kVerification, since parameters usually come from an image) naming the problem.
VerityLayout verityLayout(const VerityParams& params);

// The deterministic salt of an image: SHA-256("ingot-verity-salt-v1" NUL imageName). It depends
// on the name only, not the version, so data blocks that do not change between versions keep
// their hash blocks byte for byte and content-defined chunking transfers neither again.
std::vector<uint8_t> veritySalt(std::string_view imageName);

// The 512-byte format-1 superblock for `params` (version 1, hash type 1, "sha256").
std::array<uint8_t, kVeritySuperblockSize> veritySuperblock(const VerityParams& params);

// Reads a superblock strictly: signature, version 1, hash type 1, algorithm "sha256" followed by
// zeros, sizes as verityLayout accepts them, salt size, and all padding zero. `where` names the
// source in errors. Throws ingot::Error with status kVerification.
VerityParams parseVeritySuperblock(const uint8_t* bytes, size_t size, std::string_view where);

// The parameters and root hash a manifest records; throws ingot::Error (kVerification) for an
// algorithm, format or salt this reader does not handle.
struct VerityTarget {
    VerityParams params;
    Sha256Digest rootHash{};
    uint64_t hashOffset = 0;
};
VerityTarget verityTarget(const ManifestVerity& manifest);

// A finished tree.
struct VerityTree {
    VerityParams params;
    VerityLayout layout;
    Sha256Digest rootHash{};
    // The manifest's description: algorithm sha256, format 1, hex root hash, salt and uuid.
    ManifestVerity manifestVerity() const;
};

// Builds a tree from data blocks fed one at a time, in order, so the data may be far larger
// than memory: it keeps one partial hash block per level. `sink(offset, bytes, size)` receives
// each hash block, and finally the superblock's block, at its byte offset in the hash area;
// every byte of the area is written exactly once.
class VerityTreeBuilder {
public:
    using Sink = std::function<void(uint64_t offset, const uint8_t* data, size_t size)>;

    VerityTreeBuilder(VerityParams params, Sink sink);
    ~VerityTreeBuilder();
    VerityTreeBuilder(const VerityTreeBuilder&) = delete;
    VerityTreeBuilder& operator=(const VerityTreeBuilder&) = delete;

    // `block` holds params.dataBlockSize bytes. Throws past params.dataBlocks.
    void addBlock(const uint8_t* block);
    uint64_t blocksAdded() const { return added_; }
    // Flushes the partial blocks and the superblock. Throws unless every data block was added.
    VerityTree finish();

private:
    struct Level {
        std::vector<uint8_t> block;
        size_t used = 0;       // bytes of digests in `block`
        uint64_t written = 0;  // blocks of this level already given to the sink
    };
    void push(size_t level, const Sha256Digest& digest);
    void flush(size_t level);

    VerityParams params_;
    VerityLayout layout_;
    Sink sink_;
    std::vector<Level> levels_;
    uint64_t added_ = 0;
    Sha256Digest rootHash_{};
    struct Hasher;
    std::unique_ptr<Hasher> hasher_;
};

// Builds the tree over `params.dataBlocks` blocks read from `dataFd` at byte `dataOffset` and
// writes the hash area into `hashFd` at byte `hashOffset`. `dataWhere`/`hashWhere` name the two
// in errors.
VerityTree buildVerityTree(int dataFd, uint64_t dataOffset, std::string_view dataWhere,
                           const VerityParams& params, int hashFd, uint64_t hashOffset,
                           std::string_view hashWhere);

// The tree of the whole file `dataPath` (its size must be a non-zero multiple of
// params.dataBlockSize; params.dataBlocks is set from it), written as a new hash file
// `hashPath` (replaced atomically) that `veritysetup verify DATA HASH ROOT` accepts.
VerityTree writeVerityHashFile(const std::string& dataPath, const std::string& hashPath,
                               VerityParams params);

// A block that does not match the tree. `block` is the data-block index for kDataBlock and the
// hash-block index within the hash area for kHashBlock; `offset` is its byte offset: in the data
// (verifyBlock) or in the data file (verifyAll) for kDataBlock, in the hash area for kHashBlock.
class VerityError : public Error {
public:
    enum class Kind { kDataBlock, kHashBlock };
    VerityError(const std::string& message, Kind kind, uint64_t block, uint64_t offset)
        : Error(message, ExitStatus::kVerification), kind_(kind), block_(block), offset_(offset) {}
    Kind kind() const { return kind_; }
    uint64_t block() const { return block_; }
    uint64_t offset() const { return offset_; }

private:
    Kind kind_;
    uint64_t block_;
    uint64_t offset_;
};

// Checks data blocks against a root hash through the tree, reading hash blocks on demand and
// keeping the verified ones (a bounded cache), so reading a disk front to back hashes each hash
// block once. The superblock is not consulted: parameters come from the signed manifest.
class VerityVerifier {
public:
    // The hash area in memory (superblock block + tree, as written). Throws ingot::Error when it
    // is shorter than the layout needs. `where` names it in errors.
    VerityVerifier(const VerityParams& params, const Sha256Digest& rootHash,
                   std::vector<uint8_t> hashArea, std::string where = "verity hash area");
    // The hash area in a file: `size` bytes at byte `offset` of `fd` (kept open by the caller).
    VerityVerifier(const VerityParams& params, const Sha256Digest& rootHash, int fd,
                   uint64_t offset, uint64_t size, std::string where);
    ~VerityVerifier();
    VerityVerifier(const VerityVerifier&) = delete;
    VerityVerifier& operator=(const VerityVerifier&) = delete;

    const VerityLayout& layout() const { return layout_; }

    // Checks data block `index` (params.dataBlockSize bytes at `data`) and every hash block on
    // its path to the root. Throws VerityError naming the first block that does not match, or
    // ingot::Error for an index out of range or an unreadable hash area.
    void verifyBlock(uint64_t index, const uint8_t* data);

    // Checks tree block `areaBlock` (an index in the hash area, superblock block = 0) and every
    // hash block above it. Throws VerityError when one does not match, ingot::Error when
    // `areaBlock` is not a tree block.
    void verifyTreeBlock(uint64_t areaBlock);

    // Checks every data block read from `dataFd` at byte `dataOffset`; returns the block count.
    uint64_t verifyAll(int dataFd, uint64_t dataOffset, std::string_view dataWhere);
    // The same for a whole file, which must hold exactly params.dataBlocks blocks.
    uint64_t verifyAll(const std::string& dataPath);

private:
    const uint8_t* hashBlock(size_t level, uint64_t indexInLevel);
    std::string blockWhere(uint64_t areaBlock) const;

    VerityParams params_;
    VerityLayout layout_;
    Sha256Digest rootHash_;
    std::vector<uint8_t> memory_;
    int fd_ = -1;
    uint64_t fileOffset_ = 0;
    std::string where_;
    std::unordered_map<uint64_t, std::vector<uint8_t>> verified_;  // by hash-area block index
    struct Hasher;
    std::unique_ptr<Hasher> hasher_;
};

}  // namespace ingot::image
