#include "ingot/imagebuild/Ext4Writer.h"

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <unordered_map>
#include <vector>

#include "ingot/core/Error.h"
#include "ingot/core/Sha256.h"
#include "TreeNodes.h"
#include "../../support/TempDir.h"

using namespace ingot::imagebuild;
namespace fs = std::filesystem;

using namespace ingot::imagebuild::testing;

namespace {



std::string tool(const char* name) {
    for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/"}) {
        std::string path = std::string(dir) + name;
        if (::access(path.c_str(), X_OK) == 0) return path;
    }
    return name;
}

struct Command {
    int status;
    std::string output;
};

Command run(const std::string& command) {
    Command r{-1, {}};
    FILE* p = ::popen((command + " 2>&1").c_str(), "r");
    if (!p) return r;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
    int status = ::pclose(p);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

void expectFsckClean(const std::string& image) {
    Command r = run(tool("e2fsck") + " -fn " + image);
    EXPECT_EQ(r.status, 0) << r.output;
}

using ingot::test::TempDir;

int64_t decodeTime(uint32_t seconds, uint32_t extra) {
    return static_cast<int32_t>(seconds) + (static_cast<int64_t>(extra & 3) << 32);
}

// Reads the image back through libext2fs and compares every path of the tree with it.
class ReadBack {
public:
    explicit ReadBack(const std::string& image) {
        errcode_t err = ext2fs_open(image.c_str(), EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs_);
        EXPECT_EQ(err, 0) << "ext2fs_open " << image;
    }
    ~ReadBack() {
        if (fs_) ext2fs_close_free(&fs_);
    }
    ext2_filsys fs() const { return fs_; }

    ext2_ino_t lookup(const std::string& path) {
        ext2_ino_t ino = 0;
        errcode_t err = ext2fs_namei(fs_, EXT2_ROOT_INO, EXT2_ROOT_INO,
                                     ("/" + path).c_str(), &ino);
        EXPECT_EQ(err, 0) << "lookup /" << path;
        return ino;
    }

    // Every path in the image, found by walking its directories once (a lookup per path
    // would scan big directories linearly, over and over).
    std::map<std::string, ext2_ino_t> walk() {
        std::map<std::string, ext2_ino_t> out;
        std::vector<std::pair<std::string, ext2_ino_t>> pending{{"", EXT2_ROOT_INO}};
        out[""] = EXT2_ROOT_INO;
        while (!pending.empty()) {
            auto [dirPath, dirIno] = pending.back();
            pending.pop_back();
            struct Ctx {
                std::string prefix;
                std::vector<std::pair<std::string, ext2_ino_t>> found;
            } ctx{dirPath.empty() ? "" : dirPath + "/", {}};
            errcode_t err = ext2fs_dir_iterate2(
                fs_, dirIno, 0, nullptr,
                [](ext2_ino_t, int entry, ext2_dir_entry* d, int, int, char*, void* data) {
                    if (entry == DIRENT_DOT_FILE || entry == DIRENT_DOT_DOT_FILE) return 0;
                    auto* c = static_cast<Ctx*>(data);
                    c->found.emplace_back(
                        c->prefix + std::string(d->name, ext2fs_dirent_name_len(d)), d->inode);
                    return 0;
                },
                &ctx);
            EXPECT_EQ(err, 0) << "iterate /" << dirPath;
            for (auto& [path, ino] : ctx.found) {
                EXPECT_TRUE(out.emplace(path, ino).second) << "duplicate /" << path;
                ext2_inode in;
                if (ext2fs_read_inode(fs_, ino, &in) == 0 && LINUX_S_ISDIR(in.i_mode))
                    pending.emplace_back(path, ino);
            }
        }
        return out;
    }

    ext2_inode_large inode(ext2_ino_t ino) {
        ext2_inode_large in;
        std::memset(&in, 0, sizeof in);
        EXPECT_EQ(ext2fs_read_inode_full(fs_, ino, reinterpret_cast<ext2_inode*>(&in), sizeof in),
                  0);
        return in;
    }

    std::string data(ext2_ino_t ino) {
        ext2_file_t file;
        EXPECT_EQ(ext2fs_file_open(fs_, ino, 0, &file), 0);
        std::string out;
        char buf[65536];
        for (;;) {
            unsigned int got = 0;
            EXPECT_EQ(ext2fs_file_read(file, buf, sizeof buf, &got), 0);
            if (got == 0) break;
            out.append(buf, got);
        }
        ext2fs_file_close(file);
        return out;
    }

    std::map<std::string, std::string> xattrs(ext2_ino_t ino) {
        std::map<std::string, std::string> out;
        ext2_xattr_handle* h = nullptr;
        EXPECT_EQ(ext2fs_xattrs_open(fs_, ino, &h), 0);
        EXPECT_EQ(ext2fs_xattrs_read(h), 0);
        ext2fs_xattrs_iterate(
            h,
            [](char* name, char* value, size_t len, void* data) {
                (*static_cast<std::map<std::string, std::string>*>(data))[name] =
                    std::string(value, len);
                return 0;
            },
            &out);
        ext2fs_xattrs_close(&h);
        return out;
    }

    void compare(const Tree& tree) {
        std::unordered_map<const Inode*, ext2_ino_t> seen;
        std::unordered_map<const Inode*, size_t> links;
        std::map<std::string, size_t> subdirs;
        for (const auto& [path, want] : tree.entries()) {
            ++links[want.get()];
            if (!path.empty() && want->type == NodeType::kDirectory) ++subdirs[parentPath(path)];
        }
        auto inImage = walk();
        size_t expected = tree.size() + (tree.find("lost+found") ? 0 : 1);
        EXPECT_EQ(inImage.size(), expected) << "the image holds exactly the tree";
        for (const auto& [path, want] : tree.entries()) {
            SCOPED_TRACE("/" + path);
            ext2_ino_t ino = inImage[path];
            ASSERT_NE(ino, 0u);
            auto [it, fresh] = seen.emplace(want.get(), ino);
            EXPECT_EQ(it->second, ino) << "hard links share one inode";
            if (!fresh) continue;
            ext2_inode_large in = inode(ino);
            static const std::map<NodeType, uint16_t> kTypes = {
                {NodeType::kFile, LINUX_S_IFREG},       {NodeType::kDirectory, LINUX_S_IFDIR},
                {NodeType::kSymlink, LINUX_S_IFLNK},    {NodeType::kCharDevice, LINUX_S_IFCHR},
                {NodeType::kBlockDevice, LINUX_S_IFBLK}, {NodeType::kFifo, LINUX_S_IFIFO},
                {NodeType::kSocket, LINUX_S_IFSOCK}};
            EXPECT_EQ(in.i_mode & LINUX_S_IFMT, kTypes.at(want->type));
            EXPECT_EQ(in.i_mode & 07777, want->mode);
            EXPECT_EQ(inode_uid(in), want->uid);
            EXPECT_EQ(inode_gid(in), want->gid);
            EXPECT_EQ(decodeTime(in.i_mtime, in.i_mtime_extra), want->mtime);
            EXPECT_EQ(decodeTime(in.i_atime, in.i_atime_extra), want->mtime);
            EXPECT_EQ(decodeTime(in.i_ctime, in.i_ctime_extra), want->mtime);
            EXPECT_EQ(decodeTime(in.i_crtime, in.i_crtime_extra), want->mtime);
            uint64_t size = in.i_size | (uint64_t{in.i_size_high} << 32);
            if (want->type == NodeType::kFile) {
                EXPECT_EQ(size, want->size());
                EXPECT_EQ(in.i_links_count, links[want.get()]);
                EXPECT_TRUE(data(ino) == (want->content ? want->content->bytes() : ""))
                    << "content differs";
            } else if (want->type == NodeType::kSymlink) {
                EXPECT_EQ(size, want->symlinkTarget.size());
                std::string target =
                    want->symlinkTarget.size() < 60
                        ? std::string(reinterpret_cast<const char*>(in.i_block), size)
                        : data(ino);
                EXPECT_EQ(target, want->symlinkTarget);
            } else if (want->type == NodeType::kDirectory) {
                size_t n = subdirs[path] + (path.empty() && !tree.find("lost+found") ? 1 : 0);
                EXPECT_EQ(in.i_links_count, n + 2 >= 65000 ? 1 : n + 2);
            } else if (want->type == NodeType::kCharDevice ||
                       want->type == NodeType::kBlockDevice) {
                uint32_t major, minor;
                if (in.i_block[0]) {
                    major = (in.i_block[0] >> 8) & 255;
                    minor = in.i_block[0] & 255;
                } else {
                    major = (in.i_block[1] & 0xfff00) >> 8;
                    minor = (in.i_block[1] & 0xff) | ((in.i_block[1] >> 12) & 0xfff00);
                }
                EXPECT_EQ(major, want->rdevMajor);
                EXPECT_EQ(minor, want->rdevMinor);
            }
            EXPECT_EQ(xattrs(ino), want->xattrs);
        }
    }

private:
    ext2_filsys fs_ = nullptr;
};

Ext4Options options(int64_t timestamp = kEpoch) {
    Ext4Options o = deterministicExt4Options("test-image", timestamp);
    o.label = "ingot-root";
    return o;
}

}  // namespace

