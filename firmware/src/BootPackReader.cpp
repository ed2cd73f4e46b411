#include "BootPackReader.h"

namespace ingot::fw {
namespace {

constexpr uint32_t kRegularFileMode = 0100644;

uint64_t align4(uint64_t v) {
    return (v + 3) & ~uint64_t{3};
}

size_t string_length(const char* s) {
    size_t n = 0;
    while (s[n]) ++n;
    return n;
}

void put_hex8(uint8_t* out, uint32_t value) {
    for (int i = 0; i < 8; ++i) out[i] = "0123456789abcdef"[(value >> (28 - 4 * i)) & 0xf];
}

// The 8 hex digits at `field`, or false. Only the file size is read this way: every other field
// is compared against its canonical value.
bool get_hex8(const uint8_t* field, uint32_t* value) {
    uint32_t v = 0;
    for (int i = 0; i < 8; ++i) {
        uint8_t c = field[i];
        uint32_t d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else return false;
        v = (v << 4) | d;
    }
    *value = v;
    return true;
}

}  // namespace

BootPackReader::BootPackReader(DiskReader& reader, uint64_t partition_offset,
                               uint64_t partition_size)
    : reader_(reader),
      start_(partition_offset),
      end_(partition_offset + partition_size),
      offset_(partition_offset) {}

bool BootPackReader::read_header(const char* name, uint32_t ino, uint32_t mode,
                                 uint64_t* file_size, bool* other_name, BootError* error) {
    uint32_t name_size = static_cast<uint32_t>(string_length(name)) + 1;
    uint8_t actual[kHeaderSize + kMaxNameSize + 4];
    // The name's length is not known before the header is read; read the fixed part first.
    if (offset_ + kHeaderSize > end_) {
        error->set(Refusal::kBadBootPack, "boot pack runs past its partition at entry ")
            .dec(index_);
        return false;
    }
    if (!reader_.read(offset_, kHeaderSize, actual, nullptr, "boot pack header", error))
        return false;
    uint32_t size32 = 0, actual_name_size = 0;
    if (!get_hex8(actual + 54, &size32) || !get_hex8(actual + 94, &actual_name_size) ||
        actual_name_size < 2 || actual_name_size > kMaxNameSize) {
        error->set(Refusal::kBadBootPack, "boot pack header ").dec(index_).add(" is malformed");
        return false;
    }
    uint64_t header_bytes = align4(kHeaderSize + actual_name_size);
    if (offset_ + header_bytes > end_) {
        error->set(Refusal::kBadBootPack, "boot pack runs past its partition at entry ")
            .dec(index_);
        return false;
    }
    if (!reader_.read(offset_ + kHeaderSize, header_bytes - kHeaderSize, actual + kHeaderSize,
                      nullptr, "boot pack header", error))
        return false;

    // A header with the right shape but another name: say which file is there instead.
    ByteView actual_name(actual + kHeaderSize, actual_name_size - 1);
    if (actual_name_size != name_size || !(actual_name == ByteView(name, name_size - 1))) {
        *other_name = true;
        error->set(Refusal::kBadBootPack, "boot pack entry ")
            .dec(index_)
            .add(" is '")
            .add(actual_name)
            .add("', expected '")
            .add(name)
            .add("'");
        return false;
    }

    uint8_t expected[kHeaderSize + kMaxNameSize + 4] = {};
    copy_bytes(expected, "070701", 6);
    const uint32_t fields[13] = {ino, mode, 0, 0, 1, 0, size32, 0, 0, 0, 0, name_size, 0};
    for (int i = 0; i < 13; ++i) put_hex8(expected + 6 + 8 * i, fields[i]);
    copy_bytes(expected + kHeaderSize, name, name_size - 1);
    if (!bytes_equal(expected, actual, header_bytes)) {
        error->set(Refusal::kBadBootPack, "boot pack header of '")
            .add(name)
            .add("' is not canonical (entry ")
            .dec(index_)
            .add(", disk offset ")
            .dec(offset_)
            .add(")");
        return false;
    }
    offset_ += header_bytes;
    *file_size = size32;
    return true;
}

BootPackReader::Next BootPackReader::next(const char* name, BootPackEntry* entry,
                                          BootError* error) {
    uint64_t size = 0;
    bool other_name = false;
    if (!read_header(name, index_ + 1, kRegularFileMode, &size, &other_name, error))
        return other_name ? Next::kOtherName : Next::kError;
    uint64_t data_end = offset_ + size;
    uint64_t next_header = start_ + align4(data_end - start_);
    if (next_header > end_) {
        error->set(Refusal::kBadBootPack, "boot pack file '")
            .add(name)
            .add("' runs past the boot partition");
        return Next::kError;
    }
    if (!reader_.expect_zero(data_end, next_header - data_end, "boot pack padding", error))
        return Next::kError;
    *entry = {offset_, size};
    offset_ = next_header;
    ++index_;
    return Next::kEntry;
}

bool BootPackReader::finish(BootError* error) {
    uint64_t size = 0;
    bool other_name = false;
    if (!read_header("TRAILER!!!", 0, 0, &size, &other_name, error)) return false;
    if (size != 0) {
        error->set(Refusal::kBadBootPack, "boot pack trailer has contents");
        return false;
    }
    return reader_.expect_zero(offset_, end_ - offset_, "boot partition after the trailer", error);
}

}  // namespace ingot::fw
