#include "ingot/image/Verity.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ReadAt.h"
#include "WriteAt.h"
#include "ingot/core/TempFile.h"

namespace ingot::image {
namespace {

constexpr char kSuperblockSignature[8] = {'v', 'e', 'r', 'i', 't', 'y', 0, 0};
constexpr char kAlgorithm[] = "sha256";
constexpr size_t kReadChunk = 1 << 20;
// Verified hash blocks kept by a verifier: 4 MiB of 4 KiB blocks. Level 0 of a 16 GiB disk
// alone is 128 MiB, so the cache cannot hold a whole tree; a sequential scan needs only one
// block per level at a time, and random access re-verifies at most a few blocks per miss.
constexpr size_t kCacheBlocks = 1024;

Error verityError(const std::string& message) {
    return Error(message, ExitStatus::kVerification);
}

bool validBlockSize(uint64_t size) {
    return size >= 512 && size <= 65536 && (size & (size - 1)) == 0;
}

unsigned log2Floor(uint64_t value) {
    unsigned bits = 0;
    while (value >>= 1) ++bits;
    return bits;
}

void storeLe(uint8_t* out, uint64_t value, size_t bytes) {
    for (size_t i = 0; i < bytes; ++i) out[i] = static_cast<uint8_t>(value >> (8 * i));
}

uint64_t loadLe(const uint8_t* in, size_t bytes) {
    uint64_t value = 0;
    for (size_t i = 0; i < bytes; ++i) value |= uint64_t{in[i]} << (8 * i);
    return value;
}

int hexDigit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// Lower-case hex only, as the manifest writes it.
bool decodeHex(std::string_view text, std::vector<uint8_t>& out) {
    if (text.size() % 2 != 0) return false;
    out.clear();
    for (size_t i = 0; i < text.size(); i += 2) {
        int high = hexDigit(text[i]), low = hexDigit(text[i + 1]);
        if (high < 0 || low < 0) return false;
        out.push_back(static_cast<uint8_t>(high << 4 | low));
    }
    return true;
}

std::string uuidText(const std::array<uint8_t, 16>& uuid) {
    std::string hex = toHex(uuid.data(), uuid.size());
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
           hex.substr(16, 4) + "-" + hex.substr(20);
}

bool parseUuid(std::string_view text, std::array<uint8_t, 16>& out) {
    if (text.size() != 36) return false;
    std::string hex;
    for (size_t i = 0; i < text.size(); ++i) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash != (text[i] == '-')) return false;
        if (!dash) hex += text[i];
    }
    std::vector<uint8_t> bytes;
    if (!decodeHex(hex, bytes)) return false;
    std::copy(bytes.begin(), bytes.end(), out.begin());
    return true;
}

}  // namespace

// SHA-256(salt || block) for many blocks: the salt is absorbed once into `base`, which each
// digest starts from by copying the context.
struct HasherImpl {
    EVP_MD_CTX* base = nullptr;
    EVP_MD_CTX* work = nullptr;

    explicit HasherImpl(const std::vector<uint8_t>& salt) {
        base = EVP_MD_CTX_new();
        work = EVP_MD_CTX_new();
        if (!base || !work || EVP_DigestInit_ex(base, EVP_sha256(), nullptr) != 1 ||
            EVP_DigestUpdate(base, salt.data(), salt.size()) != 1) {
            release();
            throw Error("OpenSSL cannot start a SHA-256 computation");
        }
    }
    ~HasherImpl() { release(); }
    HasherImpl(const HasherImpl&) = delete;
    HasherImpl& operator=(const HasherImpl&) = delete;

    void release() {
        EVP_MD_CTX_free(base);
        EVP_MD_CTX_free(work);
        base = work = nullptr;
    }

    Sha256Digest digest(const uint8_t* data, size_t size) {
        Sha256Digest out{};
        unsigned int length = 0;
        if (EVP_MD_CTX_copy_ex(work, base) != 1 || EVP_DigestUpdate(work, data, size) != 1 ||
            EVP_DigestFinal_ex(work, out.data(), &length) != 1 || length != out.size())
            throw Error("OpenSSL SHA-256 failed");
        return out;
    }
};

