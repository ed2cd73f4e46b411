#include "ingot/imagebuild/Ext4Writer.h"

#include "Ext2fsHandle.h"

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>
#include <et/com_err.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <limits>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "ingot/core/Error.h"
#include "ingot/core/Sha256.h"
#include "ingot/core/TempFile.h"

namespace ingot::imagebuild {

namespace {

constexpr uint32_t kBlockSize = 4096;
constexpr uint32_t kInodeSize = 256;
constexpr uint64_t kMiB = 1 << 20;
constexpr ext2_ino_t kLostFoundIno = EXT2_GOOD_OLD_FIRST_INO;  // 11, as mke2fs makes it
constexpr uint32_t kDirentTail = sizeof(struct ext2_dir_entry_tail);  // metadata_csum
constexpr uint32_t kLeafSpace = kBlockSize - kDirentTail;
constexpr uint32_t kLinkMax = 65000;  // EXT4_LINK_MAX
constexpr int64_t kMinInodeTime = -(int64_t{1} << 31);
constexpr int64_t kMaxInodeTime = (int64_t{1} << 34) - (int64_t{1} << 31) - 1;  // year 2446
constexpr uint64_t kJournalMinBlocks = 2048;  // below this mke2fs makes no journal either

std::string shown(const std::string& path) { return path.empty() ? "/" : "/" + path; }

std::string ext2Message(errcode_t err) {
    static std::once_flag once;
    std::call_once(once, [] { initialize_ext2_error_table(); });
    return error_message(err);
}

bool isNoSpace(errcode_t err) {
    return err == EXT2_ET_BLOCK_ALLOC_FAIL || err == EXT2_ET_INODE_ALLOC_FAIL ||
           err == EXT2_ET_DIR_NO_SPACE || err == EXT2_ET_EA_NO_SPACE || err == ENOSPC;
}

using FsHandle = Ext2fsHandle;

// ext4's inode time: the low 32 bits signed, two epoch bits in the *_extra field, no
// nanoseconds (the tree has none, and zeros keep the bytes stable).
void encodeInodeTime(int64_t t, uint32_t& seconds, uint32_t& extra) {
    seconds = static_cast<uint32_t>(t);
    int64_t epoch = (t - static_cast<int32_t>(seconds)) >> 32;
    extra = static_cast<uint32_t>(epoch) & 3;
}

void setInodeTimes(ext2_inode_large& in, int64_t t) {
    uint32_t seconds, extra;
    encodeInodeTime(t, seconds, extra);
    in.i_atime = in.i_ctime = in.i_mtime = in.i_crtime = seconds;
    in.i_atime_extra = in.i_ctime_extra = in.i_mtime_extra = in.i_crtime_extra = extra;
}

uint8_t direntType(NodeType type) {
    switch (type) {
        case NodeType::kFile: return EXT2_FT_REG_FILE;
        case NodeType::kDirectory: return EXT2_FT_DIR;
        case NodeType::kSymlink: return EXT2_FT_SYMLINK;
        case NodeType::kCharDevice: return EXT2_FT_CHRDEV;
        case NodeType::kBlockDevice: return EXT2_FT_BLKDEV;
        case NodeType::kFifo: return EXT2_FT_FIFO;
        case NodeType::kSocket: return EXT2_FT_SOCK;
    }
    return EXT2_FT_UNKNOWN;
}

uint16_t modeType(NodeType type) {
    switch (type) {
        case NodeType::kFile: return LINUX_S_IFREG;
        case NodeType::kDirectory: return LINUX_S_IFDIR;
        case NodeType::kSymlink: return LINUX_S_IFLNK;
        case NodeType::kCharDevice: return LINUX_S_IFCHR;
        case NodeType::kBlockDevice: return LINUX_S_IFBLK;
        case NodeType::kFifo: return LINUX_S_IFIFO;
        case NodeType::kSocket: return LINUX_S_IFSOCK;
    }
    return 0;
}

uint32_t recLen(size_t nameLen) { return static_cast<uint32_t>((8 + nameLen + 3) & ~size_t{3}); }

bool fastSymlink(const Inode& inode) {
    return inode.symlinkTarget.size() < sizeof(ext2_inode::i_block);
}

uint64_t blocksFor(uint64_t bytes) { return (bytes + kBlockSize - 1) / kBlockSize; }

// One block the extent tree may need besides the data: more than the four extents an inode
// holds when its data crosses a 128 MiB extent limit or a group's metadata.
uint64_t extentOverheadBlocks(uint64_t dataBlocks) {
    uint64_t extents = 2 * ((dataBlocks + 32767) / 32768) + 2;
    return dataBlocks > 4 && extents > 4 ? (extents + 339) / 340 : 0;
}

// Bytes the xattrs of one inode take in the on-disk entry format (conservatively, with the
// full name where ext4 stores a shorter prefix index).
uint64_t xattrBytes(const Inode& inode) {
    uint64_t total = 0;
    for (const auto& [name, value] : inode.xattrs)
        total += sizeof(ext2_ext_attr_entry) + ((name.size() + 3) & ~size_t{3}) +
                 ((value.size() + 3) & ~size_t{3});
    return total;
}

struct DirEntry {
    std::string name;
    ext2_ino_t ino;
    uint8_t type;
};

// What one inode becomes, decided before the file system exists so that the size can be
// computed from it.
struct Planned {
    const Inode* inode = nullptr;
    std::string path;  // the first path naming it, for errors
    uint32_t links = 0;
    std::vector<std::string> dirBlocks;  // directories: every block, checksums left to libext2fs
    bool htree = false;
};

struct Plan {
    std::vector<Planned> byIno;  // index = inode number; 0 and the reserved ones stay empty
    uint64_t dataBlocks = 0;     // data, directory, extent-tree and xattr blocks
    ext2_ino_t lastIno = 0;
    std::shared_ptr<Inode> lostFound;  // made up when the tree has none
};

class DirBuilder {
public:
    explicit DirBuilder(const uint32_t* hashSeed) : hashSeed_(hashSeed) {}

