// Reader for cpio "newc" archives (magic 070701, as written by `cpio -H newc` and the Linux
// initramfs tools) held in memory. The boot pack is one of these.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ingot/fw/Bytes.h"

namespace ingot::fw {

enum class CpioStatus : uint8_t {
    kOk,              // an entry was read
    kEnd,             // the TRAILER!!! entry was reached; the archive is complete
    kTruncated,       // a header, name or file runs past the end of the buffer
    kMissingTrailer,  // the buffer ended between entries without a TRAILER!!!
    kBadMagic,        // not "070701" (other cpio formats are not supported)
    kBadHexField,     // a header field is not 8 hexadecimal digits
    kBadNameSize,     // name size 0, or the name is not NUL-terminated exactly at its end
    kNotFound,
    kDuplicateName,  // cpio_find: the name occurs more than once, so the lookup is ambiguous
};

const char* to_string(CpioStatus status);

struct CpioEntry {
    ByteView name;  // without the terminating NUL; never contains a NUL
    uint32_t inode;
    uint32_t mode;  // file type and permission bits, as in st_mode
    uint32_t uid;
    uint32_t gid;
    uint32_t link_count;
    uint32_t mtime;
    uint32_t dev_major;
    uint32_t dev_minor;
    uint32_t rdev_major;
    uint32_t rdev_minor;
    ByteView data;  // file contents (the target path for symbolic links)
};

inline constexpr uint32_t kCpioTypeMask = 0170000;
inline constexpr uint32_t kCpioTypeRegular = 0100000;
inline constexpr uint32_t kCpioTypeDirectory = 0040000;
inline constexpr uint32_t kCpioTypeSymlink = 0120000;

inline bool is_regular_file(const CpioEntry& entry) {
    return (entry.mode & kCpioTypeMask) == kCpioTypeRegular;
}

// Walks an archive entry by entry. Errors are sticky: once next() fails it keeps failing.
class CpioReader {
public:
    explicit CpioReader(ByteView archive) : archive_(archive) {}

    // kOk with *entry filled in, kEnd at the trailer, or an error.
    CpioStatus next(CpioEntry* entry);
    // Offset of the next header (after kEnd: just past the trailer's header and name).
    size_t offset() const { return offset_; }

private:
    ByteView archive_;
    size_t offset_ = 0;
    CpioStatus sticky_ = CpioStatus::kOk;
};

// Reads the whole archive (up to and including the trailer) and returns the one entry named
// `name`. Any malformation anywhere fails the lookup, as does a second entry with the same name.
CpioStatus cpio_find(ByteView archive, ByteView name, CpioEntry* entry);

}  // namespace ingot::fw
