#include "ingot/imagebuild/TarWriter.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <unordered_map>

#include "ingot/core/Error.h"
#include "ingot/core/TempFile.h"

namespace ingot::imagebuild {
namespace {

constexpr size_t kChunkSize = 1 << 20;

struct WriteDeleter {
    void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};

// The write callback runs inside libarchive's C frames: it parks an exception for the writer
// to rethrow instead of letting it cross them.
struct SinkState {
    const TarSink* sink = nullptr;
    std::exception_ptr error;
};

la_ssize_t writeCallback(archive*, void* client, const void* buffer, size_t length) {
    auto* state = static_cast<SinkState*>(client);
    try {
        (*state->sink)(buffer, length);
        return static_cast<la_ssize_t>(length);
    } catch (...) {
        state->error = std::current_exception();
        return ARCHIVE_FATAL;
    }
}

std::string tarName(const std::string& path) {
    return path.empty() ? "./" : "./" + path;
}

mode_t fileType(NodeType type) {
    switch (type) {
        case NodeType::kFile:
            return AE_IFREG;
        case NodeType::kDirectory:
            return AE_IFDIR;
        case NodeType::kSymlink:
            return AE_IFLNK;
        case NodeType::kCharDevice:
            return AE_IFCHR;
        case NodeType::kBlockDevice:
            return AE_IFBLK;
        case NodeType::kFifo:
            return AE_IFIFO;
        case NodeType::kSocket:
            return AE_IFSOCK;
    }
    return AE_IFREG;
}

class TarArchiveWriter {
public:
    TarArchiveWriter(const TarSink& sink, const TarWriteOptions& options)
        : archive_(archive_write_new()) {
        state_.sink = &sink;
        if (!archive_) throw Error("libarchive: cannot allocate an archive writer");
        // Restricted pax writes a ustar header plus pax records only where ustar falls short.
        // BINARY names skip the locale-dependent conversion to UTF-8 (which would make the
        // bytes depend on the host's locale) and read back byte for byte.
        check(archive_write_set_format_pax_restricted(a()), "select the pax format");
        check(archive_write_set_format_option(a(), "pax", "hdrcharset", "BINARY"),
              "select binary names");
        switch (options.compression) {
            case TarCompression::kNone:
                check(archive_write_add_filter_none(a()), "select no compression");
                break;
            case TarCompression::kGzip:
                check(archive_write_add_filter_gzip(a()), "select gzip");
                // gzip records the current time in its header unless told not to.
                check(archive_write_set_filter_option(a(), "gzip", "timestamp", nullptr),
                      "drop gzip's timestamp");
                break;
            case TarCompression::kZstd:
                check(archive_write_add_filter_zstd(a()), "select zstd");
                break;
        }
        // No padding after the end: it would follow a compressed stream, where libarchive's
        // own zstd reader (and zstd(1)) refuse it.
        check(archive_write_set_bytes_in_last_block(a(), 1), "set the last block size");
        check(archive_write_open(a(), &state_, nullptr, writeCallback, nullptr), "open");
    }

    void add(const std::string& path, const Inode& inode) {
        std::unique_ptr<archive_entry, EntryDeleter> entry(archive_entry_new());
        if (!entry) throw Error("libarchive: cannot allocate an entry");
        std::string name = tarName(path);
        if (inode.type == NodeType::kSocket)
            throw Error("cannot write " + name + " to a tar archive: tar cannot hold a socket",
                        ExitStatus::kUsage);
        archive_entry_set_pathname(entry.get(), name.c_str());
        archive_entry_set_filetype(entry.get(), fileType(inode.type));
        archive_entry_set_perm(entry.get(), inode.mode & 07777);
        archive_entry_set_uid(entry.get(), inode.uid);
        archive_entry_set_gid(entry.get(), inode.gid);
        archive_entry_set_mtime(entry.get(), inode.mtime, 0);
        for (const auto& [key, value] : inode.xattrs)
            archive_entry_xattr_add_entry(entry.get(), key.c_str(), value.data(), value.size());

        auto [first, fresh] = firstPath_.emplace(&inode, path);
        if (!fresh) {
            archive_entry_set_hardlink(entry.get(), tarName(first->second).c_str());
            archive_entry_set_size(entry.get(), 0);
            check(archive_write_header(a(), entry.get()), "write the header of " + name);
            return;
        }
        if (inode.type == NodeType::kSymlink)
            archive_entry_set_symlink(entry.get(), inode.symlinkTarget.c_str());
        if (inode.type == NodeType::kCharDevice || inode.type == NodeType::kBlockDevice) {
            archive_entry_set_rdevmajor(entry.get(), inode.rdevMajor);
            archive_entry_set_rdevminor(entry.get(), inode.rdevMinor);
        }
        const std::string* content =
            inode.type == NodeType::kFile && inode.content ? &inode.content->bytes() : nullptr;
        archive_entry_set_size(entry.get(), content ? static_cast<la_int64_t>(content->size()) : 0);
        check(archive_write_header(a(), entry.get()), "write the header of " + name);
        if (content) {
            const char* data = content->data();
            size_t left = content->size();
            while (left > 0) {
                la_ssize_t n = archive_write_data(a(), data, std::min(left, kChunkSize));
                if (n <= 0) check(ARCHIVE_FATAL, "write the content of " + name);
                data += n;
                left -= static_cast<size_t>(n);
            }
        }
        check(archive_write_finish_entry(a()), "finish " + name);
    }

    void close() { check(archive_write_close(a()), "write the end of the archive"); }

private:
    archive* a() { return archive_.get(); }

    void check(int status, const std::string& what) {
        if (state_.error) std::rethrow_exception(state_.error);
        if (status == ARCHIVE_OK) return;
        const char* message = archive_error_string(a());
        throw Error("cannot " + what +
                    " in a tar archive: " + (message ? message : "unknown libarchive error"));
    }

    std::unique_ptr<archive, WriteDeleter> archive_;
    SinkState state_;
    std::unordered_map<const Inode*, std::string> firstPath_;
};

}  // namespace

void writeTar(const Tree& tree, const TarSink& sink, const TarWriteOptions& options) {
    TarArchiveWriter writer(sink, options);
    for (const auto& [path, inode] : tree.entries()) writer.add(path, *inode);
    writer.close();
}

std::string writeTarMemory(const Tree& tree, const TarWriteOptions& options) {
    std::string out;
    writeTar(
        tree,
        [&out](const void* data, size_t size) { out.append(static_cast<const char*>(data), size); },
        options);
    return out;
}

void writeTarFile(const Tree& tree, const std::string& path, const TarWriteOptions& options) {
    TempFile file(path);
    writeTar(
        tree, [&file](const void* data, size_t size) { file.write(data, size); }, options);
    file.commit(0644);
}

}  // namespace ingot::imagebuild