    // A linear directory: "." and "..", then the children in tree order, packed into blocks,
    // at least `minBlocks` of them.
    std::vector<std::string> linear(ext2_ino_t self, ext2_ino_t parent,
                                    const std::vector<DirEntry>& children, size_t minBlocks) {
        std::vector<std::string> blocks;
        Leaves leaves;
        add(leaves, DirEntry{".", self, EXT2_FT_DIR});
        add(leaves, DirEntry{"..", parent, EXT2_FT_DIR});
        for (const auto& child : children) add(leaves, child);
        finish(leaves);
        while (leaves.blocks.size() < minBlocks) {
            leaves.blocks.emplace_back(kBlockSize, '\0');
            putEntry(leaves.blocks.back(), 0, 0, kLeafSpace, "", 0);
            putTail(leaves.blocks.back());
        }
        return std::move(leaves.blocks);
    }

    static bool fitsOneBlock(const std::vector<DirEntry>& children) {
        uint64_t bytes = recLen(1) + recLen(2);
        for (const auto& child : children) bytes += recLen(child.name.size());
        return bytes <= kLeafSpace;
    }

    // An htree directory as e2fsck -D lays it out: the dx_root in block 0, index blocks next
    // when one level is not enough, then the leaves, filled in hash order. Throws when even two
    // index levels cannot hold the leaves (three need the largedir feature).
    std::vector<std::string> indexed(ext2_ino_t self, ext2_ino_t parent,
                                     const std::vector<DirEntry>& children,
                                     const std::string& where) {
        struct Hashed {
            uint32_t hash, minor;
            const DirEntry* entry;
        };
        std::vector<Hashed> hashed;
        hashed.reserve(children.size());
        for (const auto& child : children) {
            ext2_dirhash_t hash = 0, minor = 0;
            errcode_t err = ext2fs_dirhash2(EXT2_HASH_HALF_MD4, child.name.data(),
                                            static_cast<int>(child.name.size()), nullptr, 0,
                                            hashSeed_, &hash, &minor);
            if (err)
                throw Error(where + ": cannot hash directory entry '" + child.name +
                            "': " + ext2Message(err));
            hashed.push_back(Hashed{hash, minor, &child});
        }
        std::sort(hashed.begin(), hashed.end(), [](const Hashed& a, const Hashed& b) {
            if (a.hash != b.hash) return a.hash < b.hash;
            if (a.minor != b.minor) return a.minor < b.minor;
            return a.entry->name < b.entry->name;
        });

        Leaves leaves;
        std::vector<uint32_t> leafHashes;
        uint32_t previousHash = 1;  // no real hash is odd
        for (const auto& h : hashed) {
            if (add(leaves, *h.entry))
                // A run of equal hashes split across leaves is marked by the low bit, so
                // that lookups continue into the next leaf.
                leafHashes.push_back(h.hash == previousHash ? (h.hash | 1) : h.hash);
            previousHash = h.hash;
        }
        finish(leaves);

        constexpr uint32_t kRootEntriesAt = 32;  // ".", "..", dx_root_info
        constexpr uint32_t kNodeEntriesAt = 8;   // a fake empty dirent
        constexpr uint32_t kRootLimit =
            (kBlockSize - kRootEntriesAt - sizeof(ext2_dx_tail)) / sizeof(ext2_dx_entry);
        constexpr uint32_t kNodeLimit =
            (kBlockSize - kNodeEntriesAt - sizeof(ext2_dx_tail)) / sizeof(ext2_dx_entry);

        size_t leafCount = leaves.blocks.size();
        size_t nodeCount = leafCount <= kRootLimit ? 0 : (leafCount + kNodeLimit - 1) / kNodeLimit;
        if (nodeCount > kRootLimit)
            throw Error(where + ": directory with " + std::to_string(children.size()) +
                            " entries needs a third htree level (the largedir feature)",
                        ExitStatus::kUsage);

        std::vector<std::string> blocks;
        blocks.emplace_back(kBlockSize, '\0');
        std::string& root = blocks.back();
        putEntry(root, 0, self, 12, ".", EXT2_FT_DIR);
        putEntry(root, 12, parent, kBlockSize - 12, "..", EXT2_FT_DIR);
        ext2_dx_root_info info{};
        info.hash_version = EXT2_HASH_HALF_MD4;
        info.info_length = sizeof info;
        info.indirect_levels = nodeCount ? 1 : 0;
        std::memcpy(root.data() + 24, &info, sizeof info);

        uint32_t firstLeaf = static_cast<uint32_t>(1 + nodeCount);
        if (nodeCount == 0) {
            std::vector<std::pair<uint32_t, uint32_t>> entries;
            for (size_t i = 0; i < leafCount; ++i)
                entries.emplace_back(leafHashes[i], firstLeaf + static_cast<uint32_t>(i));
            putIndex(root, kRootEntriesAt, kRootLimit, entries);
        } else {
            std::vector<std::pair<uint32_t, uint32_t>> rootEntries;
            for (size_t n = 0; n < nodeCount; ++n) {
                size_t begin = n * kNodeLimit, end = std::min(leafCount, begin + kNodeLimit);
                rootEntries.emplace_back(leafHashes[begin], static_cast<uint32_t>(1 + n));
                std::vector<std::pair<uint32_t, uint32_t>> entries;
                for (size_t i = begin; i < end; ++i)
                    entries.emplace_back(leafHashes[i], firstLeaf + static_cast<uint32_t>(i));
                blocks.emplace_back(kBlockSize, '\0');
                putEntry(blocks.back(), 0, 0, kBlockSize, "", 0);
                putIndex(blocks.back(), kNodeEntriesAt, kNodeLimit, entries);
            }
            putIndex(blocks[0], kRootEntriesAt, kRootLimit, rootEntries);
        }
        for (auto& leaf : leaves.blocks) blocks.push_back(std::move(leaf));
        return blocks;
    }

private:
    struct Leaves {
        std::vector<std::string> blocks;
        uint32_t offset = 0;      // next free byte in the last block
        uint32_t lastOffset = 0;  // the last entry in it, which takes the block's slack
    };

