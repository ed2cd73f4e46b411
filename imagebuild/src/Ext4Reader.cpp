#include "ingot/imagebuild/Ext4Reader.h"

#include "Ext2fsHandle.h"

// ext2fs.h first: com_err.h has no extern "C" of its own, ext2fs.h wraps it.
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>
#include <et/com_err.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <map>
#include <optional>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "ingot/core/Error.h"

namespace ingot::imagebuild {

namespace {

constexpr uint64_t kMaxXattrBytes = 64 * 1024;  // XATTR_SIZE_MAX: more is no ext4 the kernel reads
constexpr uint64_t kMaxSymlinkBytes = 4095;

std::string ext2Message(errcode_t err) {
    static std::once_flag once;
    std::call_once(once, [] { initialize_ext2_error_table(); });
    return error_message(err);
}

std::string shown(const std::string& path) {
    // Built by appending: GCC 12 at -O3 warns falsely (-Wrestrict) about "/" + std::string here.
    std::string out = "/";
    out += printablePath(path);
    return out;
}

using FsHandle = Ext2fsHandle;

struct FileHandle {
    ext2_file_t file = nullptr;
    ~FileHandle() {
        if (file) ext2fs_file_close(file);
    }
};

struct XattrHandle {
    ext2_xattr_handle* handle = nullptr;
    ~XattrHandle() {
        if (handle) ext2fs_xattrs_close(&handle);
    }
};

struct DirEntry {
    std::string name;
    ext2_ino_t ino = 0;
};

// What the C callback of ext2fs_dir_iterate2 collects; it must not throw through libext2fs.
struct ListContext {
    std::vector<DirEntry> entries;
    uint64_t budget = 0;  // entries still allowed
    bool overBudget = false;
};

int collectEntry(ext2_ino_t, int, ext2_dir_entry* dirent, int, int, char*, void* priv) {
    auto* ctx = static_cast<ListContext*>(priv);
    int len = ext2fs_dirent_name_len(dirent);
    std::string name(dirent->name, static_cast<size_t>(len));
    if (name == "." || name == "..") return 0;  // never followed, wherever they point
    if (ctx->entries.size() >= ctx->budget) {
        ctx->overBudget = true;
        return DIRENT_ABORT;
    }
    ctx->entries.push_back({std::move(name), dirent->inode});
    return 0;
}

struct XattrContext {
    std::map<std::string, std::string> values;
    uint64_t bytes = 0;
    bool overBudget = false;
    std::string badName;
    std::string badAcl;  // the name of an ACL xattr whose value is no ACL
};

// POSIX ACLs are stored in ext4's own compact form (version 1: four-byte entries for the owner,
// group, mask and other, eight-byte ones with an id for named users and groups), and this
// libext2fs hands them back that way, while its ext2fs_xattr_set (the writer) takes the kernel's
// xattr form (version 2, every entry eight bytes, no id = 0xffffffff). The tree keeps the
// kernel's form, as tar and the writer do. nullopt for a value that is neither.
std::optional<std::string> aclToXattrForm(std::string_view disk) {
    const auto u16 = [&disk](size_t at) {
        return static_cast<uint32_t>(static_cast<uint8_t>(disk[at]) |
                                     (static_cast<uint8_t>(disk[at + 1]) << 8));
    };
    const auto u32 = [&](size_t at) { return u16(at) | (u16(at + 2) << 16); };
    if (disk.size() < 4) return std::nullopt;
    if (u32(0) == 2) return std::string(disk);  // already the kernel's form
    if (u32(0) != 1) return std::nullopt;
    std::string out;
    const auto put = [&out](uint32_t v, int bytes) {
        for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
    };
    put(2, 4);
    size_t at = 4;
    while (at < disk.size()) {
        if (disk.size() - at < 4) return std::nullopt;
        const uint32_t tag = u16(at), perm = u16(at + 2);
        uint32_t id = 0xffffffff;
        if (tag == 0x02 || tag == 0x08) {  // ACL_USER, ACL_GROUP
            if (disk.size() - at < 8) return std::nullopt;
            id = u32(at + 4);
            at += 8;
        } else if (tag == 0x01 || tag == 0x04 || tag == 0x10 || tag == 0x20) {
            at += 4;
        } else {
            return std::nullopt;
        }
        put(tag, 2);
        put(perm, 2);
        put(id, 4);
    }
    return out;
}

int collectXattr(char* name, char* value, size_t valueLen, void* priv) {
    auto* ctx = static_cast<XattrContext*>(priv);
    std::string key(name ? name : "");
    // Inline data lives in "system.data"; the content is read through the file API instead.
    if (key == "system.data") return 0;
    if (key.empty()) {
        ctx->badName = "(empty)";
        return XATTR_ABORT;
    }
    ctx->bytes += key.size() + valueLen;
    if (ctx->bytes > kMaxXattrBytes) {
        ctx->overBudget = true;
        return XATTR_ABORT;
    }
    std::string bytes(value ? value : "", value ? valueLen : 0);
    if (key == "system.posix_acl_access" || key == "system.posix_acl_default") {
        auto converted = aclToXattrForm(bytes);
        if (!converted) {
            ctx->badAcl = key;
            return XATTR_ABORT;
        }
        bytes = std::move(*converted);
    }
    ctx->values[key] = std::move(bytes);
    return 0;
}

class Reader {
public:
    Reader(const std::string& path, uint64_t offset, uint64_t size, Tree& tree,
           const Ext4ReadOptions& options)
        : path_(path), offset_(offset), size_(size), tree_(tree), options_(options) {}

