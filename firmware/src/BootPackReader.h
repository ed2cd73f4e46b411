// Reads the boot pack (docs/image-format.md) front to back off the boot partition. Headers are
// compared byte for byte with their canonical form; file contents are left to the caller, who
// hashes or verifies them. So no byte of the pack goes unchecked.
#pragma once

#include <stdint.h>

#include "DiskReader.h"

namespace ingot::fw {

struct BootPackEntry {
    uint64_t data_offset;  // disk byte offset of the file's contents
    uint64_t size;
};

class BootPackReader {
public:
    enum class Next : uint8_t { kEntry, kOtherName, kError };

    BootPackReader(DiskReader& reader, uint64_t partition_offset, uint64_t partition_size);

    // Reads the next header, which must name `name`. kOtherName when a canonical header names
    // another file (its name is in the error text); kError for anything else that is wrong.
    Next next(const char* name, BootPackEntry* entry, BootError* error);
    // Reads the trailer and checks that only zero bytes follow it up to the partition's end.
    bool finish(BootError* error);

    static constexpr uint32_t kMaxNameSize = 64;
    static constexpr uint32_t kHeaderSize = 110;

private:
    bool read_header(const char* name, uint32_t ino, uint32_t mode, uint64_t* file_size,
                     bool* other_name, BootError* error);

    DiskReader& reader_;
    uint64_t start_;
    uint64_t end_;
    uint64_t offset_;  // disk offset of the next header
    uint32_t index_ = 0;
};

}  // namespace ingot::fw
