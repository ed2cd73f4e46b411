#include "ingot/fw/Cpio.h"

namespace ingot::fw {
namespace {

constexpr size_t kHeaderSize = 110;  // "070701" and 13 fields of 8 hex digits
constexpr size_t kFieldCount = 13;

enum Field : size_t {
    kInode,
    kMode,
    kUid,
    kGid,
    kLinkCount,
    kMtime,
    kFileSize,
    kDevMajor,
    kDevMinor,
    kRdevMajor,
    kRdevMinor,
    kNameSize,
    kChecksum,  // always 0 in newc; "070702" archives use it, and those are refused
};

bool parse_hex_field(const uint8_t* text, uint32_t* value) {
    uint32_t result = 0;
    for (size_t i = 0; i < 8; ++i) {
        uint8_t c = text[i];
        uint32_t digit;
        if (c >= '0' && c <= '9') {
            digit = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            digit = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            digit = c - 'A' + 10;
        } else {
            return false;
        }
        result = (result << 4) | digit;
    }
    *value = result;
    return true;
}

// Rounds up to the 4-byte alignment newc uses after names and file data. The caller guarantees
// offset <= the archive size, so this cannot wrap.
size_t align4(size_t offset) {
    return (offset + 3) & ~static_cast<size_t>(3);
}

}  // namespace

const char* to_string(CpioStatus status) {
    switch (status) {
        case CpioStatus::kOk:
            return "ok";
        case CpioStatus::kEnd:
            return "end of archive";
        case CpioStatus::kTruncated:
            return "cpio: archive is truncated";
        case CpioStatus::kMissingTrailer:
            return "cpio: archive has no TRAILER!!! entry";
        case CpioStatus::kBadMagic:
            return "cpio: not a newc (070701) archive";
        case CpioStatus::kBadHexField:
            return "cpio: invalid header field";
        case CpioStatus::kBadNameSize:
            return "cpio: invalid file name";
        case CpioStatus::kNotFound:
            return "cpio: file not found in archive";
        case CpioStatus::kDuplicateName:
            return "cpio: file occurs more than once in archive";
    }
    return "cpio: unknown status";
}

CpioStatus CpioReader::next(CpioEntry* entry) {
    if (sticky_ != CpioStatus::kOk) return sticky_;
    auto fail = [this](CpioStatus status) {
        sticky_ = status;
        return status;
    };

    if (offset_ >= archive_.size) return fail(CpioStatus::kMissingTrailer);
    ByteView header;
    if (!archive_.slice(offset_, kHeaderSize, &header)) return fail(CpioStatus::kTruncated);
    if (!header.starts_with(literal_bytes("070701"))) return fail(CpioStatus::kBadMagic);
    uint32_t fields[kFieldCount];
    for (size_t i = 0; i < kFieldCount; ++i) {
        if (!parse_hex_field(header.data + 6 + 8 * i, &fields[i])) {
            return fail(CpioStatus::kBadHexField);
        }
    }

    // All offsets below stay <= archive_.size: each step is checked with slice() first.
    size_t name_offset = offset_ + kHeaderSize;
    uint32_t name_size = fields[kNameSize];
    ByteView name_with_nul;
    if (name_size == 0) return fail(CpioStatus::kBadNameSize);
    if (!archive_.slice(name_offset, name_size, &name_with_nul)) {
        return fail(CpioStatus::kTruncated);
    }
    ByteView name(name_with_nul.data, name_size - 1);
    if (name_with_nul[name_size - 1] != 0) return fail(CpioStatus::kBadNameSize);
    for (size_t i = 0; i < name.size; ++i) {
        if (name[i] == 0) return fail(CpioStatus::kBadNameSize);
    }

    size_t data_offset = align4(name_offset + name_size);
    if (name == literal_bytes("TRAILER!!!")) {
        // What follows the trailer is block padding; it need not even be present.
        offset_ = name_offset + name_size;
        sticky_ = CpioStatus::kEnd;
        return CpioStatus::kEnd;
    }
    ByteView data;
    if (!archive_.slice(data_offset, fields[kFileSize], &data)) {
        return fail(CpioStatus::kTruncated);
    }
    size_t next_offset = align4(data_offset + data.size);
    if (next_offset > archive_.size) return fail(CpioStatus::kTruncated);

    entry->name = name;
    entry->inode = fields[kInode];
    entry->mode = fields[kMode];
    entry->uid = fields[kUid];
    entry->gid = fields[kGid];
    entry->link_count = fields[kLinkCount];
    entry->mtime = fields[kMtime];
    entry->dev_major = fields[kDevMajor];
    entry->dev_minor = fields[kDevMinor];
    entry->rdev_major = fields[kRdevMajor];
    entry->rdev_minor = fields[kRdevMinor];
    entry->data = data;
    offset_ = next_offset;
    return CpioStatus::kOk;
}

CpioStatus cpio_find(ByteView archive, ByteView name, CpioEntry* entry) {
    CpioReader reader(archive);
    bool found = false;
    for (;;) {
        CpioEntry candidate;
        CpioStatus status = reader.next(&candidate);
        if (status == CpioStatus::kEnd) break;
        if (status != CpioStatus::kOk) return status;
        if (candidate.name == name) {
            if (found) return CpioStatus::kDuplicateName;
            *entry = candidate;
            found = true;
        }
    }
    return found ? CpioStatus::kOk : CpioStatus::kNotFound;
}

}  // namespace ingot::fw