    Ext4ReadSummary run() {
        checkSuperblock();
        open();
        walk();
        return summary_;
    }

private:
    [[noreturn]] void fail(const std::string& treePath, const std::string& what,
                           ExitStatus status = ExitStatus::kVerification) const {
        throw Error(prefix() + shown(treePath) + ": " + what, status);
    }
    [[noreturn]] void failFs(const std::string& what, ExitStatus status = ExitStatus::kVerification) const {
        throw Error(prefix() + what, status);
    }
    std::string prefix() const {
        return path_ + ": ext4 file system at byte " + std::to_string(offset_) + ": ";
    }
    void check(errcode_t err, const std::string& treePath, const std::string& what) const {
        if (err) fail(treePath, what + ": " + ext2Message(err));
    }

    // The superblock's own claims, checked before libext2fs sizes its tables from them, so a
    // forged block count cannot make it allocate for a file system bigger than the partition.
    void checkSuperblock() {
        int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throwSystemError(path_ + ": cannot open the image", errno, ExitStatus::kUsage);
        struct stat st {};
        int statErr = ::fstat(fd, &st) == 0 ? 0 : errno;
        ext2_super_block sb {};
        ssize_t got = -1;
        int readErr = 0;
        if (!statErr && S_ISREG(st.st_mode) && offset_ + 2048 <= static_cast<uint64_t>(st.st_size)) {
            got = ::pread(fd, &sb, sizeof sb, static_cast<off_t>(offset_ + SUPERBLOCK_OFFSET));
            if (got < 0) readErr = errno;
        }
        ::close(fd);
        if (statErr) throwSystemError(path_ + ": cannot stat the image", statErr, ExitStatus::kUsage);
        if (!S_ISREG(st.st_mode)) throw Error(path_ + ": is not a regular file", ExitStatus::kUsage);
        uint64_t fileSize = static_cast<uint64_t>(st.st_size);
        if (offset_ > fileSize || (size_ && size_ > fileSize - offset_))
            failFs("the file system would end past the end of the file (" + std::to_string(fileSize) +
                   " bytes)");
        if (!size_) size_ = fileSize - offset_;
        if (readErr) throwSystemError(prefix() + "cannot read the superblock", readErr);
        if (got != static_cast<ssize_t>(sizeof sb)) failFs("too small to hold an ext4 superblock");
        if (sb.s_magic != EXT2_SUPER_MAGIC) failFs("no ext2/3/4 superblock (bad magic)");
        if (sb.s_log_block_size > EXT2_MAX_BLOCK_LOG_SIZE - EXT2_MIN_BLOCK_LOG_SIZE)
            failFs("the superblock's block size is out of range");
        uint64_t blockSize = uint64_t{EXT2_MIN_BLOCK_SIZE} << sb.s_log_block_size;
        uint64_t blocks = sb.s_blocks_count;
        if (sb.s_feature_incompat & EXT4_FEATURE_INCOMPAT_64BIT)
            blocks |= static_cast<uint64_t>(sb.s_blocks_count_hi) << 32;
        if (blocks == 0 || blocks > size_ / blockSize)
            failFs("the superblock says " + std::to_string(blocks) + " blocks of " +
                   std::to_string(blockSize) + " bytes, more than the " + std::to_string(size_) +
                   " bytes it may occupy");
        fsBytes_ = blocks * blockSize;
        if (sb.s_feature_incompat & EXT3_FEATURE_INCOMPAT_RECOVER)
            failFs("the journal needs replaying (the file system was not cleanly unmounted); "
                   "ingot images never do");
    }