    static void putEntry(std::string& block, uint32_t at, ext2_ino_t ino, uint32_t recLength,
                         std::string_view name, uint8_t type) {
        auto* d = reinterpret_cast<ext2_dir_entry_2*>(block.data() + at);
        d->inode = ino;
        d->rec_len = static_cast<uint16_t>(recLength == 65536 ? 0xFFFC : recLength);
        d->name_len = static_cast<uint8_t>(name.size());
        d->file_type = type;
        std::memcpy(block.data() + at + 8, name.data(), name.size());
    }

    static void setRecLen(std::string& block, uint32_t at, uint32_t recLength) {
        reinterpret_cast<ext2_dir_entry_2*>(block.data() + at)->rec_len =
            static_cast<uint16_t>(recLength);
    }

    static void putTail(std::string& block) {
        auto* t = reinterpret_cast<ext2_dir_entry_tail*>(block.data() + kLeafSpace);
        std::memset(t, 0, sizeof *t);
        t->det_rec_len = sizeof *t;
        t->det_reserved_name_len = EXT2_DIR_NAME_LEN_CSUM;
    }

    static void putIndex(std::string& block, uint32_t at, uint32_t limit,
                         const std::vector<std::pair<uint32_t, uint32_t>>& entries) {
        auto* e = reinterpret_cast<ext2_dx_entry*>(block.data() + at);
        for (size_t i = 0; i < entries.size(); ++i) {
            e[i].hash = entries[i].first;
            e[i].block = entries[i].second;
        }
        // The first entry's hash field holds the count and limit instead; its hash is
        // implicitly 0.
        auto* countLimit = reinterpret_cast<ext2_dx_countlimit*>(e);
        countLimit->limit = static_cast<uint16_t>(limit);
        countLimit->count = static_cast<uint16_t>(entries.size());
    }

    // Appends an entry; returns true when it starts a new block.
    static bool add(Leaves& leaves, const DirEntry& entry) {
        uint32_t need = recLen(entry.name.size());
        bool fresh = leaves.blocks.empty() || leaves.offset + need > kLeafSpace;
        if (fresh) {
            if (!leaves.blocks.empty()) seal(leaves);
            leaves.blocks.emplace_back(kBlockSize, '\0');
            leaves.offset = 0;
        }
        putEntry(leaves.blocks.back(), leaves.offset, entry.ino, need, entry.name, entry.type);
        leaves.lastOffset = leaves.offset;
        leaves.offset += need;
        return fresh;
    }

    static void seal(Leaves& leaves) {
        setRecLen(leaves.blocks.back(), leaves.lastOffset, kLeafSpace - leaves.lastOffset);
        putTail(leaves.blocks.back());
    }

    static void finish(Leaves& leaves) {
        if (!leaves.blocks.empty()) seal(leaves);
    }