struct VerityTreeBuilder::Hasher : HasherImpl {
    using HasherImpl::HasherImpl;
};
struct VerityVerifier::Hasher : HasherImpl {
    using HasherImpl::HasherImpl;
};

VerityLayout verityLayout(const VerityParams& params) {
    if (!validBlockSize(params.dataBlockSize))
        throw verityError("verity data block size " + std::to_string(params.dataBlockSize) +
                          " is not a power of two from 512 to 65536");
    if (!validBlockSize(params.hashBlockSize))
        throw verityError("verity hash block size " + std::to_string(params.hashBlockSize) +
                          " is not a power of two from 512 to 65536");
    if (params.salt.size() > kVerityMaxSaltSize)
        throw verityError("verity salt of " + std::to_string(params.salt.size()) +
                          " bytes is longer than " + std::to_string(kVerityMaxSaltSize));
    if (params.dataBlocks == 0) throw verityError("verity tree over 0 data blocks");
    // Data and hash offsets become off_t: keep every byte count below 2^63.
    constexpr uint64_t kMaxBytes = uint64_t{1} << 62;
    if (params.dataBlocks > kMaxBytes / params.dataBlockSize)
        throw verityError("verity tree over " + std::to_string(params.dataBlocks) +
                          " data blocks: the data would exceed 2^62 bytes");

    const unsigned bits = log2Floor(params.hashBlockSize / kVerityDigestSize);
    const uint64_t n = params.dataBlocks;
    size_t levels = 0;
    while (bits * levels < 64 && ((n - 1) >> (bits * levels)) != 0) ++levels;
    if (levels > kVerityMaxLevels) throw verityError("verity tree would need too many levels");

    VerityLayout layout;
    // The superblock takes the first 512 bytes, rounded up to a whole hash block.
    uint64_t position = (kVeritySuperblockSize + params.hashBlockSize - 1) / params.hashBlockSize;
    layout.hashOffset = position * params.hashBlockSize;
    layout.levelFirstBlock.assign(levels, 0);
    layout.levelBlocks.assign(levels, 0);
    for (size_t i = levels; i-- > 0;) {
        unsigned shift = static_cast<unsigned>((i + 1) * bits);
        uint64_t blocks =
            shift >= 64 ? 1 : (n >> shift) + ((n & ((uint64_t{1} << shift) - 1)) != 0);
        layout.levelFirstBlock[i] = position;
        layout.levelBlocks[i] = blocks;
        position += blocks;
    }
    layout.treeBlocks = position - layout.hashOffset / params.hashBlockSize;
    layout.treeBytes = layout.treeBlocks * params.hashBlockSize;
    layout.areaBytes = layout.hashOffset + layout.treeBytes;
    return layout;
}

std::vector<uint8_t> veritySalt(std::string_view imageName) {
    std::string input = "ingot-verity-salt-v1";
    input += '\0';
    input += imageName;
    Sha256Digest digest = sha256(input);
    return {digest.begin(), digest.end()};
}

std::array<uint8_t, kVeritySuperblockSize> veritySuperblock(const VerityParams& params) {
    verityLayout(params);
    std::array<uint8_t, kVeritySuperblockSize> sb{};
    std::memcpy(sb.data(), kSuperblockSignature, sizeof kSuperblockSignature);
    storeLe(&sb[8], 1, 4);   // superblock version
    storeLe(&sb[12], 1, 4);  // hash type 1: salt first, digests padded to a power of two
    std::copy(params.uuid.begin(), params.uuid.end(), sb.begin() + 16);
    std::memcpy(&sb[32], kAlgorithm, sizeof kAlgorithm - 1);
    storeLe(&sb[64], params.dataBlockSize, 4);
    storeLe(&sb[68], params.hashBlockSize, 4);
    storeLe(&sb[72], params.dataBlocks, 8);
    storeLe(&sb[80], params.salt.size(), 2);
    std::copy(params.salt.begin(), params.salt.end(), sb.begin() + 88);
    return sb;
}

