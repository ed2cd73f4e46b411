// Base ingestion: archives (tar in every common dialect, cpio, Debian packages) read through
// libarchive into a Tree, never unpacked onto the host. Everything in an archive is untrusted:
// names are canonicalised with normalizePath (no "..", no NUL), nothing is ever written through
// a symlink, sizes are bounded, and any defect ends the read with an ingot::Error that names the
// archive and the entry. The rules are described in docs/tree.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "ingot/imagebuild/Tree.h"

namespace ingot::imagebuild {

struct ArchiveReadOptions {
    // Character and block devices and fifos are refused unless set: a base image's /dev is
    // normally populated at boot, and an unexpected device node in a tarball is a way in.
    bool allowDevices = false;
    // SOURCE_DATE_EPOCH semantics: mtimes later than this become this.
    std::optional<int64_t> clampMtime;
    // Tree path the archive's root is placed at ("" is the tree's root). Hard-link targets are
    // archive paths and get the same prefix; symlink targets are stored verbatim.
    std::string prefix;
    uint64_t maxEntryBytes = 4ull << 30;   // content of one entry
    uint64_t maxTotalBytes = 32ull << 30;  // content of all entries read
    uint64_t maxEntries = 4'000'000;       // headers, skipped ones included
};

// What a read found, for logs and provenance.
struct ArchiveSummary {
    std::string format;       // libarchive's name for the first entry's: "GNU tar format", …
    std::string compression;  // "gzip", "xz", "zstd", "bzip2", "none", …
    uint64_t entries = 0;     // headers read
    uint64_t contentBytes = 0;
    uint64_t socketsSkipped = 0;
};

// Reads a tar (ustar, GNU, pax; gzip/xz/zstd/bzip2/lzma compressed or not, detected from the
// bytes), a cpio archive, or a Debian package (an ar archive whose data.tar.* is read) into
// `tree`. Later entries replace earlier ones at the same path, as extracting would. Throws
// ingot::Error (ExitStatus::kUsage) naming `path` or `name`; `tree` may then hold part of the
// archive, so callers read into a scratch tree when they need all or nothing.
ArchiveSummary readArchiveFile(const std::string& path, Tree& tree,
                               const ArchiveReadOptions& options);
ArchiveSummary readArchiveMemory(std::string_view bytes, std::string_view name, Tree& tree,
                                 const ArchiveReadOptions& options);

// As readArchiveFile, but refuses anything that is not a Debian package.
ArchiveSummary readDebPackage(const std::string& path, Tree& tree,
                              const ArchiveReadOptions& options);
ArchiveSummary readDebPackageMemory(std::string_view bytes, std::string_view name, Tree& tree,
                                    const ArchiveReadOptions& options);

// The regular files of a Debian package's control tarball, by canonical name: "control",
// "md5sums", "conffiles", "postinst", … Throws when the package has no control file.
std::map<std::string, std::string> readDebControlFiles(const std::string& path);
std::map<std::string, std::string> readDebControlFilesMemory(std::string_view bytes,
                                                             std::string_view name);
// The text of the package's "control" file.
std::string readDebControl(const std::string& path);

}  // namespace ingot::imagebuild
