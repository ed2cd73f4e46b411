// Serialises a Tree as a deterministic pax tar through libarchive: step-cache snapshots,
// layered images and tests. Equal trees give equal bytes, whatever the host, its locale or the
// time: entries in the tree's path order ("./" first, then "./etc", …), numeric owners only,
// times from the tree, hard links as hard links, extended attributes as SCHILY.xattr records,
// names as raw bytes (hdrcharset=BINARY). readArchive*(writeTar(tree)) gives back a tree with
// the same digest.
#pragma once

#include <functional>
#include <string>

#include "ingot/imagebuild/Tree.h"

namespace ingot::imagebuild {

enum class TarCompression { kNone, kGzip, kZstd };

struct TarWriteOptions {
    TarCompression compression = TarCompression::kNone;
};

using TarSink = std::function<void(const void* data, size_t size)>;

// Throws ingot::Error for what tar cannot hold (a socket) and for a failing sink.
void writeTar(const Tree& tree, const TarSink& sink, const TarWriteOptions& options);
std::string writeTarMemory(const Tree& tree, const TarWriteOptions& options);
// Writes through a temporary file renamed over `path` when complete: no partial output.
void writeTarFile(const Tree& tree, const std::string& path, const TarWriteOptions& options);

}  // namespace ingot::imagebuild