TEST(Ext4Writer, EveryKindOfInodeRoundTrips) {
    TempDir tmp;
    Tree tree = everyKind();
    std::string image = tmp / "root.ext4";
    Ext4Result result = writeExt4(tree, options(), image);
    EXPECT_EQ(result.sizeBytes, fs::file_size(image));
    EXPECT_EQ(result.sizeBytes % (1 << 20), 0u);
    EXPECT_EQ(result.blocks * 4096, result.sizeBytes);
    EXPECT_GT(result.blocksUsed, 0u);
    EXPECT_GE(result.inodesUsed, 11 + 20u);
    expectFsckClean(image);

    ReadBack back(image);
    ASSERT_NE(back.fs(), nullptr);
    back.compare(tree);
    ext2_super_block* s = back.fs()->super;
    auto want = options();
    EXPECT_EQ(std::memcmp(s->s_uuid, want.uuid.data(), 16), 0);
    EXPECT_EQ(std::memcmp(s->s_hash_seed, want.hashSeed.data(), 16), 0);
    EXPECT_STREQ(reinterpret_cast<const char*>(s->s_volume_name), "ingot-root");
    EXPECT_EQ(s->s_mkfs_time, kEpoch);
    EXPECT_EQ(s->s_wtime, kEpoch);
    EXPECT_EQ(s->s_lastcheck, kEpoch);
    EXPECT_EQ(s->s_kbytes_written, 0u);
    EXPECT_TRUE(ext2fs_has_feature_journal(s));
    EXPECT_TRUE(ext2fs_has_feature_metadata_csum(s));
    EXPECT_TRUE(ext2fs_has_feature_extents(s));
    EXPECT_TRUE(ext2fs_has_feature_64bit(s));
    EXPECT_TRUE(ext2fs_has_feature_flex_bg(s));
    // Made-up inodes carry the fixed time too.
    for (ext2_ino_t ino : {ext2_ino_t{EXT2_JOURNAL_INO}, ext2_ino_t{EXT2_RESIZE_INO}, ext2_ino_t{11}}) {
        ext2_inode_large in = back.inode(ino);
        EXPECT_EQ(in.i_mtime, kEpoch) << "inode " << ino;
        EXPECT_EQ(in.i_ctime, kEpoch) << "inode " << ino;
    }
    EXPECT_EQ(back.lookup("lost+found"), 11u);
    EXPECT_EQ(back.inode(11).i_mode, LINUX_S_IFDIR | 0700);

    // An independent reader agrees.
    Command cat = run(tool("debugfs") + " -R 'cat /etc/passwd' " + image);
    EXPECT_NE(cat.output.find("root:x:0:0:root:/root:/bin/sh"), std::string::npos) << cat.output;
    Command stat = run(tool("debugfs") + " -R 'stat /usr/bin/tool' " + image);
    EXPECT_NE(stat.output.find("Links: 3"), std::string::npos) << stat.output;
    EXPECT_NE(stat.output.find("Mode:  04755"), std::string::npos) << stat.output;
}

