#include "ingot/imagebuild/ArchiveReader.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include "ingot/core/Error.h"

namespace ingot::imagebuild {
namespace {

constexpr size_t kChunkSize = 64 * 1024;
constexpr size_t kMaxSymlinkTarget = 4095;    // PATH_MAX - 1: the kernel's own limit
constexpr size_t kMaxXattrValue = 64 * 1024;  // XATTR_SIZE_MAX
// A .deb's debian-binary and control members are small; bounding them keeps a hostile package
// from making us hold its data where we expect a few kilobytes.
constexpr uint64_t kMaxDebianBinary = 64;
constexpr uint64_t kMaxControlFile = 16ull << 20;
constexpr uint64_t kMaxControlTotal = 64ull << 20;
constexpr uint64_t kMaxControlEntries = 10'000;

[[noreturn]] void fail(const std::string& message) {
    throw Error(message, ExitStatus::kUsage);
}

// An entry name as shown in messages: control bytes in hostile names must not reach a terminal.
std::string quoted(std::string_view raw) {
    std::string out = "\"";
    for (unsigned char c : raw) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

std::string libarchiveMessage(archive* a) {
    const char* message = archive_error_string(a);
    // libarchive sets no message when input ends inside a header it is reading.
    return message ? message : "the input ends early (libarchive gives no details)";
}

std::string joinPath(const std::string& prefix, const std::string& path) {
    if (prefix.empty()) return path;
    if (path.empty()) return prefix;
    return prefix + "/" + path;
}

struct ReadDeleter {
    void operator()(archive* a) const { archive_read_free(a); }
};
using ReadHandle = std::unique_ptr<archive, ReadDeleter>;

// Attaches the bytes to a new reader: a file, a buffer, or a member of an enclosing archive.
using Opener = std::function<int(archive*)>;

enum class Formats { kBase, kTarOnly };

ReadHandle openReader(Formats formats, const Opener& open, const std::string& label) {
    ReadHandle a(archive_read_new());
    if (!a) throw Error("libarchive: cannot allocate an archive reader");
    // Only what bases and packages use: every other format or decoder is attack surface.
    // "tar" covers v7, ustar, GNU (long names, sparse) and pax.
    int status = archive_read_support_format_tar(a.get());
    if (formats == Formats::kBase) {
        if (status == ARCHIVE_OK) status = archive_read_support_format_cpio(a.get());
        if (status == ARCHIVE_OK) status = archive_read_support_format_ar(a.get());
    }
    // ARCHIVE_WARN here means libarchive would run an external program on the archive; a
    // missing library is a broken installation, not something to paper over.
    for (auto add : {archive_read_support_filter_gzip, archive_read_support_filter_xz,
                     archive_read_support_filter_lzma, archive_read_support_filter_zstd,
                     archive_read_support_filter_bzip2}) {
        if (status == ARCHIVE_OK) status = add(a.get());
    }
    if (status != ARCHIVE_OK)
        throw Error("libarchive cannot read " + label + ": " + libarchiveMessage(a.get()) +
                    " (is libarchive built with zlib, liblzma, libzstd and libbz2?)");
    if (open(a.get()) != ARCHIVE_OK)
        fail(label + ": cannot read: " + libarchiveMessage(a.get()) +
             " (ingot reads tar, cpio and Debian package archives, compressed with gzip, xz, "
             "zstd or bzip2 or not)");
    return a;
}

// libarchive converts names to the current locale and warns when it cannot; the bytes it then
// hands over are the archive's own, which is exactly what a tree keeps. Every other warning
// (a malformed pax header, a damaged sparse map, …) means an entry may be misread, so it fails.
bool isCharsetWarning(archive* a) {
    const char* message = archive_error_string(a);
    return message && std::strstr(message, "can't be converted from") != nullptr;
}

// Reads the next header; false at the end of the archive.
bool nextHeader(archive* a, archive_entry** entry, const std::string& label, uint64_t index,
                const std::string& previous) {
    int status = archive_read_next_header(a, entry);
    if (status == ARCHIVE_EOF) return false;
    if (status == ARCHIVE_OK || (status == ARCHIVE_WARN && isCharsetWarning(a))) return true;
    std::string where = label + ": entry " + std::to_string(index);
    if (!previous.empty()) where += " (after " + previous + ")";
    fail(where + ": " + libarchiveMessage(a) + "; the archive is damaged or incomplete");
}

// Reads an entry's content whole, within the per-entry and total limits. Blocks come straight
// from libarchive's buffers; the gaps between them are a sparse file's holes.
std::string readContent(archive* a, archive_entry* entry, const std::string& where,
                        uint64_t maxEntry, uint64_t* total, uint64_t maxTotal) {
    std::string content;
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0) {
        // A header may lie about the size; let the string grow with what actually arrives.
        content.reserve(static_cast<size_t>(
            std::min<uint64_t>(static_cast<uint64_t>(archive_entry_size(entry)), 16u << 20)));
    }
    for (;;) {
        const void* block = nullptr;
        size_t size = 0;
        la_int64_t offset = 0;
        int status = archive_read_data_block(a, &block, &size, &offset);
        if (status == ARCHIVE_EOF) break;
        if (status != ARCHIVE_OK)
            fail(where + ": cannot read its content: " + libarchiveMessage(a));
        if (offset < 0 || static_cast<uint64_t>(offset) < content.size())
            fail(where + ": content blocks out of order (a damaged sparse map?)");
        uint64_t end = static_cast<uint64_t>(offset) + size;
        if (end > maxEntry)
            fail(where + ": content is larger than the limit of " + std::to_string(maxEntry) +
                 " bytes");
        uint64_t added = end - content.size();
        if (*total + added > maxTotal)
            fail(where + ": the archive's content exceeds the limit of " +
                 std::to_string(maxTotal) + " bytes");
        *total += added;
        content.resize(static_cast<size_t>(offset), '\0');
        content.append(static_cast<const char*>(block), size);
    }
    // libarchive ends a sparse file at its last data block; a trailing hole is only the
    // declared size (archive_write_disk truncates to it). Any other short entry is damage.
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0 &&
        static_cast<uint64_t>(archive_entry_size(entry)) > content.size()) {
        uint64_t size = static_cast<uint64_t>(archive_entry_size(entry));
        if (archive_entry_sparse_count(entry) == 0)
            fail(where + ": content ends after " + std::to_string(content.size()) + " of its " +
                 std::to_string(size) + " bytes");
        if (size > maxEntry || *total + (size - content.size()) > maxTotal)
            fail(where + ": content is larger than the limits allow");
        *total += size - content.size();
        content.resize(static_cast<size_t>(size), '\0');
    }
    return content;
}

// Places the entries of one archive (a base, or a package's data.tar) in a tree.
class TreeLoader {
public:
    TreeLoader(Tree& tree, const ArchiveReadOptions& options, ArchiveSummary& summary)
        : tree_(tree), options_(options), summary_(summary) {
        prefix_ = normalizePath(options.prefix, "archive read prefix");
    }