VerityParams parseVeritySuperblock(const uint8_t* bytes, size_t size, std::string_view where) {
    auto fail = [&](size_t offset, const std::string& problem) {
        return verityError(std::string(where) + ": verity superblock byte " +
                           std::to_string(offset) + ": " + problem);
    };
    if (size < kVeritySuperblockSize)
        throw verityError(std::string(where) + ": " + std::to_string(size) +
                          " bytes, too short for a verity superblock (512)");
    if (std::memcmp(bytes, kSuperblockSignature, sizeof kSuperblockSignature) != 0)
        throw fail(0, "no \"verity\" signature");
    if (loadLe(bytes + 8, 4) != 1)
        throw fail(8, "version " + std::to_string(loadLe(bytes + 8, 4)) + ", not 1");
    if (loadLe(bytes + 12, 4) != 1)
        throw fail(12, "hash type " + std::to_string(loadLe(bytes + 12, 4)) +
                           ", not 1 (Chrome OS type 0 is not supported)");
    if (std::memcmp(bytes + 32, kAlgorithm, sizeof kAlgorithm) != 0 ||
        !std::all_of(bytes + 32 + sizeof kAlgorithm, bytes + 64, [](uint8_t b) { return !b; }))
        throw fail(32, "algorithm is not \"sha256\"");
    VerityParams params;
    std::copy(bytes + 16, bytes + 32, params.uuid.begin());
    params.dataBlockSize = static_cast<uint32_t>(loadLe(bytes + 64, 4));
    params.hashBlockSize = static_cast<uint32_t>(loadLe(bytes + 68, 4));
    params.dataBlocks = loadLe(bytes + 72, 8);
    uint64_t saltSize = loadLe(bytes + 80, 2);
    if (saltSize > kVerityMaxSaltSize)
        throw fail(80, "salt size " + std::to_string(saltSize) + " exceeds 256");
    params.salt.assign(bytes + 88, bytes + 88 + saltSize);
    for (size_t i = 82; i < kVeritySuperblockSize; ++i) {
        bool padding = i < 88 || i >= 88 + saltSize;
        if (padding && bytes[i] != 0) throw fail(i, "padding is not zero");
    }
    try {
        verityLayout(params);
    } catch (const Error& e) {
        throw verityError(std::string(where) + ": verity superblock: " + e.what());
    }
    return params;
}

VerityTarget verityTarget(const ManifestVerity& manifest) {
    auto fail = [](const std::string& problem) {
        return verityError("manifest field 'verity': " + problem);
    };
    if (manifest.algorithm != kAlgorithm)
        throw fail("algorithm \"" + manifest.algorithm + "\" is not supported (only sha256)");
    if (manifest.format != 1) throw fail("format " + std::to_string(manifest.format) + " is not 1");
    if (manifest.dataBlockSize > UINT32_MAX || manifest.hashBlockSize > UINT32_MAX)
        throw fail("block size out of range");
    VerityTarget target;
    target.params.dataBlockSize = static_cast<uint32_t>(manifest.dataBlockSize);
    target.params.hashBlockSize = static_cast<uint32_t>(manifest.hashBlockSize);
    target.params.dataBlocks = manifest.dataBlocks;
    if (!decodeHex(manifest.salt, target.params.salt))
        throw fail("salt is not lower-case hexadecimal");
    if (!parseUuid(manifest.uuid, target.params.uuid)) throw fail("uuid is not a lower-case GUID");
    std::vector<uint8_t> root;
    if (!decodeHex(manifest.rootHash, root) || root.size() != kVerityDigestSize)
        throw fail("rootHash is not 64 lower-case hexadecimal digits");
    std::copy(root.begin(), root.end(), target.rootHash.begin());
    VerityLayout layout;
    try {
        layout = verityLayout(target.params);
    } catch (const Error& e) {
        throw fail(e.what());
    }
    if (manifest.hashOffset != layout.hashOffset)
        throw fail("hashOffset " + std::to_string(manifest.hashOffset) + " is not " +
                   std::to_string(layout.hashOffset) + " (the superblock's block)");
    target.hashOffset = layout.hashOffset;
    return target;
}

ManifestVerity VerityTree::manifestVerity() const {
    ManifestVerity v;
    v.algorithm = kAlgorithm;
    v.dataBlockSize = params.dataBlockSize;
    v.dataBlocks = params.dataBlocks;
    v.hashBlockSize = params.hashBlockSize;
    v.hashOffset = layout.hashOffset;
    v.rootHash = toHex(rootHash);
    v.salt = toHex(params.salt.data(), params.salt.size());
    v.uuid = uuidText(params.uuid);
    v.format = 1;
    return v;
}