TEST(Ext4Writer, ByteForByteReproducible) {
    Tree tree = everyKind();
    TempDir a, b;
    Ext4Options o = options();
    writeExt4(tree, o, a / "one.ext4");

    // Another directory, umask, time zone, a fake-time request for libext2fs, a later second.
    mode_t oldMask = ::umask(077);
    const char* oldTz = std::getenv("TZ");
    std::string savedTz = oldTz ? oldTz : "";
    ::setenv("TZ", "Pacific/Kiritimati", 1);
    ::setenv("E2FSPROGS_FAKE_TIME", "12345", 1);
    ::sleep(1);
    std::string cwd = fs::current_path();
    fs::current_path(b.path());
    writeExt4(tree, o, "two.ext4");
    fs::current_path(cwd);
    ::umask(oldMask);
    ::unsetenv("E2FSPROGS_FAKE_TIME");
    if (oldTz) ::setenv("TZ", savedTz.c_str(), 1);
    else ::unsetenv("TZ");

    auto one = ingot::sha256File(a / "one.ext4", "image");
    auto two = ingot::sha256File(b / "two.ext4", "image");
    EXPECT_EQ(ingot::toHex(one.sha256), ingot::toHex(two.sha256));
    EXPECT_EQ(fs::status(b / "two.ext4").permissions(), fs::perms(0644));

    // A different name gives a different identity, and everything else stays fixed.
    writeExt4(tree, deterministicExt4Options("other", kEpoch), a / "other.ext4");
    EXPECT_NE(ingot::toHex(ingot::sha256File(a / "other.ext4", "image").sha256),
              ingot::toHex(one.sha256));
}

