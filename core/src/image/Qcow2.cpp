#include "ingot/image/Qcow2.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include "ReadAt.h"
#include "ingot/core/Error.h"
#include "ingot/core/IoVectors.h"
#include "ingot/core/TempFile.h"

namespace ingot::image {
namespace {

// Layout constants from QEMU's docs/interop/qcow2.txt (all fields big-endian).
constexpr uint32_t kMagic = 0x514649fb;  // "QFI\xfb"
constexpr uint32_t kHeaderV3Length = 104;
// With the compression type byte and padding to 8, as QEMU writes version 3 headers.
constexpr uint32_t kHeaderLength = 112;
constexpr uint32_t kExtensionEnd = 0;
constexpr uint32_t kExtensionBackingFormat = 0xe2792aca;
constexpr uint32_t kExtensionFeatureNames = 0x6803f857;
constexpr uint64_t kIncompatibleDirty = 1;
constexpr uint64_t kIncompatibleCorrupt = 2;

constexpr uint64_t kEntryCopied = 1ull << 63;            // L1/L2: refcount is exactly 1
constexpr uint64_t kEntryCompressed = 1ull << 62;        // L2
constexpr uint64_t kEntryZero = 1;                       // L2: the cluster reads as zeros
constexpr uint64_t kOffsetMask = 0x00fffffffffffe00ull;  // bits 9-55
constexpr uint64_t kL1Reserved = 0x7f000000000001ffull;  // bits 0-8, 56-62
constexpr uint64_t kL2Reserved = 0x3f000000000001feull;  // bits 1-8, 56-61 (standard clusters)
constexpr uint64_t kRefcountTableReserved = 0x1ff;       // bits 0-8

// QEMU's own limits (QCOW_MAX_L1_SIZE, QCOW_MAX_REFTABLE_SIZE): a header asking for more is
// refused before anything is allocated.
constexpr uint64_t kMaxL1Bytes = 32u << 20;
constexpr uint64_t kMaxRefcountTableBytes = 8u << 20;
constexpr size_t kMaxBackingName = 1023;
constexpr size_t kMaxBackingFormat = 15;
// Cache budgets: 32 MiB of L2 tables maps 256 GiB of guest disk with 64 KiB clusters.
constexpr size_t kL2CacheBytes = 32u << 20;
constexpr size_t kRefcountCacheBytes = 8u << 20;

// A request failed at run time: errno value plus what to log.
struct IoFailure {
    int error;
    std::string what;
};

uint64_t loadBe(const uint8_t* p, size_t bytes) {
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v = v << 8 | p[i];
    return v;
}

void storeBe(uint8_t* p, uint64_t v, size_t bytes) {
    for (size_t i = 0; i < bytes; ++i) p[bytes - 1 - i] = static_cast<uint8_t>(v >> (8 * i));
}

uint64_t roundUp8(uint64_t v) {
    return (v + 7) & ~uint64_t{7};
}

uint64_t ceilDiv(uint64_t a, uint64_t b) {
    return a / b + (a % b != 0);
}

std::string hex(uint64_t v) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    do {
        out.insert(out.begin(), digits[v & 15]);
        v >>= 4;
    } while (v);
    return "0x" + out;
}

// Refcounts narrower than a byte are packed from the least significant bit (QEMU's layout);
// wider ones are big-endian.
uint64_t getRefcount(const uint8_t* block, uint64_t index, unsigned order) {
    unsigned bits = 1u << order;
    if (bits >= 8) return loadBe(block + index * (bits / 8), bits / 8);
    uint64_t bit = index * bits;
    return (block[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
}

// Stores `value` and returns the byte range that changed (first byte, byte count).
std::pair<uint64_t, size_t> putRefcount(uint8_t* block, uint64_t index, unsigned order,
                                        uint64_t value) {
    unsigned bits = 1u << order;
    if (bits >= 8) {
        storeBe(block + index * (bits / 8), value, bits / 8);
        return {index * (bits / 8), bits / 8};
    }
    uint64_t bit = index * bits;
    uint8_t mask = static_cast<uint8_t>(((1u << bits) - 1) << (bit % 8));
    block[bit / 8] = static_cast<uint8_t>((block[bit / 8] & ~mask) | ((value << (bit % 8)) & mask));
    return {bit / 8, 1};
}

// preadv/pwritev of all of `buffers` (consumed as it goes), IOV_MAX at a time. A read that
// meets the end of the file fills the rest with zeros: QEMU may leave a cluster's tail unwritten.
void transfer(int fd, std::vector<iovec>& buffers, uint64_t offset, bool write) {
    size_t first = 0;
    while (first < buffers.size()) {
        if (buffers[first].iov_len == 0) {
            ++first;
            continue;
        }
        int count = static_cast<int>(std::min<size_t>(buffers.size() - first, IOV_MAX));
        ssize_t n = write ? ::pwritev(fd, &buffers[first], count, static_cast<off_t>(offset))
                          : ::preadv(fd, &buffers[first], count, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            throw IoFailure{errno, std::string(write ? "pwritev" : "preadv") + " at byte " +
                                       std::to_string(offset) + ": " + std::strerror(errno)};
        if (n == 0) {
            if (write)
                throw IoFailure{EIO, "pwritev wrote nothing at byte " + std::to_string(offset)};
            zeroIovecs(std::span<const iovec>(buffers).subspan(first));
            return;
        }
        offset += static_cast<uint64_t>(n);
        size_t left = static_cast<size_t>(n);
        while (left > 0) {
            size_t take = std::min(left, buffers[first].iov_len);
            buffers[first].iov_base = static_cast<uint8_t*>(buffers[first].iov_base) + take;
            buffers[first].iov_len -= take;
            left -= take;
            if (buffers[first].iov_len == 0) ++first;
        }
    }
}

[[noreturn]] void refuse(const std::string& path, const std::string& what) {
    throw Error(path + ": " + what, ExitStatus::kVerification);
}

}  // namespace

void createQcow2(const std::string& path, const Qcow2CreateOptions& options) {
    auto usage = [&](const std::string& what) {
        return Error("cannot create qcow2 image " + path + ": " + what, ExitStatus::kUsage);
    };
    if (options.clusterBits < 9 || options.clusterBits > 21)
        throw usage("cluster bits " + std::to_string(options.clusterBits) + " outside 9..21");
    if (options.virtualSize == 0 || options.virtualSize % 512 != 0)
        throw usage("virtual size " + std::to_string(options.virtualSize) +
                    " is not a positive multiple of 512");
    if (options.backingFile.size() > kMaxBackingName)
        throw usage("backing file name is " + std::to_string(options.backingFile.size()) +
                    " bytes; qcow2 allows " + std::to_string(kMaxBackingName));
    bool backed = !options.backingFile.empty();
    if (backed &&
        (options.backingFormat.empty() || options.backingFormat.size() > kMaxBackingFormat))
        throw usage("backing format name '" + options.backingFormat + "' is empty or longer than " +
                    std::to_string(kMaxBackingFormat) + " bytes");
    struct stat existing;
    if (::lstat(path.c_str(), &existing) == 0) throw usage(path + " already exists");

    const uint64_t cluster = uint64_t{1} << options.clusterBits;
    const uint64_t l2Entries = cluster / 8;
    // Divided in two steps: cluster * l2Entries can reach 2^39, the size 2^64.
    const uint64_t l1Size = ceilDiv(ceilDiv(options.virtualSize, cluster), l2Entries);
    if (l1Size * 8 > kMaxL1Bytes)
        throw usage("virtual size " + std::to_string(options.virtualSize) +
                    " needs an L1 table larger than 32 MiB with " + std::to_string(cluster) +
                    "-byte clusters; use larger clusters");

    uint64_t formatExtension = backed ? 8 + roundUp8(options.backingFormat.size()) : 0;
    uint64_t backingOffset = kHeaderLength + formatExtension + 8;
    if (backingOffset + options.backingFile.size() > cluster)
        throw usage("header and backing file name do not fit in one " + std::to_string(cluster) +
                    "-byte cluster");

    // Cluster 0 header, then the refcount table, the refcount blocks and the L1 table. The
    // blocks must count themselves, so their number is found by iterating.
    const uint64_t refcountOrder = 4;
    const uint64_t blockEntries = cluster * 8 >> refcountOrder;
    const uint64_t l1Clusters = ceilDiv(l1Size * 8, cluster);
    uint64_t tableClusters = 1, blocks = 1;
    for (;;) {
        uint64_t total = 1 + tableClusters + blocks + l1Clusters;
        uint64_t neededBlocks = ceilDiv(total, blockEntries);
        uint64_t neededTable = ceilDiv(neededBlocks * 8, cluster);
        if (neededBlocks <= blocks && neededTable <= tableClusters) break;
        blocks = std::max(blocks, neededBlocks);
        tableClusters = std::max(tableClusters, neededTable);
    }
    const uint64_t total = 1 + tableClusters + blocks + l1Clusters;
    const uint64_t tableOffset = cluster;
    const uint64_t blocksOffset = tableOffset + tableClusters * cluster;
    const uint64_t l1Offset = blocksOffset + blocks * cluster;

    std::vector<uint8_t> file(total * cluster, 0);
    uint8_t* h = file.data();
    storeBe(h + 0, kMagic, 4);
    storeBe(h + 4, 3, 4);
    storeBe(h + 8, backed ? backingOffset : 0, 8);
    storeBe(h + 16, options.backingFile.size(), 4);
    storeBe(h + 20, options.clusterBits, 4);
    storeBe(h + 24, options.virtualSize, 8);
    storeBe(h + 36, l1Size, 4);
    storeBe(h + 40, l1Offset, 8);
    storeBe(h + 48, tableOffset, 8);
    storeBe(h + 56, tableClusters, 4);
    storeBe(h + 96, refcountOrder, 4);
    storeBe(h + 100, kHeaderLength, 4);
    // Byte 104, the compression type, stays 0 (zlib); we never write compressed clusters.
    uint8_t* extension = h + kHeaderLength;
    if (backed) {
        storeBe(extension, kExtensionBackingFormat, 4);
        storeBe(extension + 4, options.backingFormat.size(), 4);
        std::memcpy(extension + 8, options.backingFormat.data(), options.backingFormat.size());
        extension += formatExtension;
        std::memcpy(h + backingOffset, options.backingFile.data(), options.backingFile.size());
    }
    storeBe(extension, kExtensionEnd, 8);

    for (uint64_t b = 0; b < blocks; ++b)
        storeBe(file.data() + tableOffset + b * 8, blocksOffset + b * cluster, 8);
    for (uint64_t c = 0; c < total; ++c)
        putRefcount(file.data() + blocksOffset + c / blockEntries * cluster, c % blockEntries,
                    refcountOrder, 1);

    TempFile out(path);
    out.write(file.data(), file.size());
    // The overlay holds the guest's writes, which may be secrets.
    out.commitWithoutReplacing(0600);
}

// --- the table cache ---

uint8_t* Qcow2Image::TableCache::find(uint64_t offset) {
    auto it = tables_.find(offset);
    if (it == tables_.end()) return nullptr;
    it->second.lastUse = ++clock_;
    return it->second.bytes.data();
}

uint8_t* Qcow2Image::TableCache::insert(uint64_t offset, std::vector<uint8_t> bytes) {
    if (tables_.size() >= limit_ && !tables_.count(offset)) {
        // Write-through, so evicting is forgetting; a linear scan is cheap next to the read.
        auto oldest = tables_.begin();
        for (auto it = tables_.begin(); it != tables_.end(); ++it)
            if (it->second.lastUse < oldest->second.lastUse) oldest = it;
        tables_.erase(oldest);
    }
    Entry& entry = tables_[offset];
    entry.bytes = std::move(bytes);
    entry.lastUse = ++clock_;
    return entry.bytes.data();
}

// --- opening ---

Qcow2Image::Qcow2Image(std::string path, int fd, bool readOnly)
    : path_(std::move(path)), fd_(fd), readOnly_(readOnly), l2Cache_(1), refcountCache_(1) {}

Qcow2Image::~Qcow2Image() {
    ::close(fd_);
}

std::unique_ptr<Qcow2Image> Qcow2Image::open(const std::string& path, bool readOnly) {
    int fd = ::open(path.c_str(), (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) throwSystemError("cannot open qcow2 image " + path, errno, ExitStatus::kUsage);
    std::unique_ptr<Qcow2Image> image(new Qcow2Image(path, fd, readOnly));
    image->readHeader();
    image->readTables();
    return image;
}

void Qcow2Image::readHeader() {
    struct stat st;
    if (::fstat(fd_, &st) < 0) throwSystemError("cannot stat " + path_, errno, ExitStatus::kUsage);
    fileSize_ = static_cast<uint64_t>(st.st_size);
    if (fileSize_ < kHeaderV3Length)
        refuse(path_, "file is " + std::to_string(fileSize_) +
                          " bytes, shorter than a qcow2 version 3 header (104 bytes)");
    uint8_t fixed[kHeaderV3Length];
    detail::readAllAt(fd_, fixed, sizeof fixed, 0, path_ + " (qcow2 header)");
    uint32_t magic = static_cast<uint32_t>(loadBe(fixed, 4));
    if (magic != kMagic)
        refuse(path_, "not a qcow2 image (magic " + hex(magic) + " at byte 0, expected " +
                          hex(kMagic) + ")");
    uint32_t version = static_cast<uint32_t>(loadBe(fixed + 4, 4));
    if (version == 2)
        refuse(path_,
               "qcow2 version 2 (compat=0.10) at byte 4; only version 3 is supported "
               "(upgrade with: qemu-img amend -f qcow2 -o compat=1.1 " +
                   path_ + ")");
    if (version != 3)
        refuse(path_, "unsupported qcow2 version " + std::to_string(version) + " at byte 4");

    uint32_t clusterBits = static_cast<uint32_t>(loadBe(fixed + 20, 4));
    if (clusterBits < 9 || clusterBits > 21)
        refuse(path_, "cluster_bits " + std::to_string(clusterBits) + " at byte 20 outside 9..21");
    clusterBits_ = clusterBits;
    clusterSize_ = uint64_t{1} << clusterBits;
    l2Entries_ = clusterSize_ / 8;

    uint32_t headerLength = static_cast<uint32_t>(loadBe(fixed + 100, 4));
    if (headerLength < kHeaderV3Length || headerLength > clusterSize_)
        refuse(path_, "header_length " + std::to_string(headerLength) +
                          " at byte 100 outside 104.." + std::to_string(clusterSize_));
    if (headerLength > fileSize_)
        refuse(path_, "header_length " + std::to_string(headerLength) +
                          " runs past the end of "
                          "the file (" +
                          std::to_string(fileSize_) + " bytes)");
    std::vector<uint8_t> header(std::min(clusterSize_, fileSize_));
    detail::readAllAt(fd_, header.data(), header.size(), 0, path_ + " (qcow2 header)");
    const uint8_t* h = header.data();

    uint64_t backingOffset = loadBe(h + 8, 8);
    uint32_t backingSize = static_cast<uint32_t>(loadBe(h + 16, 4));
    virtualSize_ = loadBe(h + 24, 8);
    uint32_t cryptMethod = static_cast<uint32_t>(loadBe(h + 32, 4));
    uint32_t l1Size = static_cast<uint32_t>(loadBe(h + 36, 4));
    l1Offset_ = loadBe(h + 40, 8);
    refcountTableOffset_ = loadBe(h + 48, 8);
    refcountTableClusters_ = loadBe(h + 56, 4);
    uint32_t snapshots = static_cast<uint32_t>(loadBe(h + 60, 4));
    uint64_t incompatible = loadBe(h + 72, 8);
    uint64_t autoclear = loadBe(h + 88, 8);
    uint32_t refcountOrder = static_cast<uint32_t>(loadBe(h + 96, 4));

    // Extensions run from the end of the header to the backing file name, or the cluster end.
    std::vector<std::pair<std::pair<uint8_t, uint8_t>, std::string>> featureNames;
    uint64_t extensionsEnd = header.size();
    if (backingOffset != 0 && backingOffset < extensionsEnd) extensionsEnd = backingOffset;
    for (uint64_t at = headerLength; at + 8 <= extensionsEnd;) {
        uint32_t type = static_cast<uint32_t>(loadBe(h + at, 4));
        uint32_t length = static_cast<uint32_t>(loadBe(h + at + 4, 4));
        if (type == kExtensionEnd) break;
        uint64_t data = at + 8;
        if (length > extensionsEnd - data)
            refuse(path_, "header extension " + hex(type) + " at byte " + std::to_string(at) +
                              " has length " + std::to_string(length) + ", past byte " +
                              std::to_string(extensionsEnd));
        if (type == kExtensionBackingFormat) {
            if (length == 0 || length > kMaxBackingFormat)
                refuse(path_, "backing format name at byte " + std::to_string(data) + " is " +
                                  std::to_string(length) + " bytes (1.." +
                                  std::to_string(kMaxBackingFormat) + " allowed)");
            backingFormat_.assign(reinterpret_cast<const char*>(h + data), length);
        } else if (type == kExtensionFeatureNames) {
            for (uint64_t e = 0; e + 48 <= length; e += 48) {
                const char* name = reinterpret_cast<const char*>(h + data + e + 2);
                featureNames.push_back(
                    {{h[data + e], h[data + e + 1]}, std::string(name, strnlen(name, 46))});
            }
        }  // Anything else (bitmaps, encryption, external data name) is skipped.
        at = data + std::min<uint64_t>(roundUp8(length), extensionsEnd - data);
    }

    if (incompatible & kIncompatibleDirty)
        refuse(path_,
               "marked dirty (bit 0 of incompatible_features at byte 72): it was not "
               "closed cleanly and its refcounts may be stale; repair it with "
               "qemu-img check -r all " +
                   path_);
    if (incompatible & kIncompatibleCorrupt)
        refuse(path_,
               "marked corrupt (bit 1 of incompatible_features at byte 72) by QEMU; "
               "repair it with qemu-img check -r all " +
                   path_);
    for (unsigned bit = 2; bit < 64; ++bit) {
        if (!(incompatible >> bit & 1)) continue;
        std::string name = "unknown";
        for (const auto& [key, text] : featureNames)
            if (key.first == 0 && key.second == bit) name = text;
        refuse(path_, "incompatible feature bit " + std::to_string(bit) + " (" + name +
                          ") at byte 72 is not supported");
    }
    if (cryptMethod != 0)
        refuse(path_, "encrypted image (crypt_method " + std::to_string(cryptMethod) +
                          " at byte 32) is not supported");
    if (headerLength > kHeaderV3Length && h[104] != 0)
        refuse(path_, "compression type " + std::to_string(h[104]) +
                          " at byte 104 without "
                          "its incompatible feature bit");
    if (refcountOrder > 6)
        refuse(path_, "refcount_order " + std::to_string(refcountOrder) + " at byte 96 above 6");
    refcountOrder_ = refcountOrder;
    refcountBlockEntries_ = clusterSize_ * 8 >> refcountOrder;
    if (snapshots != 0 && !readOnly_)
        refuse(path_, "has " + std::to_string(snapshots) +
                          " internal snapshots (byte 60); "
                          "they are supported read-only only");

    uint64_t l1Needed = ceilDiv(ceilDiv(virtualSize_, clusterSize_), l2Entries_);
    if (l1Size > kMaxL1Bytes / 8)
        refuse(path_, "l1_size " + std::to_string(l1Size) + " at byte 36 exceeds " +
                          std::to_string(kMaxL1Bytes / 8) + " entries");
    if (l1Size < l1Needed)
        refuse(path_, "l1_size " + std::to_string(l1Size) +
                          " at byte 36 is too small for the "
                          "virtual size " +
                          std::to_string(virtualSize_) + " (needs " + std::to_string(l1Needed) +
                          ")");
    if (l1Size > 0) {
        if (l1Offset_ == 0 || l1Offset_ % clusterSize_ != 0)
            refuse(path_, "l1_table_offset " + std::to_string(l1Offset_) +
                              " at byte 40 is not a nonzero multiple of the cluster size");
        if (l1Offset_ > fileSize_ || uint64_t{l1Size} * 8 > fileSize_ - l1Offset_)
            refuse(path_, "L1 table (byte " + std::to_string(l1Offset_) + ", " +
                              std::to_string(l1Size) + " entries) lies outside the file (" +
                              std::to_string(fileSize_) + " bytes)");
    }
    l1_.resize(l1Size);

    if (refcountTableClusters_ == 0 ||
        refcountTableClusters_ > kMaxRefcountTableBytes / clusterSize_)
        refuse(path_, "refcount_table_clusters " + std::to_string(refcountTableClusters_) +
                          " at byte 56 outside 1.." +
                          std::to_string(kMaxRefcountTableBytes / clusterSize_));
    if (refcountTableOffset_ == 0 || refcountTableOffset_ % clusterSize_ != 0)
        refuse(path_, "refcount_table_offset " + std::to_string(refcountTableOffset_) +
                          " at byte 48 is not a nonzero multiple of the cluster size");
    uint64_t tableBytes = refcountTableClusters_ * clusterSize_;
    if (refcountTableOffset_ > fileSize_ || tableBytes > fileSize_ - refcountTableOffset_)
        refuse(path_, "refcount table (byte " + std::to_string(refcountTableOffset_) + ", " +
                          std::to_string(tableBytes) + " bytes) lies outside the file (" +
                          std::to_string(fileSize_) + " bytes)");

    if (backingOffset != 0 && backingSize != 0) {
        if (backingSize > kMaxBackingName)
            refuse(path_, "backing file name length " + std::to_string(backingSize) +
                              " at byte 16 exceeds " + std::to_string(kMaxBackingName));
        if (backingOffset < headerLength || backingOffset > header.size() ||
            backingSize > header.size() - backingOffset)
            refuse(path_, "backing file name (byte " + std::to_string(backingOffset) + ", " +
                              std::to_string(backingSize) +
                              " bytes) lies outside the header cluster");
        backingFile_.assign(reinterpret_cast<const char*>(h + backingOffset), backingSize);
    }

    if (autoclear != 0 && !readOnly_) {
        // The spec asks writers that do not maintain these features (bitmaps, raw external
        // data) to clear the bits, which tells QEMU the extra data is stale.
        uint8_t zero[8] = {};
        if (::pwrite(fd_, zero, 8, 88) != 8)
            throwSystemError("cannot clear autoclear_features of " + path_, errno);
    }
}

void Qcow2Image::readTables() {
    if (!l1_.empty()) {
        std::vector<uint8_t> bytes(l1_.size() * 8);
        detail::readAllAt(fd_, bytes.data(), bytes.size(), l1Offset_, path_ + " (L1 table)");
        for (size_t i = 0; i < l1_.size(); ++i) {
            uint64_t entry = loadBe(bytes.data() + i * 8, 8);
            uint64_t offset = entry & kOffsetMask;
            std::string where = "L1 entry " + std::to_string(i) + " (byte " +
                                std::to_string(l1Offset_ + i * 8) + ")";
            if (entry & kL1Reserved) refuse(path_, where + " has reserved bits set: " + hex(entry));
            if (offset % clusterSize_ != 0)
                refuse(path_,
                       where + " points to unaligned L2 table at byte " + std::to_string(offset));
            if (offset != 0 && (offset > fileSize_ || clusterSize_ > fileSize_ - offset))
                refuse(path_, where + " points to an L2 table at byte " + std::to_string(offset) +
                                  ", past the end of the file (" + std::to_string(fileSize_) +
                                  " bytes)");
            l1_[i] = entry;
        }
    }

    uint64_t tableBytes = refcountTableClusters_ * clusterSize_;
    std::vector<uint8_t> bytes(tableBytes);
    detail::readAllAt(fd_, bytes.data(), bytes.size(), refcountTableOffset_,
                      path_ + " (refcount table)");
    refcountTable_.resize(tableBytes / 8);
    for (size_t i = 0; i < refcountTable_.size(); ++i) {
        uint64_t entry = loadBe(bytes.data() + i * 8, 8);
        std::string where = "refcount table entry " + std::to_string(i) + " (byte " +
                            std::to_string(refcountTableOffset_ + i * 8) + ")";
        if (entry & kRefcountTableReserved)
            refuse(path_, where + " has reserved bits set: " + hex(entry));
        if (entry % clusterSize_ != 0)
            refuse(path_, where + " points to an unaligned refcount block");
        if (entry != 0 && (entry > fileSize_ || clusterSize_ > fileSize_ - entry))
            refuse(path_, where + " points to a refcount block at byte " + std::to_string(entry) +
                              ", past the end of the file");
        refcountTable_[i] = entry;
    }

    endCluster_ = ceilDiv(fileSize_, clusterSize_);
    l2Cache_ = TableCache(std::max<size_t>(4, kL2CacheBytes / clusterSize_));
    refcountCache_ = TableCache(std::max<size_t>(4, kRefcountCacheBytes / clusterSize_));
}

// --- metadata ---

uint8_t* Qcow2Image::loadTable(TableCache& cache, uint64_t offset, const char* what) {
    if (uint8_t* table = cache.find(offset)) return table;
    if (offset > fileSize_ || clusterSize_ > fileSize_ - offset)
        throw IoFailure{EIO, std::string(what) + " at byte " + std::to_string(offset) +
                                 " lies past the end of the file"};
    std::vector<uint8_t> bytes(clusterSize_);
    std::vector<iovec> buffer{{bytes.data(), bytes.size()}};
    transfer(fd_, buffer, offset, false);
    return cache.insert(offset, std::move(bytes));
}

void Qcow2Image::writeMetadata(const void* bytes, size_t size, uint64_t offset) {
    std::vector<iovec> buffer{{const_cast<void*>(bytes), size}};
    transfer(fd_, buffer, offset, true);
    fileSize_ = std::max(fileSize_, offset + size);
    syncNeeded_ = true;
}

void Qcow2Image::barrier() {
    if (!syncNeeded_) return;
    if (::fdatasync(fd_) < 0)
        throw IoFailure{errno, std::string("fdatasync: ") + std::strerror(errno)};
    syncNeeded_ = false;
}

Qcow2Image::ClusterMapping Qcow2Image::lookup(uint64_t guestCluster) {
    uint64_t l1Index = guestCluster / l2Entries_;
    if (l1Index >= l1_.size() || (l1_[l1Index] & kOffsetMask) == 0)
        return {ClusterKind::kUnallocated, 0, false};
    const uint8_t* table = l2Table(l1Index, false);
    uint64_t index = guestCluster % l2Entries_;
    uint64_t entry = loadBe(table + index * 8, 8);
    auto where = [&] {
        return "L2 entry " + std::to_string(index) + " of the table at byte " +
               std::to_string(l1_[l1Index] & kOffsetMask);
    };
    if (entry & kEntryCompressed) return {ClusterKind::kCompressed, 0, false};
    if (entry & kL2Reserved)
        throw IoFailure{EIO, where() + " has reserved bits set: " + hex(entry)};
    uint64_t host = entry & kOffsetMask;
    bool zero = entry & kEntryZero;
    if (host == 0) return {zero ? ClusterKind::kZero : ClusterKind::kUnallocated, 0, false};
    if (host % clusterSize_ != 0)
        throw IoFailure{EIO, where() + " points to unaligned byte " + std::to_string(host)};
    if (host >= fileSize_)
        throw IoFailure{EIO, where() + " points to byte " + std::to_string(host) +
                                 ", past the end of the file (" + std::to_string(fileSize_) +
                                 " bytes)"};
    return {zero ? ClusterKind::kZeroAllocated : ClusterKind::kData, host,
            (entry & kEntryCopied) != 0};
}

uint8_t* Qcow2Image::l2Table(uint64_t l1Index, bool create) {
    uint64_t offset = l1_[l1Index] & kOffsetMask;
    if (offset != 0) {
        if (create && !(l1_[l1Index] & kEntryCopied))
            throw IoFailure{EIO, "L1 entry " + std::to_string(l1Index) +
                                     " is shared (no COPIED flag); snapshots are read-only"};
        return loadTable(l2Cache_, offset, "L2 table");
    }
    if (!create) return nullptr;
    // A new table is written zeroed now and linked from L1 by linkPending, after a barrier.
    offset = allocateCluster() << clusterBits_;
    std::vector<uint8_t> zeros(clusterSize_, 0);
    writeMetadata(zeros.data(), zeros.size(), offset);
    l1_[l1Index] = offset | kEntryCopied;
    pendingL1_.push_back(l1Index);
    return l2Cache_.insert(offset, std::move(zeros));
}

uint64_t Qcow2Image::refcount(uint64_t hostCluster) {
    uint64_t index = hostCluster / refcountBlockEntries_;
    if (index >= refcountTable_.size() || refcountTable_[index] == 0) return 0;
    const uint8_t* block = loadTable(refcountCache_, refcountTable_[index], "refcount block");
    return getRefcount(block, hostCluster % refcountBlockEntries_, refcountOrder_);
}

void Qcow2Image::setRefcount(uint64_t hostCluster, uint64_t value) {
    uint64_t index = hostCluster / refcountBlockEntries_;
    uint64_t blockOffset = refcountTable_.at(index);
    uint8_t* block = loadTable(refcountCache_, blockOffset, "refcount block");
    auto [at, size] =
        putRefcount(block, hostCluster % refcountBlockEntries_, refcountOrder_, value);
    writeMetadata(block + at, size, blockOffset + at);
}

uint64_t Qcow2Image::allocateCluster() {
    for (;;) {
        uint64_t c = freeSearch_;
        while (c < endCluster_ && refcount(c) != 0) ++c;
        freeSearch_ = c;
        if (c >= endCluster_ && refcount(c) != 0)
            throw IoFailure{EIO, "cluster " + std::to_string(c) +
                                     " past the end of the file has a nonzero refcount"};
        uint64_t index = c / refcountBlockEntries_;
        if (index >= refcountTable_.size()) {
            growRefcountTable(index);
            continue;
        }
        if (refcountTable_[index] == 0) {
            // No block counts this range, so all of it is free: the new block goes at `c` and
            // counts itself. Its contents must be on disk before the table points to it.
            std::vector<uint8_t> block(clusterSize_, 0);
            putRefcount(block.data(), c % refcountBlockEntries_, refcountOrder_, 1);
            uint64_t offset = c << clusterBits_;
            writeMetadata(block.data(), block.size(), offset);
            barrier();
            uint8_t entry[8];
            storeBe(entry, offset, 8);
            writeMetadata(entry, 8, refcountTableOffset_ + index * 8);
            refcountTable_[index] = offset;
            refcountCache_.insert(offset, std::move(block));
            endCluster_ = std::max(endCluster_, c + 1);
            continue;
        }
        setRefcount(c, 1);
        endCluster_ = std::max(endCluster_, c + 1);
        freeSearch_ = c + 1;
        return c;
    }
}

// A larger refcount table at the end of the file, with new blocks behind it for every range
// it and they occupy that no block counts yet. Everything new is written and synced before the
// header points to it; the old table is freed last, so a crash leaks at worst.
void Qcow2Image::growRefcountTable(uint64_t neededIndex) {
    const uint64_t perCluster = clusterSize_ / 8;
    const uint64_t start = endCluster_;
    auto uncounted = [&](uint64_t index) {
        return index >= refcountTable_.size() || refcountTable_[index] == 0;
    };
    uint64_t tableClusters =
        std::max(refcountTableClusters_ * 2, ceilDiv(neededIndex + 1, perCluster));
    uint64_t newBlocks = 0;
    for (;;) {
        uint64_t end = start + tableClusters + newBlocks;
        uint64_t first = start / refcountBlockEntries_, last = (end - 1) / refcountBlockEntries_;
        uint64_t missing = 0;
        for (uint64_t i = first; i <= last; ++i) missing += uncounted(i);
        uint64_t neededClusters = ceilDiv(std::max(neededIndex, last) + 1, perCluster);
        if (missing <= newBlocks && neededClusters <= tableClusters) break;
        newBlocks = std::max(newBlocks, missing);
        tableClusters = std::max(tableClusters, neededClusters);
    }
    if (tableClusters * clusterSize_ > kMaxRefcountTableBytes)
        throw IoFailure{EFBIG, "the refcount table would exceed 8 MiB"};

    const uint64_t end = start + tableClusters + newBlocks;
    for (uint64_t c = start; c < end; ++c)
        if (refcount(c) != 0)
            throw IoFailure{EIO, "cluster " + std::to_string(c) +
                                     " past the end of the file has a nonzero refcount"};

    std::vector<uint64_t> table(tableClusters * perCluster, 0);
    std::copy(refcountTable_.begin(), refcountTable_.end(), table.begin());
    std::vector<std::pair<uint64_t, std::vector<uint8_t>>> blocks;
    uint64_t nextBlock = start + tableClusters;
    for (uint64_t i = start / refcountBlockEntries_; i <= (end - 1) / refcountBlockEntries_; ++i) {
        if (!uncounted(i)) continue;
        table[i] = nextBlock++ << clusterBits_;
        blocks.push_back({table[i], std::vector<uint8_t>(clusterSize_, 0)});
    }
    for (uint64_t c = start; c < end; ++c) {
        uint64_t index = c / refcountBlockEntries_;
        if (!uncounted(index)) {
            setRefcount(c, 1);
            continue;
        }
        for (auto& [offset, bytes] : blocks)
            if (offset == table[index])
                putRefcount(bytes.data(), c % refcountBlockEntries_, refcountOrder_, 1);
    }
    for (auto& [offset, bytes] : blocks) writeMetadata(bytes.data(), bytes.size(), offset);
    std::vector<uint8_t> tableBytes(table.size() * 8);
    for (size_t i = 0; i < table.size(); ++i) storeBe(tableBytes.data() + i * 8, table[i], 8);
    writeMetadata(tableBytes.data(), tableBytes.size(), start << clusterBits_);
    barrier();

    uint8_t header[12];
    storeBe(header, start << clusterBits_, 8);
    storeBe(header + 8, tableClusters, 4);
    try {
        writeMetadata(header, sizeof header, 48);
        barrier();
    } catch (...) {
        broken_ = true;
        throw;
    }

    uint64_t oldFirst = refcountTableOffset_ >> clusterBits_;
    uint64_t oldClusters = refcountTableClusters_;
    refcountTable_ = std::move(table);
    refcountTableOffset_ = start << clusterBits_;
    refcountTableClusters_ = tableClusters;
    for (auto& [offset, bytes] : blocks) refcountCache_.insert(offset, std::move(bytes));
    endCluster_ = end;
    for (uint64_t c = 0; c < oldClusters; ++c) freeCluster(oldFirst + c);
}

void Qcow2Image::freeCluster(uint64_t hostCluster) {
    uint64_t count = refcount(hostCluster);
    if (count == 0 || hostCluster == 0)
        throw IoFailure{
            EIO, "cluster " + std::to_string(hostCluster) + " is in use but its refcount is 0"};
    setRefcount(hostCluster, count - 1);
    if (count != 1) return;
    freeSearch_ = std::min(freeSearch_, hostCluster);
    // Gives the space back to the host. Failing to is harmless: a reused cluster is always
    // written whole.
    (void)::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                      static_cast<off_t>(hostCluster << clusterBits_),
                      static_cast<off_t>(clusterSize_));
}

void Qcow2Image::linkPending(std::vector<PendingLink>& pending) {
    if (pending.empty() && pendingL1_.empty()) return;
    // Data, refcounts and new L2 tables first; only then what points to them.
    barrier();
    try {
        for (const PendingLink& link : pending) {
            uint64_t l1Index = link.guestCluster / l2Entries_;
            uint64_t tableOffset = l1_[l1Index] & kOffsetMask;
            uint8_t* table = l2Table(l1Index, false);
            uint64_t at = link.guestCluster % l2Entries_ * 8;
            storeBe(table + at, link.entry, 8);
            writeMetadata(table + at, 8, tableOffset + at);
        }
        for (uint64_t l1Index : pendingL1_) {
            uint8_t entry[8];
            storeBe(entry, l1_[l1Index], 8);
            writeMetadata(entry, 8, l1Offset_ + l1Index * 8);
        }
    } catch (...) {
        broken_ = true;
        pending.clear();
        pendingL1_.clear();
        throw;
    }
    pending.clear();
    pendingL1_.clear();
}

// --- guest I/O ---

template <typename Body>
int Qcow2Image::guard(Body&& body) {
    try {
        body();
        return 0;
    } catch (const IoFailure& failure) {
        lastError_ = path_ + ": " + failure.what;
        return failure.error;
    } catch (const std::bad_alloc&) {
        lastError_ = path_ + ": out of memory";
        return ENOMEM;
    }
}

void Qcow2Image::checkWritable() const {
    if (readOnly_) throw IoFailure{EROFS, "opened read-only"};
    if (broken_) throw IoFailure{EIO, "an earlier metadata update failed; reopen the image"};
}

bool Qcow2Image::readsZeros(ClusterKind kind) {
    return kind == ClusterKind::kZero || kind == ClusterKind::kZeroAllocated;
}

// Reads guest bytes [offset, offset + length) into `buffers` from byte `skip` on, cluster run
// by cluster run: adjacent clusters of one kind (and contiguous on the host) go in one call.
void Qcow2Image::readGuest(uint64_t offset, uint64_t length, std::span<const iovec> buffers,
                           uint64_t skip) {
    uint64_t done = 0;
    while (done < length) {
        uint64_t position = offset + done;
        uint64_t guestCluster = position >> clusterBits_;
        ClusterMapping first = lookup(guestCluster);
        uint64_t run = std::min(clusterSize_ - (position & (clusterSize_ - 1)), length - done);
        for (uint64_t next = guestCluster + 1; done + run < length; ++next) {
            ClusterMapping m = lookup(next);
            bool joins =
                (readsZeros(m.kind) && readsZeros(first.kind)) ||
                (m.kind == first.kind && m.kind == ClusterKind::kUnallocated) ||
                (m.kind == first.kind && m.kind == ClusterKind::kData &&
                 m.hostOffset == first.hostOffset + ((next - guestCluster) << clusterBits_));
            if (!joins) break;
            run += std::min(clusterSize_, length - done - run);
        }
        std::vector<iovec> slice = sliceIovecs(buffers, skip + done, run);
        switch (first.kind) {
            case ClusterKind::kData:
                transfer(fd_, slice, first.hostOffset + (position & (clusterSize_ - 1)), false);
                break;
            case ClusterKind::kZero:
            case ClusterKind::kZeroAllocated:
                zeroIovecs(slice);
                break;
            case ClusterKind::kUnallocated:
                if (backing_) {
                    if (int error = backing_(position, slice))
                        throw IoFailure{error, "backing read at byte " + std::to_string(position) +
                                                   ": " + std::strerror(error)};
                } else {
                    zeroIovecs(slice);
                }
                break;
            case ClusterKind::kCompressed:
                throw IoFailure{EIO, "guest cluster " + std::to_string(guestCluster) +
                                         " is compressed, which is not supported"};
        }
        done += run;
    }
}

int Qcow2Image::read(uint64_t offset, std::span<const iovec> buffers) {
    return guard([&] {
        uint64_t length = totalBytes(buffers);
        if (offset > virtualSize_ || length > virtualSize_ - offset)
            throw IoFailure{EINVAL, "read past the end of the virtual disk"};
        readGuest(offset, length, buffers, 0);
    });
}

// Writes `length` bytes at `inCluster` of one guest cluster. A cluster the overlay holds is
// written in place; otherwise a new cluster gets the old contents (backing data or zeros)
// around the new bytes, and its L2 entry is queued in `pending`.
void Qcow2Image::writeCluster(uint64_t guestCluster, uint64_t inCluster, uint64_t length,
                              std::span<const iovec> buffers, uint64_t skip,
                              std::vector<PendingLink>& pending) {
    ClusterMapping m = lookup(guestCluster);
    if (m.kind == ClusterKind::kCompressed)
        throw IoFailure{EIO, "guest cluster " + std::to_string(guestCluster) +
                                 " is compressed, which is not supported"};
    if ((m.kind == ClusterKind::kData || m.kind == ClusterKind::kZeroAllocated) && !m.copied)
        throw IoFailure{EIO, "guest cluster " + std::to_string(guestCluster) +
                                 " is shared (no COPIED flag); snapshots are read-only"};
    if (m.kind == ClusterKind::kData) {
        std::vector<iovec> slice = sliceIovecs(buffers, skip, length);
        transfer(fd_, slice, m.hostOffset + inCluster, true);
        return;
    }

    l2Table(guestCluster / l2Entries_, true);
    bool fresh = m.kind != ClusterKind::kZeroAllocated;
    uint64_t host = fresh ? allocateCluster() << clusterBits_ : m.hostOffset;
    try {
        if (length == clusterSize_) {
            std::vector<iovec> slice = sliceIovecs(buffers, skip, length);
            transfer(fd_, slice, host, true);
        } else {
            cowBuffer_.assign(clusterSize_, 0);
            uint64_t guestStart = guestCluster << clusterBits_;
            uint64_t inDisk = std::min(clusterSize_, virtualSize_ - guestStart);
            if (m.kind == ClusterKind::kUnallocated && backing_) {
                iovec whole{cowBuffer_.data(), inDisk};
                if (int error = backing_(guestStart, std::span<const iovec>(&whole, 1)))
                    throw IoFailure{error, "backing read at byte " + std::to_string(guestStart) +
                                               " for copy-on-write: " + std::strerror(error)};
            }
            copyFromIovecs(sliceIovecs(buffers, skip, length), cowBuffer_.data() + inCluster);
            std::vector<iovec> whole{{cowBuffer_.data(), clusterSize_}};
            transfer(fd_, whole, host, true);
        }
    } catch (...) {
        // Nothing points to the new cluster yet: give it back.
        if (fresh) {
            try {
                freeCluster(host >> clusterBits_);
            } catch (...) {
            }
        }
        throw;
    }
    fileSize_ = std::max(fileSize_, host + clusterSize_);
    syncNeeded_ = true;
    pending.push_back({guestCluster, host | kEntryCopied});
    if (fresh) ++allocatedDelta_;
}

int Qcow2Image::write(uint64_t offset, std::span<const iovec> buffers) {
    std::vector<PendingLink> pending;
    int error = guard([&] {
        checkWritable();
        uint64_t length = totalBytes(buffers);
        if (offset > virtualSize_ || length > virtualSize_ - offset)
            throw IoFailure{EINVAL, "write past the end of the virtual disk"};
        for (uint64_t done = 0; done < length;) {
            uint64_t position = offset + done;
            uint64_t inCluster = position & (clusterSize_ - 1);
            uint64_t n = std::min(clusterSize_ - inCluster, length - done);
            writeCluster(position >> clusterBits_, inCluster, n, buffers, done, pending);
            done += n;
        }
    });
    // Clusters written before a failure are linked all the same, so they do not leak.
    int linkError = guard([&] { linkPending(pending); });
    return error ? error : linkError;
}

// Turns whole guest clusters into zero clusters, one L2 table's worth at a time: the L2 entries
// reach the disk before the data clusters they pointed to are freed.
void Qcow2Image::zeroClusters(uint64_t firstCluster, uint64_t count) {
    std::vector<PendingLink> pending;
    std::vector<uint64_t> freed;
    for (uint64_t g = firstCluster; g < firstCluster + count;) {
        uint64_t tableEnd = std::min(firstCluster + count, (g / l2Entries_ + 1) * l2Entries_);
        for (; g < tableEnd; ++g) {
            ClusterMapping m = lookup(g);
            if (m.kind == ClusterKind::kZero) continue;
            if (m.kind == ClusterKind::kCompressed)
                throw IoFailure{EIO, "guest cluster " + std::to_string(g) +
                                         " is compressed, which is not supported"};
            if (m.kind != ClusterKind::kUnallocated && !m.copied)
                throw IoFailure{EIO, "guest cluster " + std::to_string(g) +
                                         " is shared (no COPIED flag); snapshots are read-only"};
            l2Table(g / l2Entries_, true);
            pending.push_back({g, kEntryZero});
            if (m.kind != ClusterKind::kUnallocated) freed.push_back(m.hostOffset >> clusterBits_);
        }
        linkPending(pending);
        if (!freed.empty()) {
            barrier();
            for (uint64_t c : freed) freeCluster(c);
            allocatedDelta_ -= static_cast<int64_t>(freed.size());
            freed.clear();
        }
    }
}

int Qcow2Image::writeZeroes(uint64_t offset, uint64_t length) {
    return guard([&] {
        checkWritable();
        if (offset > virtualSize_ || length > virtualSize_ - offset)
            throw IoFailure{EINVAL, "write past the end of the virtual disk"};
        uint64_t end = offset + length;
        // The disk's last cluster counts as whole when the range reaches the disk's end.
        uint64_t wholeFirst = ceilDiv(offset, clusterSize_);
        uint64_t wholeEnd = end == virtualSize_ ? ceilDiv(end, clusterSize_) : end / clusterSize_;
        std::vector<uint8_t> zeros;
        auto writePart = [&](uint64_t from, uint64_t to) {
            if (from >= to) return;
            zeros.assign(to - from, 0);
            iovec v{zeros.data(), zeros.size()};
            std::vector<PendingLink> pending;
            writeCluster(from >> clusterBits_, from & (clusterSize_ - 1), to - from,
                         std::span<const iovec>(&v, 1), 0, pending);
            linkPending(pending);
        };
        if (wholeFirst >= wholeEnd) {  // inside one cluster, or across one boundary
            uint64_t boundary = std::min(end, wholeFirst * clusterSize_);
            writePart(offset, boundary);
            writePart(boundary, end);
            return;
        }
        writePart(offset, wholeFirst * clusterSize_);
        zeroClusters(wholeFirst, wholeEnd - wholeFirst);
        writePart(std::min(end, wholeEnd * clusterSize_), end);
    });
}

int Qcow2Image::discard(uint64_t offset, uint64_t length) {
    return guard([&] {
        checkWritable();
        if (offset > virtualSize_ || length > virtualSize_ - offset)
            throw IoFailure{EINVAL, "discard past the end of the virtual disk"};
        uint64_t end = offset + length;
        uint64_t wholeFirst = ceilDiv(offset, clusterSize_);
        uint64_t wholeEnd = end == virtualSize_ ? ceilDiv(end, clusterSize_) : end / clusterSize_;
        if (wholeFirst < wholeEnd) zeroClusters(wholeFirst, wholeEnd - wholeFirst);
    });
}

int Qcow2Image::flush() {
    if (readOnly_) return 0;
    if (::fdatasync(fd_) < 0) return errno;
    syncNeeded_ = false;
    return 0;
}

Qcow2Image::Stats Qcow2Image::stats() const {
    if (!allocatedCounted_) {
        // Counted once from the L2 tables on disk (uncached: this is rare), then kept current.
        uint64_t count = 0;
        std::vector<uint8_t> table(clusterSize_);
        for (uint64_t entry : l1_) {
            uint64_t offset = entry & kOffsetMask;
            if (offset == 0) continue;
            if (::pread(fd_, table.data(), table.size(), static_cast<off_t>(offset)) !=
                static_cast<ssize_t>(table.size()))
                continue;
            for (uint64_t i = 0; i < l2Entries_; ++i) {
                uint64_t e = loadBe(table.data() + i * 8, 8);
                count += (e & kEntryCompressed) || (e & kOffsetMask) != 0;
            }
        }
        allocatedBase_ = count;
        allocatedDelta_ = 0;
        allocatedCounted_ = true;
    }
    struct stat st {};
    ::fstat(fd_, &st);
    return {allocatedBase_ + static_cast<uint64_t>(allocatedDelta_),
            static_cast<uint64_t>(st.st_size), static_cast<uint64_t>(st.st_blocks) * 512};
}

}  // namespace ingot::image