// ---- building ---------------------------------------------------------------------------------

VerityTreeBuilder::VerityTreeBuilder(VerityParams params, Sink sink)
    : params_(std::move(params)),
      layout_(verityLayout(params_)),
      sink_(std::move(sink)),
      levels_(layout_.levels()),
      hasher_(std::make_unique<Hasher>(params_.salt)) {
    for (Level& level : levels_) level.block.assign(params_.hashBlockSize, 0);
}

VerityTreeBuilder::~VerityTreeBuilder() = default;

void VerityTreeBuilder::addBlock(const uint8_t* block) {
    if (added_ == params_.dataBlocks)
        throw Error("verity tree: more than the " + std::to_string(params_.dataBlocks) +
                    " data blocks it was sized for");
    ++added_;
    push(0, hasher_->digest(block, params_.dataBlockSize));
}

void VerityTreeBuilder::push(size_t level, const Sha256Digest& digest) {
    if (level == levels_.size()) {
        rootHash_ = digest;
        return;
    }
    Level& l = levels_[level];
    std::copy(digest.begin(), digest.end(), l.block.begin() + static_cast<long>(l.used));
    l.used += digest.size();
    if (l.used == l.block.size()) flush(level);
}

void VerityTreeBuilder::flush(size_t level) {
    Level& l = levels_[level];
    if (l.written == layout_.levelBlocks[level])
        throw Error("verity tree: level " + std::to_string(level) + " overflows its " +
                    std::to_string(layout_.levelBlocks[level]) + " blocks");
    uint64_t block = layout_.levelFirstBlock[level] + l.written;
    sink_(block * params_.hashBlockSize, l.block.data(), l.block.size());
    ++l.written;
    Sha256Digest digest = hasher_->digest(l.block.data(), l.block.size());
    std::fill(l.block.begin(), l.block.end(), 0);
    l.used = 0;
    push(level + 1, digest);
}

VerityTree VerityTreeBuilder::finish() {
    if (added_ != params_.dataBlocks)
        throw Error("verity tree: " + std::to_string(added_) + " of " +
                    std::to_string(params_.dataBlocks) + " data blocks were given");
    // Lower levels first: flushing one pushes a digest into the next.
    for (size_t level = 0; level < levels_.size(); ++level) {
        if (levels_[level].used > 0) flush(level);
        if (levels_[level].written != layout_.levelBlocks[level])
            throw Error("verity tree: level " + std::to_string(level) + " has " +
                        std::to_string(levels_[level].written) + " blocks, not " +
                        std::to_string(layout_.levelBlocks[level]));
    }
    std::vector<uint8_t> first(layout_.hashOffset, 0);
    std::array<uint8_t, kVeritySuperblockSize> sb = veritySuperblock(params_);
    std::copy(sb.begin(), sb.end(), first.begin());
    sink_(0, first.data(), first.size());
    VerityTree tree;
    tree.params = params_;
    tree.layout = layout_;
    tree.rootHash = rootHash_;
    return tree;
}

VerityTree buildVerityTree(int dataFd, uint64_t dataOffset, std::string_view dataWhere,
                           const VerityParams& params, int hashFd, uint64_t hashOffset,
                           std::string_view hashWhere) {
    VerityTreeBuilder builder(params, [&](uint64_t offset, const uint8_t* data, size_t size) {
        detail::writeAllAt(hashFd, data, size, hashOffset + offset, hashWhere);
    });
    const uint64_t blockSize = params.dataBlockSize;
    std::vector<uint8_t> buffer(kReadChunk / blockSize * blockSize);
    for (uint64_t block = 0; block < params.dataBlocks;) {
        uint64_t count = std::min<uint64_t>(buffer.size() / blockSize, params.dataBlocks - block);
        detail::readAllAt(dataFd, buffer.data(), count * blockSize, dataOffset + block * blockSize,
                          dataWhere);
        for (uint64_t i = 0; i < count; ++i) builder.addBlock(buffer.data() + i * blockSize);
        block += count;
    }
    return builder.finish();
}