TEST(Ext4Writer, TimestampZeroIsHonoured) {
    // libext2fs reads fs->now == 0 as "use the clock"; the writer must not.
    TempDir tmp;
    Tree tree;
    tree.put("a", file("a"), "t");
    writeExt4(tree, options(0), tmp / "zero.ext4");
    ::sleep(1);
    writeExt4(tree, options(0), tmp / "zero2.ext4");
    EXPECT_EQ(ingot::toHex(ingot::sha256File(tmp / "zero.ext4", "image").sha256),
              ingot::toHex(ingot::sha256File(tmp / "zero2.ext4", "image").sha256));
    expectFsckClean(tmp / "zero.ext4");
    ReadBack back(tmp / "zero.ext4");
    ASSERT_NE(back.fs(), nullptr);
    EXPECT_EQ(back.fs()->super->s_wtime, 0u);
    EXPECT_EQ(back.fs()->super->s_mkfs_time, 0u);
    for (ext2_ino_t ino : {ext2_ino_t{EXT2_JOURNAL_INO}, ext2_ino_t{EXT2_RESIZE_INO}, ext2_ino_t{11}})
        EXPECT_EQ(back.inode(ino).i_ctime, 0u) << "inode " << ino;
}

TEST(Ext4Writer, AutoSizeFitsTwentyMegabytes) {
    TempDir tmp;
    Tree tree;
    uint64_t total = 0;
    for (int i = 0; i < 200; ++i) {
        size_t size = 1000 + static_cast<size_t>(i) * 1000;  // 1 KB .. 200 KB: ~20 MB
        tree.put("data/d" + std::to_string(i % 7) + "/f" + std::to_string(i),
                 file(pattern(size, static_cast<uint32_t>(i))), "t");
        total += size;
    }
    ASSERT_GT(total, 20'000'000u);
    std::string image = tmp / "auto.ext4";
    Ext4Result r = writeExt4(tree, options(), image);
    expectFsckClean(image);
    // The content, the journal (4 MiB here) and metadata, and no more than the headroom asked.
    EXPECT_GT(r.sizeBytes, total);
    EXPECT_LT(r.sizeBytes, total * 12 / 10 + (10 << 20));
    uint64_t freeBytes = (r.blocks - r.blocksUsed) * 4096;
    EXPECT_GE(freeBytes, total / 10);
    ReadBack back(image);
    ASSERT_NE(back.fs(), nullptr);
    back.compare(tree);
}

TEST(Ext4Writer, ExtraFreeBytesAreThere) {
    TempDir tmp;
    Tree tree;
    tree.put("a", file(pattern(100000, 1)), "t");
    Ext4Options o = options();
    o.extraFreeBytes = 50 << 20;
    Ext4Result r = writeExt4(tree, o, tmp / "x.ext4");
    EXPECT_GE((r.blocks - r.blocksUsed) * 4096, 50u << 20);
    EXPECT_GE(r.inodes - r.inodesUsed, (50u << 20) / 16384);
    expectFsckClean(tmp / "x.ext4");
}

TEST(Ext4Writer, FixedSizeAndNoJournal) {
    TempDir tmp;
    Tree tree = everyKind();
    Ext4Options o = options();
    o.sizeBytes = 64 << 20;
    o.journal = false;
    Ext4Result r = writeExt4(tree, o, tmp / "fixed.ext4");
    EXPECT_EQ(r.sizeBytes, 64u << 20);
    EXPECT_EQ(fs::file_size(tmp / "fixed.ext4"), 64u << 20);
    expectFsckClean(tmp / "fixed.ext4");
    ReadBack back(tmp / "fixed.ext4");
    ASSERT_NE(back.fs(), nullptr);
    EXPECT_FALSE(ext2fs_has_feature_journal(back.fs()->super));
    back.compare(tree);
}