    // `entry` is the first header, already read from `a`.
    void readEntries(archive* a, const std::string& label, archive_entry* entry) {
        uint64_t index = 1;
        std::string previous;
        do {
            countEntry(label, index);
            previous = add(a, entry, label, index);
            ++index;
        } while (nextHeader(a, &entry, label, index, previous));
    }

private:
    void countEntry(const std::string& label, uint64_t index) {
        if (++summary_.entries > options_.maxEntries)
            fail(label + ": entry " + std::to_string(index) + ": more than " +
                 std::to_string(options_.maxEntries) + " entries");
    }

    // Returns the entry's quoted name, for messages about what follows it.
    std::string add(archive* a, archive_entry* entry, const std::string& label, uint64_t index) {
        const char* rawName = archive_entry_pathname(entry);
        if (!rawName) rawName = archive_entry_pathname_utf8(entry);
        if (!rawName) fail(label + ": entry " + std::to_string(index) + " has no name");
        std::string shownName = quoted(rawName);
        std::string where = label + ": entry " + std::to_string(index) + " " + shownName;
        std::string path = joinPath(prefix_, normalizePath(rawName, where));

        if (archive_entry_acl_types(entry) != 0)
            fail(where +
                 ": carries ACLs, which ingot does not keep (dropping them could widen "
                 "access); recreate the archive without ACLs");

        if (const char* hardlink = archive_entry_hardlink(entry)) {
            std::string target =
                joinPath(prefix_, normalizePath(hardlink, where + " (hard-link target)"));
            tree_.link(path, target, where);
            // cpio keeps a linked file's data with its last name, and pax allows data on a
            // link: either way it is the shared inode's content.
            if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0) {
                auto inode = tree_.find(path);
                if (inode->type != NodeType::kFile)
                    fail(where + ": a hard link to a " + std::string(nodeTypeName(inode->type)) +
                         " carries data");
                std::string data = readContent(a, entry, where, options_.maxEntryBytes,
                                               &summary_.contentBytes, options_.maxTotalBytes);
                if (!data.empty()) inode->content = makeBlob(std::move(data));
            }
            return shownName;
        }