    const uint32_t* hashSeed_;
};

Plan makePlan(const Tree& tree, const Ext4Options& options) {
    Plan plan;
    const auto& entries = tree.entries();
    auto rootInode = tree.find("");
    auto treeLostFound = tree.find("lost+found");
    if (treeLostFound && treeLostFound->type != NodeType::kDirectory)
        throw Error("/lost+found is a " + std::string(nodeTypeName(treeLostFound->type)) +
                        "; ext4 keeps that name for e2fsck's directory",
                    ExitStatus::kUsage);

    std::shared_ptr<Inode> lostFound = treeLostFound;
    if (!lostFound) {
        plan.lostFound = std::make_shared<Inode>();
        plan.lostFound->type = NodeType::kDirectory;
        plan.lostFound->mode = 0700;
        plan.lostFound->mtime = options.timestamp;
        lostFound = plan.lostFound;
    }

    // Inode numbers: the root is 2, lost+found 11 as mke2fs makes them, then the tree in path
    // order, each shared inode (hard links) once.
    std::unordered_map<const Inode*, ext2_ino_t> inoOf;
    std::vector<const Inode*> order;
    inoOf[rootInode.get()] = EXT2_ROOT_INO;
    inoOf[lostFound.get()] = kLostFoundIno;
    ext2_ino_t next = kLostFoundIno + 1;
    std::unordered_map<std::string, std::vector<std::pair<std::string, const Inode*>>> childrenOf;
    std::unordered_map<const Inode*, uint32_t> pathCount;
    std::unordered_map<const Inode*, std::string> firstPath;
    firstPath[rootInode.get()] = "";
    firstPath[lostFound.get()] = "lost+found";
    for (const auto& [path, inode] : entries) {
        if (path.empty()) continue;
        std::string name(baseName(path));
        if (name.empty() || name.size() > EXT2_NAME_LEN || name == "." || name == ".." ||
            name.find('/') != std::string::npos)
            throw Error(shown(path) + ": not a valid ext4 file name", ExitStatus::kUsage);
        childrenOf[parentPath(path)].emplace_back(std::move(name), inode.get());
        ++pathCount[inode.get()];
        if (inoOf.emplace(inode.get(), next).second) {
            ++next;
            firstPath[inode.get()] = path;
        }
    }
    if (!treeLostFound) childrenOf[""].emplace_back("lost+found", lostFound.get());
    plan.lastIno = next - 1;
    plan.byIno.resize(next);

    uint32_t hashSeed[4];
    std::memcpy(hashSeed, options.hashSeed.data(), sizeof hashSeed);
    DirBuilder dirs(hashSeed);

    auto parentIno = [&](const std::string& path) {
        return path.empty() ? EXT2_ROOT_INO : inoOf.at(tree.find(parentPath(path)).get());
    };
    auto planOne = [&](const Inode* inode, const std::string& path) {
        ext2_ino_t ino = inoOf.at(inode);
        Planned& p = plan.byIno[ino];
        if (p.inode) return;
        p.inode = inode;
        p.path = path;
        uint64_t blocks = 0;
        switch (inode->type) {
            case NodeType::kFile: {
                p.links = pathCount[inode];
                if (p.links > kLinkMax)
                    throw Error(shown(path) + ": " + std::to_string(p.links) +
                                    " hard links; ext4 allows " + std::to_string(kLinkMax),
                                ExitStatus::kUsage);
                blocks = blocksFor(inode->size());
                blocks += extentOverheadBlocks(blocks);
                break;
            }
            case NodeType::kDirectory: {
                // The same directory object at two paths would be a directory hard link.
                if (pathCount[inode] > (path.empty() || inode == plan.lostFound.get() ? 0u : 1u))
                    throw Error(shown(path) + ": the same directory appears at several paths",
                                ExitStatus::kUsage);
                std::vector<DirEntry> children;
                uint32_t subdirs = 0;
                auto it = childrenOf.find(path);
                if (it != childrenOf.end())
                    for (const auto& [name, child] : it->second) {
                        children.push_back(DirEntry{name, inoOf.at(child), direntType(child->type)});
                        if (child->type == NodeType::kDirectory) ++subdirs;
                    }
                // dir_nlink: past the limit a directory's count is 1, "not counted".
                p.links = subdirs + 2 >= kLinkMax ? 1 : subdirs + 2;
                ext2_ino_t self = ino, parent = parentIno(path);
                if (ino == kLostFoundIno) {
                    // e2fsck reconnects orphans here without allocating: 16 KiB, as mke2fs.
                    p.dirBlocks = dirs.linear(self, parent, children, 4);
                } else if (DirBuilder::fitsOneBlock(children)) {
                    p.dirBlocks = dirs.linear(self, parent, children, 1);
                } else {
                    p.dirBlocks = dirs.indexed(self, parent, children, shown(path));
                    p.htree = true;
                }
                blocks = p.dirBlocks.size() + extentOverheadBlocks(p.dirBlocks.size());
                break;
            }
            case NodeType::kSymlink:
                p.links = pathCount[inode];
                if (inode->symlinkTarget.empty() || inode->symlinkTarget.size() >= kBlockSize)
                    throw Error(shown(path) + ": a symlink target must be 1 to " +
                                    std::to_string(kBlockSize - 1) + " bytes long",
                                ExitStatus::kUsage);
                if (inode->symlinkTarget.find('\0') != std::string::npos)
                    throw Error(shown(path) + ": the symlink target contains a NUL byte",
                                ExitStatus::kUsage);
                blocks = fastSymlink(*inode) ? 0 : 1;
                break;
            default:
                p.links = pathCount[inode];
                break;
        }
        if (inode->mtime < kMinInodeTime || inode->mtime > kMaxInodeTime)
            throw Error(shown(path) + ": mtime " + std::to_string(inode->mtime) +
                            " is outside what ext4 stores (1901 to 2446)",
                        ExitStatus::kUsage);
        uint64_t xattrs = xattrBytes(*inode);
        // In-inode space: 256 - 128 - 32 bytes of extra fields, less the 4-byte magic and
        // the 4-byte end marker; anything beyond goes to one xattr block.
        if (xattrs > kInodeSize - EXT2_GOOD_OLD_INODE_SIZE - 32 - 8) {
            if (xattrs + sizeof(ext2_ext_attr_header) + 8 > kBlockSize)
                throw Error(shown(path) + ": its extended attributes take " +
                                std::to_string(xattrs) +
                                " bytes; an ext4 xattr block holds at most 4 KiB",
                            ExitStatus::kUsage);
            blocks += 1;
        }
        plan.dataBlocks += blocks;
    };
    planOne(rootInode.get(), "");
    planOne(lostFound.get(), "lost+found");
    for (const auto& [path, inode] : entries) planOne(inode.get(), path);
    return plan;
}

void check(errcode_t err, const std::string& what) {
    if (!err) return;
    throw Error(what + ": " + ext2Message(err),
                isNoSpace(err) ? ExitStatus::kUsage : ExitStatus::kInternal);
}

struct Geometry {
    uint64_t blocks = 0;
    uint32_t inodes = 0;
    bool journal = false;
};

// A fresh file system with its group tables placed and nothing else written: what both the
// size probe and the real build start from.
void initializeFs(FsHandle& handle, const std::string& path, const Geometry& g,
                  const Ext4Options& options) {
    ext2_super_block param;
    std::memset(&param, 0, sizeof param);
    ext2fs_blocks_count_set(&param, g.blocks);
    param.s_log_block_size = 2;  // 1024 << 2
    param.s_rev_level = EXT2_DYNAMIC_REV;
    param.s_inode_size = kInodeSize;
    param.s_inodes_count = g.inodes;
    param.s_log_groups_per_flex = 4;  // 16, mke2fs's default
    param.s_desc_size = EXT2_MIN_DESC_SIZE_64BIT;
    // mke2fs.conf's base features plus its ext4 ones (Debian 12).
    ext2fs_set_feature_xattr(&param);
    ext2fs_set_feature_resize_inode(&param);
    ext2fs_set_feature_dir_index(&param);
    if (g.journal) ext2fs_set_feature_journal(&param);
    ext2fs_set_feature_filetype(&param);
    ext2fs_set_feature_extents(&param);
    ext2fs_set_feature_64bit(&param);
    ext2fs_set_feature_flex_bg(&param);
    ext2fs_set_feature_sparse_super(&param);
    ext2fs_set_feature_large_file(&param);
    ext2fs_set_feature_huge_file(&param);
    ext2fs_set_feature_dir_nlink(&param);
    ext2fs_set_feature_extra_isize(&param);
    ext2fs_set_feature_metadata_csum(&param);

    check(ext2fs_initialize(path.c_str(), EXT2_FLAG_64BITS, &param, unix_io_manager, &handle.fs),
          "cannot lay out an ext4 file system in " + path);
    ext2_filsys fs = handle.fs;
    ext2_super_block* s = fs->super;
    // Everything that mke2fs takes from the clock, /dev/urandom or the host's char signedness.
    std::memcpy(s->s_uuid, options.uuid.data(), sizeof s->s_uuid);
    std::memcpy(s->s_hash_seed, options.hashSeed.data(), sizeof s->s_hash_seed);
    s->s_def_hash_version = EXT2_HASH_HALF_MD4;
    s->s_flags &= ~(EXT2_FLAGS_SIGNED_HASH | EXT2_FLAGS_UNSIGNED_HASH);
    s->s_flags |= EXT2_FLAGS_SIGNED_HASH;
    uint64_t t = static_cast<uint64_t>(options.timestamp);
    s->s_mkfs_time = s->s_lastcheck = static_cast<uint32_t>(t);
    s->s_mkfs_time_hi = s->s_lastcheck_hi = static_cast<uint8_t>(t >> 32);
    s->s_kbytes_written = 0;  // while 0, closing never adds the host's write statistics
    s->s_max_mnt_count = -1;
    s->s_checkinterval = 0;
    s->s_checksum_type = EXT2_CRC32C_CHKSUM;
    s->s_default_mount_opts = EXT2_DEFM_XATTR_USER | EXT2_DEFM_ACL;
    std::memset(s->s_volume_name, 0, sizeof s->s_volume_name);
    std::memcpy(s->s_volume_name, options.label.data(), options.label.size());
    ext2fs_init_csum_seed(fs);
    // fs->now replaces time() inside libext2fs, but 0 means "unset" there: inodes it makes
    // are rewritten below and s_wtime is patched after closing, which covers timestamp 0.
    fs->now = static_cast<time_t>(options.timestamp);
    ext2fs_mark_super_dirty(fs);
    check(ext2fs_allocate_tables(fs), "cannot place the group tables in " + path);
}

uint64_t usedBlocks(ext2_filsys fs) {
    blk64_t used = 0;
    check(ext2fs_count_used_clusters(fs, fs->super->s_first_data_block,
                                     ext2fs_blocks_count(fs->super) - 1, &used),
          "cannot count used blocks");
    return used;
}

uint64_t journalBlocks(ext2_filsys fs) {
    if (ext2fs_blocks_count(fs->super) < kJournalMinBlocks) return 0;
    ext2fs_journal_params params;
    if (ext2fs_get_journal_params(&params, fs)) return 0;
    return params.num_journal_blocks + params.num_fc_blocks;
}

// Blocks left for the tree once the file system has its tables, resize inode and journal.
uint64_t availableBlocks(const std::string& path, const Geometry& g, const Ext4Options& options) {
    FsHandle probe;
    initializeFs(probe, path, g, options);
    uint64_t overhead = usedBlocks(probe.fs) + 1;  // + the resize inode's indirect block
    if (g.journal) overhead += journalBlocks(probe.fs);
    return g.blocks > overhead ? g.blocks - overhead : 0;
}

class Writer {
public:
    Writer(ext2_filsys fs, const Ext4Options& options, const std::string& output)
        : fs_(fs), options_(options), output_(output) {}