    void open() {
        std::string io = "offset=" + std::to_string(offset_);
        errcode_t err = ext2fs_open2(path_.c_str(), io.c_str(), EXT2_FLAG_64BITS, 0, 0, unix_io_manager,
                                     &handle_.fs);
        if (err) {
            handle_.fs = nullptr;  // ext2fs_open2 frees it on failure
            failFs("cannot open: " + ext2Message(err));
        }
        fs_ = handle_.fs;
        if (!fs_->super->s_inodes_count) failFs("the superblock says there are no inodes");
    }

    struct Read {
        std::shared_ptr<Inode> inode;
        ext2_inode_large raw;
    };

    Read readInode(ext2_ino_t ino, const std::string& treePath) {
        Read r;
        std::memset(&r.raw, 0, sizeof r.raw);
        check(ext2fs_read_inode_full(fs_, ino, reinterpret_cast<ext2_inode*>(&r.raw), sizeof r.raw),
              treePath, "cannot read inode " + std::to_string(ino));
        const ext2_inode_large& in = r.raw;
        if (in.i_links_count == 0 || in.i_mode == 0)
            fail(treePath, "inode " + std::to_string(ino) + " is not in use (a stale directory entry)");
        auto inode = std::make_shared<Inode>();
        switch (in.i_mode & 0xF000) {
            case LINUX_S_IFREG: inode->type = NodeType::kFile; break;
            case LINUX_S_IFDIR: inode->type = NodeType::kDirectory; break;
            case LINUX_S_IFLNK: inode->type = NodeType::kSymlink; break;
            case LINUX_S_IFCHR: inode->type = NodeType::kCharDevice; break;
            case LINUX_S_IFBLK: inode->type = NodeType::kBlockDevice; break;
            case LINUX_S_IFIFO: inode->type = NodeType::kFifo; break;
            case LINUX_S_IFSOCK: inode->type = NodeType::kSocket; break;
            default: fail(treePath, "inode " + std::to_string(ino) + " has no known file type");
        }
        inode->mode = in.i_mode & 07777;
        inode->uid = inode_uid(in);
        inode->gid = inode_gid(in);
        // Two epoch bits extend the signed 32-bit seconds past 2038 when the inode is large
        // enough to carry i_mtime_extra; the nanoseconds are dropped, as the tree has none.
        int64_t mtime = static_cast<int32_t>(in.i_mtime);
        constexpr size_t kExtraEnd = offsetof(ext2_inode_large, i_mtime_extra) + sizeof(in.i_mtime_extra);
        if (EXT2_INODE_SIZE(fs_->super) >= kExtraEnd &&
            EXT2_GOOD_OLD_INODE_SIZE + size_t{in.i_extra_isize} >= kExtraEnd)
            mtime += static_cast<int64_t>(in.i_mtime_extra & EXT4_EPOCH_MASK) << 32;
        inode->mtime = mtime;
        r.inode = inode;
        return r;
    }

    std::string readData(ext2_ino_t ino, ext2_inode_large& raw, uint64_t size, const std::string& treePath) {
        FileHandle file;
        check(ext2fs_file_open2(fs_, ino, reinterpret_cast<ext2_inode*>(&raw), 0, &file.file), treePath,
              "cannot open inode " + std::to_string(ino));
        std::string bytes(size, '\0');
        uint64_t done = 0;
        while (done < size) {
            unsigned int want = static_cast<unsigned int>(std::min<uint64_t>(size - done, 1u << 30));
            unsigned int got = 0;
            check(ext2fs_file_read(file.file, bytes.data() + done, want, &got), treePath,
                  "cannot read inode " + std::to_string(ino) + " at byte " + std::to_string(done));
            if (got == 0)
                fail(treePath, "inode " + std::to_string(ino) + " ends after " + std::to_string(done) +
                                   " of its " + std::to_string(size) + " bytes");
            done += got;
        }
        return bytes;
    }