        auto inode = std::make_shared<Inode>();
        switch (archive_entry_filetype(entry)) {
            case AE_IFREG: {
                inode->type = NodeType::kFile;
                checkDeclaredSize(entry, where);
                std::string data = readContent(a, entry, where, options_.maxEntryBytes,
                                               &summary_.contentBytes, options_.maxTotalBytes);
                if (!data.empty()) inode->content = makeBlob(std::move(data));
                break;
            }
            case AE_IFDIR:
                inode->type = NodeType::kDirectory;
                break;
            case AE_IFLNK: {
                inode->type = NodeType::kSymlink;
                const char* target = archive_entry_symlink(entry);
                if (!target) target = archive_entry_symlink_utf8(entry);
                if (!target || !*target) fail(where + ": symlink with an empty target");
                inode->symlinkTarget = target;
                if (inode->symlinkTarget.size() > kMaxSymlinkTarget)
                    fail(where + ": symlink target is longer than " +
                         std::to_string(kMaxSymlinkTarget) + " bytes");
                break;
            }
            case AE_IFCHR:
                inode->type = NodeType::kCharDevice;
                break;
            case AE_IFBLK:
                inode->type = NodeType::kBlockDevice;
                break;
            case AE_IFIFO:
                inode->type = NodeType::kFifo;
                break;
            case AE_IFSOCK:
                // A socket is only meaningful while a process is bound to it; GNU tar does not
                // archive them either. Nothing of it is worth keeping in an image.
                ++summary_.socketsSkipped;
                return shownName;
            default:
                fail(where + ": unknown file type " +
                     std::to_string(archive_entry_filetype(entry)));
        }
        if (inode->type == NodeType::kCharDevice || inode->type == NodeType::kBlockDevice ||
            inode->type == NodeType::kFifo) {
            if (!options_.allowDevices)
                fail(where + ": is a " + std::string(nodeTypeName(inode->type)) +
                     "; device nodes and fifos are refused unless devices are allowed");
            if (inode->type != NodeType::kFifo) {
                inode->rdevMajor = static_cast<uint32_t>(archive_entry_rdevmajor(entry));
                inode->rdevMinor = static_cast<uint32_t>(archive_entry_rdevminor(entry));
            }
        }

        inode->mode = static_cast<uint32_t>(archive_entry_perm(entry)) & 07777;
        inode->uid = owner(archive_entry_uid(entry), "uid", where);
        inode->gid = owner(archive_entry_gid(entry), "gid", where);
        inode->mtime = archive_entry_mtime(entry);
        if (options_.clampMtime && inode->mtime > *options_.clampMtime)
            inode->mtime = *options_.clampMtime;
        readXattrs(entry, *inode, where);
        tree_.put(path, std::move(inode), where);
        return shownName;
    }

    void checkDeclaredSize(archive_entry* entry, const std::string& where) const {
        if (!archive_entry_size_is_set(entry)) return;
        int64_t size = archive_entry_size(entry);
        if (size < 0) fail(where + ": negative size " + std::to_string(size));
        if (static_cast<uint64_t>(size) > options_.maxEntryBytes)
            fail(where + ": declares " + std::to_string(size) + " bytes, more than the limit of " +
                 std::to_string(options_.maxEntryBytes) + " bytes per entry");
        if (summary_.contentBytes + static_cast<uint64_t>(size) > options_.maxTotalBytes)
            fail(where + ": declares " + std::to_string(size) +
                 " bytes, which takes the archive's content past the limit of " +
                 std::to_string(options_.maxTotalBytes) + " bytes");
    }

    static uint32_t owner(int64_t id, const char* what, const std::string& where) {
        // (uid_t)-1 means "unchanged" to chown and cannot own a file.
        if (id < 0 || id >= 0xffffffffll)
            fail(where + ": " + what + " " + std::to_string(id) + " is out of range");
        return static_cast<uint32_t>(id);
    }

