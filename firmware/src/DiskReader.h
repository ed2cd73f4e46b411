// Byte-addressed reads over a BlockDevice through a bounce buffer, hashing what passes. The
// boot pack is read once, front to back, and every byte is either checked against its canonical
// form or hashed on its way to its final place.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "BlockDevice.h"
#include "Refusal.h"
#include "ingot/fw/Sha256.h"

namespace ingot::fw {

class DiskReader {
public:
    // `bounce` must hold at least one sector; larger buffers mean fewer, larger requests.
    DiskReader(BlockDevice& disk, uint8_t* bounce, size_t bounce_size);

    // Copies disk bytes [offset, offset + size) to `destination` (when not null) and feeds them
    // to `hash` (when not null). `what` names the data in the error.
    bool read(uint64_t offset, uint64_t size, uint8_t* destination, Sha256* hash, const char* what,
              BootError* error);
    // Checks that disk bytes [offset, offset + size) are all zero.
    bool expect_zero(uint64_t offset, uint64_t size, const char* what, BootError* error);

    uint64_t disk_bytes() const { return disk_.sector_count() * BlockDevice::kSectorSize; }
    BlockDevice& disk() { return disk_; }

private:
    template <typename Consume>
    bool stream(uint64_t offset, uint64_t size, const char* what, BootError* error, Consume consume);

    BlockDevice& disk_;
    uint8_t* bounce_;
    size_t bounce_sectors_;
};

}  // namespace ingot::fw