    void readContent(ext2_ino_t ino, Read& r, const std::string& treePath) {
        Inode& inode = *r.inode;
        uint64_t size = EXT2_I_SIZE(&r.raw);
        switch (inode.type) {
            case NodeType::kFile: {
                if (size > options_.maxEntryBytes)
                    fail(treePath, "the file has " + std::to_string(size) + " bytes, more than the " +
                                       std::to_string(options_.maxEntryBytes) + " one file may hold");
                // The writer makes no sparse files, so an ingot image's content always fits its
                // file system: a bound proportional to what was downloaded.
                uint64_t limit = std::min(options_.maxTotalBytes, fsBytes_);
                if (size > limit - std::min(limit, summary_.contentBytes))
                    fail(treePath, "the files read so far and this one hold more than " +
                                       std::to_string(limit) +
                                       " bytes (the limit, or the file system's own size)");
                summary_.contentBytes += size;
                if (size) inode.content = makeBlob(readData(ino, r.raw, size, treePath));
                break;
            }
            case NodeType::kSymlink: {
                if (size == 0 || size > kMaxSymlinkBytes)
                    fail(treePath, "the symlink target has " + std::to_string(size) +
                                       " bytes (1 to 4095 allowed)");
                if (ext2fs_is_fast_symlink(reinterpret_cast<ext2_inode*>(&r.raw))) {
                    const char* target = reinterpret_cast<const char*>(r.raw.i_block);
                    inode.symlinkTarget.assign(target, size);
                } else {
                    inode.symlinkTarget = readData(ino, r.raw, size, treePath);
                }
                if (inode.symlinkTarget.find('\0') != std::string::npos)
                    fail(treePath, "the symlink target contains a NUL byte");
                break;
            }
            case NodeType::kCharDevice:
            case NodeType::kBlockDevice:
            case NodeType::kFifo:
                if (!options_.allowDevices)
                    fail(treePath,
                         "is a " + std::string(nodeTypeName(inode.type)) +
                             "; device nodes and fifos in a base need allow: {devices: true}",
                         ExitStatus::kUsage);
                if (inode.type != NodeType::kFifo) {
                    // The kernel's encodings: old 8:8 in i_block[0], else new 12:20 in i_block[1].
                    uint32_t old = r.raw.i_block[0], dev = r.raw.i_block[1];
                    if (old) {
                        inode.rdevMajor = (old >> 8) & 0xff;
                        inode.rdevMinor = old & 0xff;
                    } else {
                        inode.rdevMajor = (dev & 0xfff00) >> 8;
                        inode.rdevMinor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
                    }
                }
                break;
            case NodeType::kDirectory:
            case NodeType::kSocket:
                break;
        }
        readXattrs(ino, inode, treePath);
    }

    void readXattrs(ext2_ino_t ino, Inode& inode, const std::string& treePath) {
        if (!ext2fs_has_feature_xattr(fs_->super)) return;
        XattrHandle h;
        check(ext2fs_xattrs_open(fs_, ino, &h.handle), treePath, "cannot open its xattrs");
        check(ext2fs_xattrs_read(h.handle), treePath, "cannot read its xattrs");
        XattrContext ctx;
        check(ext2fs_xattrs_iterate(h.handle, collectXattr, &ctx), treePath, "cannot list its xattrs");
        if (!ctx.badName.empty()) fail(treePath, "an xattr has an empty name");
        if (!ctx.badAcl.empty()) fail(treePath, "its " + ctx.badAcl + " is no POSIX ACL");
        if (ctx.overBudget)
            fail(treePath, "its xattrs hold more than " + std::to_string(kMaxXattrBytes) + " bytes");
        inode.xattrs = std::move(ctx.values);
    }