namespace {

class ReadFd {
public:
    explicit ReadFd(const std::string& path, const std::string& what) {
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0)
            throwSystemError("cannot read " + what + " " + path, errno, ExitStatus::kUsage);
        struct stat st {};
        if (::fstat(fd_, &st) < 0) {
            int e = errno;
            ::close(fd_);
            throwSystemError("cannot read " + what + " " + path, e, ExitStatus::kUsage);
        }
        size_ = static_cast<uint64_t>(st.st_size);
    }
    ~ReadFd() { ::close(fd_); }
    ReadFd(const ReadFd&) = delete;
    ReadFd& operator=(const ReadFd&) = delete;
    int get() const { return fd_; }
    uint64_t size() const { return size_; }

private:
    int fd_ = -1;
    uint64_t size_ = 0;
};

}  // namespace

VerityTree writeVerityHashFile(const std::string& dataPath, const std::string& hashPath,
                               VerityParams params) {
    ReadFd data(dataPath, "verity data file");
    if (data.size() == 0 || data.size() % params.dataBlockSize != 0)
        throw Error("verity data file " + dataPath + " is " + std::to_string(data.size()) +
                        " bytes, not a non-zero multiple of the " +
                        std::to_string(params.dataBlockSize) + "-byte data block",
                    ExitStatus::kUsage);
    params.dataBlocks = data.size() / params.dataBlockSize;
    VerityLayout layout = verityLayout(params);
    TempFile out(hashPath);
    if (::ftruncate(out.fd(), static_cast<off_t>(layout.areaBytes)) < 0)
        throwSystemError("cannot size " + hashPath, errno);
    VerityTree tree = buildVerityTree(data.get(), 0, dataPath, params, out.fd(), 0, hashPath);
    out.commit(0644);
    return tree;
}

// ---- verifying --------------------------------------------------------------------------------

VerityVerifier::VerityVerifier(const VerityParams& params, const Sha256Digest& rootHash,
                               std::vector<uint8_t> hashArea, std::string where)
    : params_(params),
      layout_(verityLayout(params_)),
      rootHash_(rootHash),
      memory_(std::move(hashArea)),
      where_(std::move(where)),
      hasher_(std::make_unique<Hasher>(params_.salt)) {
    if (memory_.size() < layout_.areaBytes)
        throw verityError(where_ + ": " + std::to_string(memory_.size()) +
                          " bytes, but a verity tree over " + std::to_string(params_.dataBlocks) +
                          " data blocks needs " + std::to_string(layout_.areaBytes) +
                          " (truncated hash area)");
}

VerityVerifier::VerityVerifier(const VerityParams& params, const Sha256Digest& rootHash, int fd,
                               uint64_t offset, uint64_t size, std::string where)
    : params_(params),
      layout_(verityLayout(params_)),
      rootHash_(rootHash),
      fd_(fd),
      fileOffset_(offset),
      where_(std::move(where)),
      hasher_(std::make_unique<Hasher>(params_.salt)) {
    if (size < layout_.areaBytes)
        throw verityError(where_ + ": " + std::to_string(size) + " bytes, but a verity tree over " +
                          std::to_string(params_.dataBlocks) + " data blocks needs " +
                          std::to_string(layout_.areaBytes) + " (truncated hash area)");
}

VerityVerifier::~VerityVerifier() = default;

std::string VerityVerifier::blockWhere(uint64_t areaBlock) const {
    uint64_t byte = areaBlock * params_.hashBlockSize;
    std::string text = where_ + ": hash block " + std::to_string(areaBlock) + " (byte " +
                       std::to_string(byte) + " of the hash area";
    if (fd_ >= 0) text += ", file byte " + std::to_string(fileOffset_ + byte);
    return text + ")";
}