    static void readXattrs(archive_entry* entry, Inode& inode, const std::string& where) {
        archive_entry_xattr_reset(entry);
        const char* name = nullptr;
        const void* value = nullptr;
        size_t size = 0;
        while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK) {
            if (!name || !*name) fail(where + ": an extended attribute has no name");
            if (size > kMaxXattrValue)
                fail(where + ": extended attribute " + quoted(name) + " is " +
                     std::to_string(size) + " bytes, more than " + std::to_string(kMaxXattrValue));
            inode.xattrs[name] = size ? std::string(static_cast<const char*>(value), size) : "";
        }
    }

    Tree& tree_;
    const ArchiveReadOptions& options_;
    ArchiveSummary& summary_;
    std::string prefix_;
};

// Feeds a member of an enclosing archive to a nested reader. It runs inside libarchive's C
// frames, so nothing may be thrown from it; a failure is parked for the message.
struct MemberSource {
    archive* outer = nullptr;
    std::vector<char> buffer = std::vector<char>(kChunkSize);
    const char* error = nullptr;
};

la_ssize_t readMember(archive*, void* client, const void** buffer) {
    auto* source = static_cast<MemberSource*>(client);
    la_ssize_t n = archive_read_data(source->outer, source->buffer.data(), source->buffer.size());
    if (n < 0) {
        source->error = archive_error_string(source->outer);
        return ARCHIVE_FATAL;
    }
    *buffer = source->buffer.data();
    return n;
}

// Runs `use` on a tar nested in the current member of `outer` (a .deb's control.tar.* or
// data.tar.*), read by its own libarchive reader that pulls the member's bytes as it goes.
template <typename Use>
void readNestedTar(archive* outer, const std::string& label, Use&& use) {
    MemberSource source;
    source.outer = outer;
    try {
        ReadHandle inner = openReader(
            Formats::kTarOnly,
            [&source](archive* a) {
                return archive_read_open(a, &source, nullptr, readMember, nullptr);
            },
            label);
        use(inner.get());
    } catch (const Error&) {
        // The member itself could not be read: that, not the nested reader's view, is the news.
        if (!source.error) throw;
        fail(label + ": cannot read the member: " + source.error +
             "; the package is damaged or incomplete");
    }
}

bool hasMemberName(std::string_view name, std::string_view stem) {
    return name == stem || (name.size() > stem.size() + 1 &&
                            name.compare(0, stem.size() + 1, std::string(stem) + ".") == 0);
}

// Walks a Debian package (`a` has read its first ar header, `first`): checks debian-binary,
// then reads data.tar.* into `loader` and/or the control tarball's files into `control`.
void readDeb(archive* a, archive_entry* first, const std::string& label, TreeLoader* loader,
             ArchiveSummary* summary, std::map<std::string, std::string>* control) {
    const char* firstName = archive_entry_pathname(first);
    if (!firstName || std::string_view(firstName) != "debian-binary")
        fail(label + ": an ar archive whose first member is " + quoted(firstName ? firstName : "") +
             ", not \"debian-binary\": not a Debian package");
    uint64_t scratch = 0;
    std::string version = readContent(a, first, label + ": debian-binary", kMaxDebianBinary,
                                      &scratch, kMaxDebianBinary);
    if (version.compare(0, 2, "2.") != 0)
        fail(label + ": debian-binary says " + quoted(version) +
             "; only format 2.x packages are supported");

    bool seenControl = false, seenData = false;
    archive_entry* entry = nullptr;
    uint64_t index = 2;
    std::string previous = "\"debian-binary\"";
    while (nextHeader(a, &entry, label, index, previous)) {
        const char* rawName = archive_entry_pathname(entry);
        std::string name = rawName ? rawName : "";
        previous = quoted(name);
        std::string memberLabel = label + ": " + name;
        if (hasMemberName(name, "control.tar")) {
            if (seenControl) fail(label + ": a second control member " + quoted(name));
            seenControl = true;
            if (control) {
                readNestedTar(a, memberLabel, [&](archive* tar) {
                    uint64_t total = 0, count = 0;
                    archive_entry* inner = nullptr;
                    while (nextHeader(tar, &inner, memberLabel, count + 1, "")) {
                        if (++count > kMaxControlEntries)
                            fail(memberLabel + ": more than " + std::to_string(kMaxControlEntries) +
                                 " entries");
                        const char* innerName = archive_entry_pathname(inner);
                        if (!innerName) continue;
                        std::string where = memberLabel + ": entry " + std::to_string(count) + " " +
                                            quoted(innerName);
                        std::string path = normalizePath(innerName, where);
                        if (archive_entry_filetype(inner) != AE_IFREG || path.empty()) continue;
                        (*control)[path] = readContent(tar, inner, where, kMaxControlFile, &total,
                                                       kMaxControlTotal);
                    }
                });
                if (!loader) break;  // the data member is not wanted
            }
        } else if (hasMemberName(name, "data.tar")) {
            if (seenData) fail(label + ": a second data member " + quoted(name));
            seenData = true;
            if (loader) {
                readNestedTar(a, memberLabel, [&](archive* tar) {
                    archive_entry* inner = nullptr;
                    if (nextHeader(tar, &inner, memberLabel, 1, ""))
                        loader->readEntries(tar, memberLabel, inner);
                    const char* format = archive_format_name(tar);
                    summary->format = format ? format : "tar";
                    summary->compression = archive_filter_name(tar, 0);
                });
            }
        } else if (!name.empty() && name[0] == '_') {
            // dpkg reserves names starting with '_' for additions it ignores.
        } else {
            fail(label + ": unexpected member " + quoted(name) +
                 " (a Debian package holds debian-binary, control.tar.* and data.tar.*)");
        }
        ++index;
    }
    if (loader && !seenData) fail(label + ": the package has no data.tar member");
    if (control && !seenControl) fail(label + ": the package has no control.tar member");
}

