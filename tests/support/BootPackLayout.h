#pragma once

// Where each member of an image's boot pack sits on the disk, computed from the canonical form
// (docs/image-format.md) rather than searched for: tests that tamper with one member must hit it.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "ingot/image/DiskImage.h"

namespace ingot::testing {

// Disk byte offset of the contents of `member` ("manifest.json", "manifest.json.minisig",
// "kernel", "initrd") in `image`'s boot partition.
inline uint64_t bootPackMemberOffset(const image::DiskImage& image, const std::string& member) {
    auto align4 = [](uint64_t v) { return (v + 3) & ~uint64_t{3}; };
    struct Entry {
        const char* name;
        uint64_t size;
    } entries[] = {{"manifest.json", image.manifestText.size()},
                   {"manifest.json.minisig", image.signature.size()},
                   {"kernel", image.manifest.kernel.size},
                   {"initrd", image.manifest.initrd ? image.manifest.initrd->size : 0}};
    uint64_t offset = image.manifest.partitions.at(0).firstLba * 512;
    for (const auto& e : entries) {
        uint64_t header = align4(110 + std::string(e.name).size() + 1);
        if (member == e.name) return offset + header;
        offset += header + align4(e.size);
    }
    throw std::invalid_argument("no boot pack member " + member);
}

}  // namespace ingot::testing
