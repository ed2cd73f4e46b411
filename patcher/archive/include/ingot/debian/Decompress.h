// Single compressed streams (Packages.xz, a changelog.Debian.gz) decompressed with libarchive's
// raw format, bounded: what is read came from the network or from a package.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ingot::debian {

enum class Compression { kXz, kGzip };

// Decompresses `bytes`, which must be one stream of `compression`. Throws ingot::Error (kUsage)
// naming `source` when it is something else (the raw format would pass plain bytes through), is
// corrupt, or would decompress to more than maxBytes.
std::string decompress(std::string_view bytes, Compression compression, std::string_view source,
                       uint64_t maxBytes);

inline std::string gunzip(std::string_view bytes, std::string_view source, uint64_t maxBytes) {
    return decompress(bytes, Compression::kGzip, source, maxBytes);
}

}  // namespace ingot::debian