    std::vector<DirEntry> list(ext2_ino_t dir, const std::string& treePath) {
        ListContext ctx;
        ctx.budget = options_.maxEntries - std::min(options_.maxEntries, summary_.entries);
        check(ext2fs_dir_iterate2(fs_, dir, 0, nullptr, collectEntry, &ctx), treePath,
              "cannot read directory inode " + std::to_string(dir));
        if (ctx.overBudget)
            fail(treePath, "more than " + std::to_string(options_.maxEntries) + " entries in the file system");
        std::sort(ctx.entries.begin(), ctx.entries.end(),
                  [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
        return ctx.entries;
    }

    // Tree errors name the path already; a hostile image makes them a verification failure.
    template <typename F>
    void treeOp(F&& op) {
        try {
            op();
        } catch (const Error& e) {
            throw Error(e.what(), ExitStatus::kVerification);
        }
    }

    void walk() {
        Read root = readInode(EXT2_ROOT_INO, "");
        if (root.inode->type != NodeType::kDirectory) fail("", "the root inode is no directory");
        readContent(EXT2_ROOT_INO, root, "");
        treeOp([&] { tree_.put("", root.inode, prefix() + "/"); });

        struct Pending {
            ext2_ino_t ino;
            std::string path;
            uint32_t depth;
        };
        std::vector<Pending> stack{{EXT2_ROOT_INO, "", 0}};
        std::unordered_map<ext2_ino_t, std::string> dirs{{EXT2_ROOT_INO, ""}};
        std::unordered_map<ext2_ino_t, std::string> files;  // first path of each other inode
        const ext2_ino_t inodeCount = fs_->super->s_inodes_count;
        // A forged s_first_ino must not expose the journal or the resize inode as files.
        const ext2_ino_t firstIno = std::max<ext2_ino_t>(EXT2_FIRST_INODE(fs_->super), EXT2_GOOD_OLD_FIRST_INO);

        while (!stack.empty()) {
            Pending dir = std::move(stack.back());
            stack.pop_back();
            auto entries = list(dir.ino, dir.path);
            if (dir.path == "lost+found" && entries.empty()) {
                // writeExt4 makes lost+found itself: an empty one carries nothing of the image.
                tree_.remove("lost+found");
                --summary_.entries;
                --summary_.inodes;
                continue;
            }
            if (dir.path == "lost+found") summary_.lostFoundKept = true;
            // Pushed in reverse so that directories are read in path order.
            std::vector<Pending> subdirs;
            for (size_t i = 0; i < entries.size(); ++i) {
                const DirEntry& e = entries[i];
                std::string raw = dir.path.empty() ? e.name : dir.path + "/" + e.name;
                if (i > 0 && entries[i - 1].name == e.name) fail(raw, "appears twice in its directory");
                if (e.name.empty()) fail(dir.path, "holds an entry with an empty name");
                if (e.name.find('/') != std::string::npos || e.name.find('\0') != std::string::npos)
                    fail(raw, "the name contains '/' or a NUL byte");
                std::string path;
                treeOp([&] { path = normalizePath(raw, prefix() + shown(raw)); });
                if (path != raw) fail(raw, "is no canonical path");
                if (e.ino < 1 || e.ino > inodeCount)
                    fail(path, "inode " + std::to_string(e.ino) + " is out of range (1 to " +
                                   std::to_string(inodeCount) + ")");
                if (e.ino < firstIno && e.ino != EXT2_ROOT_INO)
                    fail(path, "names reserved inode " + std::to_string(e.ino) +
                                   " (the journal, resize inode or another internal one)");
                ++summary_.entries;
                if (auto d = dirs.find(e.ino); d != dirs.end())
                    fail(path, "names directory inode " + std::to_string(e.ino) + ", already at " +
                                   shown(d->second) + " (a loop or a hard-linked directory)");
                if (auto f = files.find(e.ino); f != files.end()) {
                    treeOp([&] { tree_.link(path, f->second, prefix() + shown(path)); });
                    continue;
                }
                Read r = readInode(e.ino, path);
                readContent(e.ino, r, path);
                ++summary_.inodes;
                treeOp([&] { tree_.put(path, r.inode, prefix() + shown(path)); });
                if (r.inode->type == NodeType::kDirectory) {
                    if (dir.depth + 1 > options_.maxDepth)
                        fail(path, "directories are nested deeper than " + std::to_string(options_.maxDepth));
                    dirs.emplace(e.ino, path);
                    subdirs.push_back({e.ino, path, dir.depth + 1});
                } else {
                    files.emplace(e.ino, path);
                }
            }
            for (auto it = subdirs.rbegin(); it != subdirs.rend(); ++it) stack.push_back(std::move(*it));
        }
    }

    std::string path_;
    uint64_t offset_;
    uint64_t size_;
    Tree& tree_;
    const Ext4ReadOptions& options_;
    FsHandle handle_;
    ext2_filsys fs_ = nullptr;
    uint64_t fsBytes_ = 0;
    Ext4ReadSummary summary_;
};

}  // namespace

Ext4ReadSummary readExt4(const std::string& path, uint64_t offset, uint64_t size, Tree& tree,
                         const Ext4ReadOptions& options) {
    Reader reader(path, offset, size, tree, options);
    return reader.run();
}

}  // namespace ingot::imagebuild
