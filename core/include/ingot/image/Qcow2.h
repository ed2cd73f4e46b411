#pragma once

// qcow2 version 3 copy-on-write overlays over a read-only base disk (docs/qcow2.md): the format
// every VM clone's disk is kept in, so that qemu-img info/check/convert/compare work on it.
// createQcow2 writes an empty overlay; Qcow2Image opens one (ours or written by QEMU), serves
// reads and writes through it, and treats the file as hostile input.
#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace ingot::image {

struct Qcow2CreateOptions {
    uint64_t virtualSize = 0;  // bytes, a positive multiple of 512
    std::string backingFile;   // recorded as given (an absolute path in practice); may be empty
    std::string backingFormat = "raw";
    unsigned clusterBits = 16;  // 64 KiB clusters; 9..21
};

// Writes a new empty overlay at `path` under a temporary name, then renames it into place. An
// existing file at `path` is never replaced: ingot::Error (status kUsage) naming it.
void createQcow2(const std::string& path, const Qcow2CreateOptions& options);

// An open overlay. Not thread-safe: one thread (the device's worker) uses it at a time.
//
// open() checks the header and the L1 and refcount tables as hostile input and throws
// ingot::Error (status kVerification) naming the file and the field; metadata found bad later
// (an L2 entry pointing outside the file, a compressed cluster) makes that request fail with EIO.
// Metadata is cached (the L1 and refcount tables whole, L2 tables and refcount blocks in bounded
// caches, written through); guest data is never held beyond the one cluster a partial
// copy-on-write needs.
class Qcow2Image {
public:
    // Reads `buffers` (total length) of guest data at `offset`; returns 0 or an errno value.
    using BackingRead = std::function<int(uint64_t offset, std::span<const iovec> buffers)>;
    struct Stats {
        uint64_t allocatedClusters;  // guest clusters with data in the overlay
        uint64_t fileBytes;          // the file's apparent size
        uint64_t hostBytes;          // bytes the host file system has allocated for it
    };

    static std::unique_ptr<Qcow2Image> open(const std::string& path, bool readOnly);
    ~Qcow2Image();
    Qcow2Image(const Qcow2Image&) = delete;
    Qcow2Image& operator=(const Qcow2Image&) = delete;

    uint64_t virtualSize() const { return virtualSize_; }
    uint64_t clusterSize() const { return clusterSize_; }
    const std::string& backingFile() const { return backingFile_; }
    const std::string& backingFormat() const { return backingFormat_; }

    // Where reads of clusters the overlay does not hold go (the verified base). Without one
    // they read as zeros.
    void setBacking(BackingRead read) { backing_ = std::move(read); }

    // Requests are byte ranges inside virtualSize(), 512-aligned (the caller checks); they may
    // span many clusters and cover clusters partly. All return 0 or an errno value.
    int read(uint64_t offset, std::span<const iovec> buffers);
    // Allocates clusters as needed; a partly written new cluster is filled from the backing.
    int write(uint64_t offset, std::span<const iovec> buffers);
    // Whole clusters become zero clusters (their data cluster is freed); partial ones are
    // written with zero bytes.
    int writeZeroes(uint64_t offset, uint64_t length);
    // Whole clusters become zero clusters, as writeZeroes (reads return zeros, never backing
    // data); partial clusters are left alone.
    int discard(uint64_t offset, uint64_t length);
    int flush();  // fdatasync
    Stats stats() const;
    // What made the last failing request fail (file, offset, metadata at fault), for logs.
    const std::string& lastError() const { return lastError_; }

private:
    class TableCache {
    public:
        explicit TableCache(size_t limit) : limit_(limit) {}
        uint8_t* find(uint64_t offset);
        uint8_t* insert(uint64_t offset, std::vector<uint8_t> bytes);

    private:
        struct Entry {
            std::vector<uint8_t> bytes;
            uint64_t lastUse;
        };
        size_t limit_;
        uint64_t clock_ = 0;
        std::unordered_map<uint64_t, Entry> tables_;
    };

    // What one guest cluster is in the overlay.
    enum class ClusterKind { kUnallocated, kZero, kZeroAllocated, kData, kCompressed };
    struct ClusterMapping {
        ClusterKind kind;
        uint64_t hostOffset;  // kData, kZeroAllocated: the data cluster
        bool copied;          // refcount exactly 1 (the entry may be written in place)
    };
    // A new or changed L2 entry to write once the data and refcounts it depends on are on disk.
    struct PendingLink {
        uint64_t guestCluster;
        uint64_t entry;
    };

    Qcow2Image(std::string path, int fd, bool readOnly);
    void readHeader();
    void readTables();

    static bool readsZeros(ClusterKind kind);
    ClusterMapping lookup(uint64_t guestCluster);
    uint8_t* loadTable(TableCache& cache, uint64_t offset, const char* what);
    uint8_t* l2Table(uint64_t l1Index, bool create);
    uint64_t refcount(uint64_t hostCluster);
    void setRefcount(uint64_t hostCluster, uint64_t value);
    uint64_t allocateCluster();
    void growRefcountTable(uint64_t neededIndex);
    void freeCluster(uint64_t hostCluster);
    void linkPending(std::vector<PendingLink>& pending);
    void barrier();
    void zeroClusters(uint64_t firstCluster, uint64_t count);
    void readGuest(uint64_t offset, uint64_t length, std::span<const iovec> buffers, uint64_t skip);
    void writeCluster(uint64_t guestCluster, uint64_t inCluster, uint64_t length,
                      std::span<const iovec> buffers, uint64_t skip,
                      std::vector<PendingLink>& pending);
    void writeMetadata(const void* bytes, size_t size, uint64_t offset);
    void checkWritable() const;
    template <typename Body>
    int guard(Body&& body);

    std::string path_;
    int fd_;
    bool readOnly_;
    bool broken_ = false;  // a metadata write failed: memory and file may disagree
    BackingRead backing_;
    std::string lastError_;

    uint64_t virtualSize_ = 0;
    unsigned clusterBits_ = 0;
    uint64_t clusterSize_ = 0;
    uint64_t l2Entries_ = 0;
    unsigned refcountOrder_ = 0;
    uint64_t refcountBlockEntries_ = 0;
    uint64_t l1Offset_ = 0;
    uint64_t refcountTableOffset_ = 0;
    uint64_t refcountTableClusters_ = 0;
    std::string backingFile_;
    std::string backingFormat_;

    std::vector<uint64_t> l1_;
    std::vector<uint64_t> refcountTable_;
    TableCache l2Cache_;
    TableCache refcountCache_;
    uint64_t fileSize_ = 0;
    uint64_t endCluster_ = 0;          // first cluster at or past the end of the file
    uint64_t freeSearch_ = 1;          // no free cluster below this one (0 is the header)
    bool syncNeeded_ = false;          // data or refcounts written since the last fdatasync
    std::vector<uint64_t> pendingL1_;  // L1 entries of new L2 tables, written after them
    std::vector<uint8_t> cowBuffer_;
    mutable int64_t allocatedDelta_ = 0;
    mutable bool allocatedCounted_ = false;
    mutable uint64_t allocatedBase_ = 0;
};

}  // namespace ingot::image