TEST(Ext4Writer, TreeTooBigForFixedSizeLeavesNothing) {
    TempDir tmp;
    Tree tree;
    for (int i = 0; i < 20; ++i)
        tree.put("f" + std::to_string(i), file(pattern(1 << 20, static_cast<uint32_t>(i))), "t");
    Ext4Options o = options();
    o.sizeBytes = 16 << 20;
    try {
        writeExt4(tree, o, tmp / "small.ext4");
        FAIL() << "a 20 MiB tree fit 16 MiB";
    } catch (const ingot::Error& e) {
        EXPECT_EQ(e.status(), ingot::ExitStatus::kUsage);
        EXPECT_NE(std::string(e.what()).find("needs about"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("small.ext4"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(fs::is_empty(tmp.path()));

    o.sizeBytes = 12345;
    EXPECT_THROW(writeExt4(tree, o, tmp / "odd.ext4"), ingot::Error);
    o.sizeBytes = 0;
    o.label = "a label longer than sixteen bytes";
    EXPECT_THROW(writeExt4(tree, o, tmp / "label.ext4"), ingot::Error);
    EXPECT_TRUE(fs::is_empty(tmp.path()));
}

TEST(Ext4Writer, HostileTreesAreRefused) {
    TempDir tmp;
    Tree notDir;
    notDir.put("lost+found", file("x"), "t");
    EXPECT_THROW(writeExt4(notDir, options(), tmp / "a.ext4"), ingot::Error);
    Tree emptyLink;
    emptyLink.put("l", symlink(""), "t");
    EXPECT_THROW(writeExt4(emptyLink, options(), tmp / "b.ext4"), ingot::Error);
    Tree hugeLink;
    hugeLink.put("l", symlink(std::string(4096, 'z')), "t");
    EXPECT_THROW(writeExt4(hugeLink, options(), tmp / "c.ext4"), ingot::Error);
    Tree future;
    auto f = file("x");
    f->mtime = int64_t{1} << 40;
    future.put("f", f, "t");
    EXPECT_THROW(writeExt4(future, options(), tmp / "d.ext4"), ingot::Error);
    Tree dirLink;
    auto shared = dir();
    dirLink.put("a", shared, "t");
    dirLink.put("b", shared, "t");
    EXPECT_THROW(writeExt4(dirLink, options(), tmp / "e.ext4"), ingot::Error);
    EXPECT_TRUE(fs::is_empty(tmp.path()));
}

TEST(Ext4Writer, LongNamesAndDeepPaths) {
    TempDir tmp;
    Tree tree;
    std::string name255(255, 'n');
    tree.put(name255, file("long"), "t");
    std::string deep;
    for (int i = 0; i < 15; ++i) deep += (deep.empty() ? "" : "/") + std::string(250, 'a' + i);
    tree.put(deep + "/leaf", file("deep"), "t");
    std::string narrow;
    for (int i = 0; i < 1000; ++i) narrow += (narrow.empty() ? "" : "/") + std::string("d");
    tree.put(narrow + "/x", file("narrow"), "t");
    auto lostFound = dir(0700);
    tree.put("lost+found", lostFound, "t");
    tree.put("lost+found/#12", file("orphan"), "t");
    std::string image = tmp / "long.ext4";
    writeExt4(tree, options(), image);
    expectFsckClean(image);
    ReadBack back(image);
    ASSERT_NE(back.fs(), nullptr);
    back.compare(tree);
}

TEST(Ext4Writer, LargeDirectoriesAreIndexed) {
    TempDir tmp;
    Tree tree;
    auto shared = makeBlob("x");
    for (int i = 0; i < 10000; ++i) {
        auto f = node(NodeType::kFile, 0644);
        f->content = shared;
        tree.put("big/entry-" + std::to_string(i), f, "t");
    }
    // Long names need more leaves than one index block holds: two htree levels.
    // 264-byte entries, 15 a leaf: 534 leaves, past the root's 507 index entries.
    for (int i = 0; i < 8000; ++i)
        tree.put("wide/" + std::string(250, 'w') + std::to_string(i), node(NodeType::kFifo, 0600),
                 "t");
    std::string image = tmp / "dirs.ext4";
    writeExt4(tree, options(), image);
    expectFsckClean(image);
    ReadBack back(image);
    ASSERT_NE(back.fs(), nullptr);
    for (const char* d : {"big", "wide"}) {
        ext2_inode_large in = back.inode(back.lookup(d));
        EXPECT_TRUE(in.i_flags & EXT2_INDEX_FL) << d;
    }
    Command htree = run(tool("debugfs") + " -R 'htree /wide' " + image + " | head -5");
    EXPECT_NE(htree.output.find("Indirect levels: 1"), std::string::npos) << htree.output;
    back.compare(tree);
}