bool isAr(archive* a) {
    return (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_AR;
}

enum class Expect { kAnyArchive, kDebPackage };

ArchiveSummary readInto(const Opener& open, const std::string& label, Tree& tree,
                        const ArchiveReadOptions& options, Expect expect) {
    ArchiveSummary summary;
    TreeLoader loader(tree, options, summary);
    ReadHandle a = openReader(Formats::kBase, open, label);
    archive_entry* entry = nullptr;
    bool any = nextHeader(a.get(), &entry, label, 1, "");
    if (isAr(a.get())) {
        if (!any) fail(label + ": an empty ar archive, not a Debian package");
        readDeb(a.get(), entry, label, &loader, &summary, nullptr);
        return summary;
    }
    const char* format = archive_format_name(a.get());
    if (expect == Expect::kDebPackage)
        fail(label + ": not a Debian package (it is a " + (format ? format : "tar") + " archive)");
    summary.format = format ? format : "tar";
    summary.compression = archive_filter_name(a.get(), 0);
    if (any) loader.readEntries(a.get(), label, entry);
    return summary;
}

std::map<std::string, std::string> controlFiles(const Opener& open, const std::string& label) {
    ReadHandle a = openReader(Formats::kBase, open, label);
    archive_entry* entry = nullptr;
    bool any = nextHeader(a.get(), &entry, label, 1, "");
    if (!isAr(a.get()) || !any) fail(label + ": not a Debian package");
    std::map<std::string, std::string> files;
    readDeb(a.get(), entry, label, nullptr, nullptr, &files);
    if (!files.count("control")) fail(label + ": the control tarball has no control file");
    return files;
}

Opener fileOpener(const std::string& path) {
    return [path](archive* a) { return archive_read_open_filename(a, path.c_str(), kChunkSize); };
}

Opener memoryOpener(std::string_view bytes) {
    return [bytes](archive* a) { return archive_read_open_memory(a, bytes.data(), bytes.size()); };
}

}  // namespace

ArchiveSummary readArchiveFile(const std::string& path, Tree& tree,
                               const ArchiveReadOptions& options) {
    return readInto(fileOpener(path), path, tree, options, Expect::kAnyArchive);
}

ArchiveSummary readArchiveMemory(std::string_view bytes, std::string_view name, Tree& tree,
                                 const ArchiveReadOptions& options) {
    return readInto(memoryOpener(bytes), std::string(name), tree, options, Expect::kAnyArchive);
}

ArchiveSummary readDebPackage(const std::string& path, Tree& tree,
                              const ArchiveReadOptions& options) {
    return readInto(fileOpener(path), path, tree, options, Expect::kDebPackage);
}

ArchiveSummary readDebPackageMemory(std::string_view bytes, std::string_view name, Tree& tree,
                                    const ArchiveReadOptions& options) {
    return readInto(memoryOpener(bytes), std::string(name), tree, options, Expect::kDebPackage);
}

std::map<std::string, std::string> readDebControlFiles(const std::string& path) {
    return controlFiles(fileOpener(path), path);
}

std::map<std::string, std::string> readDebControlFilesMemory(std::string_view bytes,
                                                             std::string_view name) {
    return controlFiles(memoryOpener(bytes), std::string(name));
}

std::string readDebControl(const std::string& path) {
    return readDebControlFiles(path).at("control");
}

}  // namespace ingot::imagebuild