    void writeReserved() {
        // Reserved inodes get valid checksums as mke2fs writes them, and are marked in use.
        ext2_inode_large zero;
        std::memset(&zero, 0, sizeof zero);
        for (ext2_ino_t ino = 1; ino < EXT2_FIRST_INO(fs_->super); ++ino) {
            check(ext2fs_write_inode_full(fs_, ino, reinterpret_cast<ext2_inode*>(&zero),
                                          sizeof zero),
                  where("cannot write reserved inode " + std::to_string(ino)));
            ext2fs_inode_alloc_stats2(fs_, ino, +1, ino == EXT2_ROOT_INO);
        }
    }

    // The inodes libext2fs makes itself take time() or fs->now; give them the fixed time.
    void retime(ext2_ino_t ino) {
        ext2_inode_large in;
        check(ext2fs_read_inode_full(fs_, ino, reinterpret_cast<ext2_inode*>(&in), sizeof in),
              where("cannot read inode " + std::to_string(ino)));
        in.i_extra_isize = sizeof(ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
        setInodeTimes(in, options_.timestamp);
        check(ext2fs_write_inode_full(fs_, ino, reinterpret_cast<ext2_inode*>(&in), sizeof in),
              where("cannot write inode " + std::to_string(ino)));
    }

    void writeResizeInode() {
        check(ext2fs_create_resize_inode(fs_), where("cannot create the resize inode"));
        retime(EXT2_RESIZE_INO);
    }

    void writeJournal() {
        ext2fs_journal_params params;
        check(ext2fs_get_journal_params(&params, fs_), where("cannot size the journal"));
        // LAZYINIT skips zeroing: the output starts as a sparse file that reads as zeros.
        check(ext2fs_add_journal_inode3(fs_, &params, ~0ULL,
                                        EXT2_MKJOURNAL_LAZYINIT | EXT2_MKJOURNAL_NO_MNT_CHECK),
              where("cannot create the journal"));
        retime(EXT2_JOURNAL_INO);
    }

    void writeInode(ext2_ino_t ino, const Planned& p) {
        const Inode& node = *p.inode;
        std::string at = where(shown(p.path));
        if (ino != EXT2_ROOT_INO)
            ext2fs_inode_alloc_stats2(fs_, ino, +1, node.type == NodeType::kDirectory);

        ext2_inode_large in;
        std::memset(&in, 0, sizeof in);
        in.i_mode = static_cast<uint16_t>(modeType(node.type) | (node.mode & 07777));
        in.i_uid = static_cast<uint16_t>(node.uid);
        ext2fs_set_i_uid_high(in, node.uid >> 16);
        in.i_gid = static_cast<uint16_t>(node.gid);
        ext2fs_set_i_gid_high(in, node.gid >> 16);
        in.i_links_count = static_cast<uint16_t>(p.links);
        in.i_extra_isize = sizeof(ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
        setInodeTimes(in, node.mtime);

        std::string_view data;  // what goes into data blocks
        uint64_t blockCount = 0;
        switch (node.type) {
            case NodeType::kFile:
                if (node.content) data = node.content->bytes();
                blockCount = blocksFor(data.size());
                setSize(in, data.size());
                startExtents(in);
                break;
            case NodeType::kDirectory:
                blockCount = p.dirBlocks.size();
                setSize(in, blockCount * kBlockSize);
                startExtents(in);
                if (p.htree) in.i_flags |= EXT2_INDEX_FL;
                break;
            case NodeType::kSymlink:
                setSize(in, node.symlinkTarget.size());
                if (fastSymlink(node)) {
                    std::memcpy(in.i_block, node.symlinkTarget.data(), node.symlinkTarget.size());
                } else {
                    data = node.symlinkTarget;
                    blockCount = 1;
                    startExtents(in);
                }
                break;
            case NodeType::kCharDevice:
            case NodeType::kBlockDevice: {
                uint32_t major = node.rdevMajor, minor = node.rdevMinor;
                // The kernel's encoding: the old 8:8 form in i_block[0] when it fits, else the
                // new 12:20 form in i_block[1].
                if (major < 256 && minor < 256) {
                    in.i_block[0] = major * 256 + minor;
                } else {
                    in.i_block[1] = (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
                }
                break;
            }
            case NodeType::kFifo:
            case NodeType::kSocket:
                break;
        }
        check(ext2fs_write_inode_full(fs_, ino, reinterpret_cast<ext2_inode*>(&in), sizeof in),
              at + ": cannot write inode " + std::to_string(ino));

        if (blockCount) {
            check(ext2fs_fallocate(fs_, EXT2_FALLOCATE_FORCE_INIT, ino, nullptr, goal_, 0,
                                   blockCount),
                  at + ": cannot allocate " + std::to_string(blockCount) + " blocks");
            forEachExtent(ino, at, [&](blk64_t logical, blk64_t physical, uint32_t length) {
                if (node.type == NodeType::kDirectory) {
                    for (uint32_t i = 0; i < length; ++i) {
                        std::string block = p.dirBlocks.at(logical + i);
                        check(ext2fs_write_dir_block4(fs_, physical + i, block.data(), 0, ino),
                              at + ": cannot write directory block");
                    }
                } else {
                    writeData(data, logical, physical, length, at);
                }
                goal_ = std::max<blk64_t>(goal_, physical + length);
            });
        }

        if (!node.xattrs.empty()) writeXattrs(ino, node, at);
    }

    std::string where(const std::string& what) const { return output_ + ": " + what; }

private:
    static void setSize(ext2_inode_large& in, uint64_t size) {
        in.i_size = static_cast<uint32_t>(size);
        in.i_size_high = static_cast<uint32_t>(size >> 32);
    }

    // An empty extent tree in i_block, which ext2fs_fallocate then fills.
    static void startExtents(ext2_inode_large& in) {
        in.i_flags |= EXT4_EXTENTS_FL;
        auto* h = reinterpret_cast<ext3_extent_header*>(in.i_block);
        h->eh_magic = EXT3_EXT_MAGIC;
        h->eh_entries = 0;
        h->eh_max = (sizeof in.i_block - sizeof *h) / sizeof(ext3_extent);
        h->eh_depth = 0;
        h->eh_generation = 0;
    }

    template <typename F>
    void forEachExtent(ext2_ino_t ino, const std::string& at, F&& f) {
        ext2_extent_handle_t handle = nullptr;
        check(ext2fs_extent_open(fs_, ino, &handle), at + ": cannot read back its extents");
        struct Closer {
            ext2_extent_handle_t h;
            ~Closer() { ext2fs_extent_free(h); }
        } closer{handle};
        ext2fs_extent extent;
        errcode_t err = ext2fs_extent_get(handle, EXT2_EXTENT_ROOT, &extent);
        while (!err) {
            if ((extent.e_flags & EXT2_EXTENT_FLAGS_LEAF) &&
                !(extent.e_flags & EXT2_EXTENT_FLAGS_SECOND_VISIT))
                f(extent.e_lblk, extent.e_pblk, extent.e_len);
            err = ext2fs_extent_get(handle, EXT2_EXTENT_NEXT, &extent);
        }
        if (err != EXT2_ET_EXTENT_NO_NEXT) check(err, at + ": cannot walk its extents");
    }

    void writeData(std::string_view data, blk64_t logical, blk64_t physical, uint32_t length,
                   const std::string& at) {
        uint64_t offset = logical * kBlockSize;
        uint64_t end = std::min<uint64_t>(data.size(), offset + uint64_t{length} * kBlockSize);
        uint64_t whole = (end - offset) / kBlockSize;
        if (whole)
            check(io_channel_write_blk64(fs_->io, physical, static_cast<int>(whole),
                                         data.data() + offset),
                  at + ": cannot write data");
        uint64_t tail = end - offset - whole * kBlockSize;
        if (tail) {
            // The last block's bytes past the end of file are zeros, not stale memory.
            std::string last(kBlockSize, '\0');
            std::memcpy(last.data(), data.data() + offset + whole * kBlockSize, tail);
            check(io_channel_write_blk64(fs_->io, physical + whole, 1, last.data()),
                  at + ": cannot write data");
        }
    }

    void writeXattrs(ext2_ino_t ino, const Inode& node, const std::string& at) {
        ext2_xattr_handle* handle = nullptr;
        check(ext2fs_xattrs_open(fs_, ino, &handle), at + ": cannot open its xattrs");
        errcode_t err = ext2fs_xattrs_read(handle);
        for (auto it = node.xattrs.begin(); !err && it != node.xattrs.end(); ++it) {
            err = ext2fs_xattr_set(handle, it->first.c_str(), it->second.data(),
                                   it->second.size());
            if (err) {
                ext2fs_xattrs_close(&handle);
                check(err, at + ": cannot set xattr " + it->first);
            }
        }
        errcode_t closeErr = ext2fs_xattrs_close(&handle);
        check(err ? err : closeErr, at + ": cannot write its xattrs");
    }

    ext2_filsys fs_;
    const Ext4Options& options_;
    const std::string& output_;
    blk64_t goal_ = 0;
};

// ext2fs_flush stamps s_wtime with fs->now, or with time() when fs->now is 0, and 1.47.0
// never sets s_wtime_hi: write the fixed time into every superblock copy and re-checksum it.
void stampWriteTime(int fd, const std::vector<uint64_t>& superblocks, int64_t timestamp,
                    const std::string& where) {
    for (uint64_t offset : superblocks) {
        ext2_super_block sb;
        if (::pread(fd, &sb, sizeof sb, static_cast<off_t>(offset)) != sizeof sb)
            throwSystemError(where + ": cannot read back the superblock", errno);
        if (sb.s_magic != EXT2_SUPER_MAGIC)
            throw Error(where + ": no superblock at byte " + std::to_string(offset));
        uint64_t t = static_cast<uint64_t>(timestamp);
        sb.s_wtime = static_cast<uint32_t>(t);
        sb.s_wtime_hi = static_cast<uint8_t>(t >> 32);
        sb.s_checksum = ext2fs_crc32c_le(~0U, reinterpret_cast<unsigned char*>(&sb),
                                         offsetof(ext2_super_block, s_checksum));
        if (::pwrite(fd, &sb, sizeof sb, static_cast<off_t>(offset)) != sizeof sb)
            throwSystemError(where + ": cannot write the superblock", errno);
    }
}

uint64_t roundUp(uint64_t value, uint64_t unit) { return (value + unit - 1) / unit * unit; }

}  // namespace

std::array<uint8_t, 16> deterministicExt4Id(std::string_view name, std::string_view role) {
    std::string input = "ingot-ext4-id-v1";
    input += '\0';
    input += name;
    input += '\0';
    input += role;
    Sha256Digest digest = sha256(input);
    std::array<uint8_t, 16> id;
    std::copy_n(digest.begin(), 16, id.begin());
    id[6] = static_cast<uint8_t>((id[6] & 0x0F) | 0x40);
    id[8] = static_cast<uint8_t>((id[8] & 0x3F) | 0x80);
    return id;
}

Ext4Options deterministicExt4Options(std::string_view name, int64_t timestamp) {
    Ext4Options options;
    options.uuid = deterministicExt4Id(name, "uuid");
    options.hashSeed = deterministicExt4Id(name, "hash-seed");
    options.timestamp = timestamp;
    return options;
}

Ext4Result writeExt4(const Tree& tree, const Ext4Options& options, const std::string& outputPath) {
    if (options.label.size() > sizeof(ext2_super_block::s_volume_name))
        throw Error("ext4 label '" + options.label + "' for " + outputPath +
                        " is longer than 16 bytes",
                    ExitStatus::kUsage);
    if (options.timestamp < 0 || options.timestamp > kMaxInodeTime)
        throw Error("ext4 timestamp " + std::to_string(options.timestamp) + " for " + outputPath +
                        " is outside 1970 to 2446",
                    ExitStatus::kUsage);
    if (options.sizeBytes % kBlockSize)
        throw Error("ext4 size " + std::to_string(options.sizeBytes) + " for " + outputPath +
                        " is not a multiple of 4096",
                    ExitStatus::kUsage);

    Plan plan = makePlan(tree, options);
    TempFile out(outputPath);
    const std::string& path = out.temporaryPath();

    uint64_t inodesNeeded = plan.lastIno;
    Geometry g;
    uint64_t wanted = plan.dataBlocks;
    if (options.sizeBytes) {
        g.blocks = options.sizeBytes / kBlockSize;
        if (g.blocks < 64)
            throw Error("ext4 size " + std::to_string(options.sizeBytes) + " for " + outputPath +
                            " is below 256 KiB",
                        ExitStatus::kUsage);
        g.inodes = static_cast<uint32_t>(
            std::max<uint64_t>(options.sizeBytes / 16384, inodesNeeded + 16));
        g.journal = options.journal && g.blocks >= kJournalMinBlocks;
        uint64_t available = availableBlocks(path, g, options);
        if (available < wanted)
            throw Error("the tree needs about " + std::to_string(wanted * kBlockSize / kMiB + 1) +
                            " MiB of data and directory blocks, but an ext4 of " +
                            std::to_string(options.sizeBytes) + " bytes has " +
                            std::to_string(available * kBlockSize / kMiB) +
                            " MiB left after its own metadata; not writing " + outputPath,
                        ExitStatus::kUsage);
    } else {
        uint64_t headroom = wanted * options.headroomPercent / 100 +
                            blocksFor(options.extraFreeBytes);
        wanted += headroom;
        uint64_t inodes = inodesNeeded + inodesNeeded * options.headroomPercent / 100 + 64 +
                          options.extraFreeBytes / 16384;
        if (inodes > std::numeric_limits<uint32_t>::max())
            throw Error("the tree has too many inodes for ext4: " + outputPath,
                        ExitStatus::kUsage);
        g.inodes = static_cast<uint32_t>(inodes);
        g.journal = options.journal;
        uint64_t bytes = wanted * kBlockSize + uint64_t{g.inodes} * kInodeSize + 2 * kMiB;
        if (g.journal) bytes = std::max(bytes + 4 * kMiB, 8 * kMiB);
        g.blocks = roundUp(bytes, kMiB) / kBlockSize;
        // The metadata grows with the size (group tables, journal): grow until it all fits.
        for (int round = 0;; ++round) {
            uint64_t available = availableBlocks(path, g, options);
            if (available >= wanted) break;
            if (round == 16)
                throw Error("cannot find an ext4 size for the tree: " + outputPath);
            g.blocks += roundUp((wanted - available) * kBlockSize + kMiB / 2, kMiB) / kBlockSize;
        }
    }

    if (::ftruncate(out.fd(), static_cast<off_t>(g.blocks * kBlockSize)) < 0)
        throwSystemError("cannot size " + outputPath, errno);

    FsHandle handle;
    initializeFs(handle, path, g, options);
    ext2_filsys fs = handle.fs;
    // The output is a fresh sparse file: its inode tables already read as zeros, so the
    // kernel need not zero them in the guest.
    for (dgrp_t i = 0; i < fs->group_desc_count; ++i) {
        ext2fs_bg_flags_set(fs, i, EXT2_BG_INODE_ZEROED);
        ext2fs_group_desc_csum_set(fs, i);
    }
    std::vector<uint64_t> superblocks;
    for (dgrp_t i = 0; i < fs->group_desc_count; ++i)
        if (ext2fs_bg_has_super(fs, i))
            superblocks.push_back(i == 0 ? SUPERBLOCK_OFFSET
                                         : uint64_t{i} * fs->super->s_blocks_per_group * kBlockSize);

    Writer writer(fs, options, outputPath);
    writer.writeReserved();
    writer.writeResizeInode();
    if (g.journal) writer.writeJournal();
    for (ext2_ino_t ino = EXT2_ROOT_INO; ino <= plan.lastIno; ++ino)
        if (plan.byIno[ino].inode) writer.writeInode(ino, plan.byIno[ino]);

    Ext4Result result;
    result.sizeBytes = g.blocks * kBlockSize;
    result.blocks = ext2fs_blocks_count(fs->super);
    result.blocksUsed = result.blocks - ext2fs_free_blocks_count(fs->super);
    result.inodes = fs->super->s_inodes_count;
    result.inodesUsed = fs->super->s_inodes_count - fs->super->s_free_inodes_count;

    check(ext2fs_close_free(&handle.fs), writer.where("cannot write the file system"));
    stampWriteTime(out.fd(), superblocks, options.timestamp, outputPath);
    out.commit(0644);
    return result;
}

}  // namespace ingot::imagebuild