const uint8_t* VerityVerifier::hashBlock(size_t level, uint64_t indexInLevel) {
    const uint64_t areaBlock = layout_.levelFirstBlock[level] + indexInLevel;
    if (auto it = verified_.find(areaBlock); it != verified_.end()) return it->second.data();

    std::vector<uint8_t> block(params_.hashBlockSize);
    const uint64_t byte = areaBlock * params_.hashBlockSize;
    if (fd_ >= 0)
        detail::readAllAt(fd_, block.data(), block.size(), fileOffset_ + byte, where_);
    else
        std::copy_n(memory_.begin() + static_cast<long>(byte), block.size(), block.begin());

    Sha256Digest digest = hasher_->digest(block.data(), block.size());
    const size_t perBlock = params_.hashBlockSize / kVerityDigestSize;
    bool top = level + 1 == layout_.levels();
    const uint8_t* expected = top ? rootHash_.data()
                                  : hashBlock(level + 1, indexInLevel / perBlock) +
                                        (indexInLevel % perBlock) * kVerityDigestSize;
    if (!std::equal(digest.begin(), digest.end(), expected))
        throw VerityError(blockWhere(areaBlock) + ", level " + std::to_string(level) +
                              ": does not match " +
                              (top ? std::string("the root hash")
                                   : "its digest in level " + std::to_string(level + 1)),
                          VerityError::Kind::kHashBlock, areaBlock, byte);
    if (verified_.size() >= kCacheBlocks) verified_.clear();
    return verified_.emplace(areaBlock, std::move(block)).first->second.data();
}

void VerityVerifier::verifyBlock(uint64_t index, const uint8_t* data) {
    if (index >= params_.dataBlocks)
        throw verityError(where_ + ": data block " + std::to_string(index) +
                          " is outside the verity tree's " + std::to_string(params_.dataBlocks) +
                          " blocks");
    Sha256Digest digest = hasher_->digest(data, params_.dataBlockSize);
    const size_t perBlock = params_.hashBlockSize / kVerityDigestSize;
    const uint8_t* expected = layout_.levels() == 0 ? rootHash_.data()
                                                    : hashBlock(0, index / perBlock) +
                                                          (index % perBlock) * kVerityDigestSize;
    if (!std::equal(digest.begin(), digest.end(), expected))
        throw VerityError("data block " + std::to_string(index) + " (byte " +
                              std::to_string(index * params_.dataBlockSize) +
                              " of the data) does not match its digest in the verity tree",
                          VerityError::Kind::kDataBlock, index, index * params_.dataBlockSize);
}

void VerityVerifier::verifyTreeBlock(uint64_t areaBlock) {
    for (size_t level = 0; level < layout_.levels(); ++level) {
        uint64_t first = layout_.levelFirstBlock[level];
        if (areaBlock >= first && areaBlock - first < layout_.levelBlocks[level]) {
            hashBlock(level, areaBlock - first);
            return;
        }
    }
    throw verityError(where_ + ": block " + std::to_string(areaBlock) +
                      " of the hash area is not a tree block");
}

uint64_t VerityVerifier::verifyAll(int dataFd, uint64_t dataOffset, std::string_view dataWhere) {
    const uint64_t blockSize = params_.dataBlockSize;
    std::vector<uint8_t> buffer(kReadChunk / blockSize * blockSize);
    for (uint64_t block = 0; block < params_.dataBlocks;) {
        uint64_t count = std::min<uint64_t>(buffer.size() / blockSize, params_.dataBlocks - block);
        detail::readAllAt(dataFd, buffer.data(), count * blockSize, dataOffset + block * blockSize,
                          dataWhere);
        for (uint64_t i = 0; i < count; ++i) {
            try {
                verifyBlock(block + i, buffer.data() + i * blockSize);
            } catch (const VerityError& e) {
                if (e.kind() != VerityError::Kind::kDataBlock) throw;
                uint64_t byte = dataOffset + e.offset();
                throw VerityError(std::string(dataWhere) + ": block " + std::to_string(e.block()) +
                                      " (file byte " + std::to_string(byte) +
                                      ") does not match its digest in the verity tree",
                                  e.kind(), e.block(), byte);
            }
        }
        block += count;
    }
    return params_.dataBlocks;
}

uint64_t VerityVerifier::verifyAll(const std::string& dataPath) {
    ReadFd data(dataPath, "verity data file");
    uint64_t expected = params_.dataBlocks * params_.dataBlockSize;
    if (data.size() != expected)
        throw verityError(dataPath + ": " + std::to_string(data.size()) +
                          " bytes, but the verity tree covers " + std::to_string(expected));
    return verifyAll(data.get(), 0, dataPath);
}

}  // namespace ingot::image
