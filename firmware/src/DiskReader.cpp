#include "DiskReader.h"

namespace ingot::fw {

DiskReader::DiskReader(BlockDevice& disk, uint8_t* bounce, size_t bounce_size)
    : disk_(disk), bounce_(bounce), bounce_sectors_(bounce_size / BlockDevice::kSectorSize) {}

template <typename Consume>
bool DiskReader::stream(uint64_t offset, uint64_t size, const char* what, BootError* error,
                        Consume consume) {
    constexpr uint64_t kSector = BlockDevice::kSectorSize;
    uint64_t end = offset + size;
    if (end < offset || end > disk_bytes()) {
        error->set(Refusal::kDiskError, "disk too short: ")
            .add(what)
            .add(" ends at byte ")
            .dec(end)
            .add(" but the disk has ")
            .dec(disk_bytes());
        return false;
    }
    uint64_t at = offset;
    while (at < end) {
        uint64_t sector = at / kSector;
        uint64_t skip = at % kSector;
        uint64_t want = end - at + skip;
        uint64_t sectors = (want + kSector - 1) / kSector;
        if (sectors > bounce_sectors_) sectors = bounce_sectors_;
        if (!disk_.read(sector, static_cast<uint32_t>(sectors), bounce_)) {
            error->set(Refusal::kDiskError, "I/O error reading ")
                .add(what)
                .add(" at sector ")
                .dec(sector);
            return false;
        }
        uint64_t chunk = sectors * kSector - skip;
        if (chunk > end - at) chunk = end - at;
        if (!consume(bounce_ + skip, static_cast<size_t>(chunk), at - offset)) return false;
        at += chunk;
    }
    return true;
}

bool DiskReader::read(uint64_t offset, uint64_t size, uint8_t* destination, Sha256* hash,
                      const char* what, BootError* error) {
    return stream(offset, size, what, error, [&](const uint8_t* bytes, size_t n, uint64_t done) {
        if (destination) copy_bytes(destination + done, bytes, n);
        if (hash) hash->update(bytes, n);
        return true;
    });
}

bool DiskReader::expect_zero(uint64_t offset, uint64_t size, const char* what, BootError* error) {
    return stream(offset, size, what, error, [&](const uint8_t* bytes, size_t n, uint64_t done) {
        for (size_t i = 0; i < n; ++i) {
            if (bytes[i] != 0) {
                error->set(Refusal::kBadBootPack, "non-zero byte in ")
                    .add(what)
                    .add(" at disk offset ")
                    .dec(offset + done + i);
                return false;
            }
        }
        return true;
    });
}

}  // namespace ingot::fw
