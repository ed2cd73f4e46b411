// The boot pack: the cpio "newc" archive in the image's boot partition, written through
// libarchive in the canonical form of docs/image-format.md ("Boot pack"): entries numbered from
// inode 1, mode 0100644, owner 0:0, one link, mtime 0, lower-case hex, 4-byte padding, and
// nothing after the trailer.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ingot/core/Sha256.h"

namespace ingot::image {

inline constexpr const char* kBootPackManifestName = "manifest.json";
inline constexpr const char* kBootPackSignatureName = "manifest.json.minisig";
inline constexpr const char* kBootPackKernelName = "kernel";
inline constexpr const char* kBootPackInitrdName = "initrd";

// One entry. Small ones (manifest, signature) live in memory; kernels and initrds are streamed
// from their files, so a pack never has to fit in memory.
struct BootPackMember {
    std::string name;   // printable ASCII, unique, not "TRAILER!!!"
    std::string bytes;  // the contents, when `path` is empty
    std::string path;   // otherwise the file to stream; it must still hold exactly `size` bytes
    uint64_t size = 0;

    static BootPackMember fromBytes(std::string name, std::string bytes);
    static BootPackMember fromFile(std::string name, std::string path, uint64_t size);
};

// The members of an ingot image's pack, in the documented order.
struct BootPackFile {
    std::string path;
    uint64_t size;
};
std::vector<BootPackMember> ingotBootPackMembers(std::string manifest, std::string signature,
                                                 const BootPackFile& kernel,
                                                 const std::optional<BootPackFile>& initrd);

// The exact length of the canonical archive of `members`, trailer included.
uint64_t bootPackSize(const std::vector<BootPackMember>& members);

// Receives the archive's bytes in order. It may throw; the writer passes the exception on.
using ByteSink = std::function<void(const void* data, size_t size)>;

// Writes the canonical archive to `sink` and returns the SHA-256 of each member's contents as
// they were written, so a caller that put digests in the manifest can prove it streamed the same
// bytes (a kernel replaced halfway through a build is caught, not shipped). Throws ingot::Error
// on a bad member, a file that changed size, or a libarchive failure.
std::vector<Sha256Digest> writeBootPack(const std::vector<BootPackMember>& members,
                                        const ByteSink& sink);

// The header the writer emits for an entry: the 110-byte newc header, the name, its NUL and the
// zero padding. `inode` is the entry's index + 1; the trailer is ("TRAILER!!!", 0, 0). Readers
// compare what they find with this to prove a pack canonical (tests hold it to the writer).
std::string canonicalEntryHeader(std::string_view name, uint64_t size, uint32_t inode);
inline constexpr const char* kBootPackTrailerName = "TRAILER!!!";

// The whole archive in memory (tests, small packs).
std::vector<uint8_t> buildBootPack(const std::vector<BootPackMember>& members);

}  // namespace ingot::image
