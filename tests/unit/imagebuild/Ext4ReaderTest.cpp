#include "ingot/imagebuild/Ext4Reader.h"

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>

#include "ingot/core/Error.h"
#include "ingot/core/Sha256.h"
#include "ingot/imagebuild/Ext4Writer.h"
#include "TreeNodes.h"
#include "../../support/TempDir.h"

using namespace ingot::imagebuild;
namespace fs = std::filesystem;
using ingot::toHex;

using namespace ingot::imagebuild::testing;

namespace {


using ingot::test::TempDir;


Ext4Options options(bool journal = true) {
    Ext4Options o = deterministicExt4Options("reader-test", kEpoch);
    o.journal = journal;
    return o;
}

Ext4ReadOptions readOptions() {
    Ext4ReadOptions o;
    o.allowDevices = true;
    return o;
}

Tree readBack(const std::string& image, Ext4ReadSummary* summary = nullptr) {
    Tree tree;
    auto s = readExt4(image, 0, 0, tree, readOptions());
    if (summary) *summary = s;
    return tree;
}

ingot::ExitStatus statusOf(const std::function<void()>& body) {
    try {
        body();
    } catch (const ingot::Error& e) {
        return e.status();
    }
    return ingot::ExitStatus::kOk;
}

std::string errorOf(const std::function<void()>& body) {
    try {
        body();
    } catch (const ingot::Error& e) {
        return e.what();
    }
    return "";
}

// Edits an image through libext2fs (checksums recomputed), to make corruption that a checksum
// would not catch: what a malicious signer, not a bad disk, would produce.
class Editor {
public:
    explicit Editor(const std::string& image) {
        EXPECT_EQ(ext2fs_open(image.c_str(), EXT2_FLAG_64BITS | EXT2_FLAG_RW, 0, 0, unix_io_manager, &fs_), 0);
        EXPECT_EQ(ext2fs_read_bitmaps(fs_), 0);
    }
    ~Editor() { EXPECT_EQ(ext2fs_close_free(&fs_), 0); }
    ext2_ino_t ino(const char* path) {
        ext2_ino_t out = 0;
        EXPECT_EQ(ext2fs_namei(fs_, EXT2_ROOT_INO, EXT2_ROOT_INO, path, &out), 0) << path;
        return out;
    }
    void link(const char* dirPath, const char* name, ext2_ino_t target, int type) {
        ext2_ino_t d = dirPath[0] ? ino(dirPath) : EXT2_ROOT_INO;
        EXPECT_EQ(ext2fs_link(fs_, d, name, target, type), 0) << name;
    }
    void editInode(const char* path, const std::function<void(ext2_inode_large&)>& edit) {
        ext2_ino_t i = ino(path);
        ext2_inode_large in;
        ASSERT_EQ(ext2fs_read_inode_full(fs_, i, reinterpret_cast<ext2_inode*>(&in), sizeof in), 0);
        edit(in);
        ASSERT_EQ(ext2fs_write_inode_full(fs_, i, reinterpret_cast<ext2_inode*>(&in), sizeof in), 0);
    }
    ext2_filsys fs() { return fs_; }

private:
    ext2_filsys fs_ = nullptr;
};

Tree small() {
    Tree tree;
    tree.put("etc/hostname", file("base\n"), "t");
    tree.put("etc/a/b/c", file(pattern(9000, 7)), "t");
    tree.put("bin/sh", symlink("busybox"), "t");
    tree.put("bin/busybox", file(pattern(5000, 8), 0755), "t");
    tree.link("bin/ls", "bin/busybox", "t");
    return tree;
}

}  // namespace

TEST(Ext4Reader, EveryKindOfInodeRoundTrips) {
    TempDir tmp;
    Tree tree = everyKind();
    writeExt4(tree, options(), tmp / "root.ext4");
    Ext4ReadSummary summary;
    Tree back = readBack(tmp / "root.ext4", &summary);
    EXPECT_EQ(back.size(), tree.size());
    for (const auto& [path, inode] : tree.entries()) {
        auto got = back.find(path);
        ASSERT_TRUE(got) << path;
        EXPECT_EQ(got->type, inode->type) << path;
        EXPECT_EQ(got->mode, inode->mode) << path;
        EXPECT_EQ(got->uid, inode->uid) << path;
        EXPECT_EQ(got->gid, inode->gid) << path;
        EXPECT_EQ(got->mtime, inode->mtime) << path;
        EXPECT_EQ(got->symlinkTarget, inode->symlinkTarget) << path;
        EXPECT_EQ(got->rdevMajor, inode->rdevMajor) << path;
        EXPECT_EQ(got->rdevMinor, inode->rdevMinor) << path;
        EXPECT_EQ(got->xattrs, inode->xattrs) << path;
        EXPECT_EQ(got->size(), inode->size()) << path;
    }
    EXPECT_EQ(back.find("usr/bin/tool"), back.find("usr/bin/tool-link"));
    EXPECT_EQ(back.find("usr/bin/tool"), back.find("etc/tool-link2"));
    EXPECT_FALSE(back.find("lost+found"));
    EXPECT_FALSE(summary.lostFoundKept);
    EXPECT_EQ(summary.contentBytes, tree.contentBytes());
    EXPECT_EQ(toHex(back.digest()), toHex(tree.digest()));
}

TEST(Ext4Reader, VariedTreesRoundTripToTheSameDigest) {
    TempDir tmp;
    std::vector<Tree> trees;
    trees.emplace_back();  // just the root
    trees.push_back(small());
    {
        Tree large;  // an htree directory and deep nesting
        for (int i = 0; i < 3000; ++i) large.put("many/f" + std::to_string(i), file(std::to_string(i)), "t");
        std::string deep;
        for (int i = 0; i < 100; ++i) deep += (deep.empty() ? "" : "/") + std::string("d") + std::to_string(i);
        large.put(deep + "/leaf", file("leaf"), "t");
        large.put(std::string(255, 'n'), file("long name"), "t");
        trees.push_back(std::move(large));
    }
    {
        Tree kept;  // lost+found with content is kept, with its own metadata
        auto lf = dir(0700);
        lf->uid = 3;
        kept.put("lost+found", lf, "t");
        kept.put("lost+found/#12", file("recovered"), "t");
        trees.push_back(std::move(kept));
    }
    for (size_t i = 0; i < trees.size(); ++i) {
        for (bool journal : {false, true}) {
            std::string image = tmp / ("t" + std::to_string(i) + (journal ? "j" : ""));
            auto o = options(journal);
            if (journal) o.extraFreeBytes = 8 << 20;  // a journal only above 8 MiB
            writeExt4(trees[i], o, image);
            Ext4ReadSummary summary;
            Tree back = readBack(image, &summary);
            EXPECT_EQ(toHex(back.digest()), toHex(trees[i].digest())) << "tree " << i;
            EXPECT_EQ(summary.lostFoundKept, i == 3);
        }
    }
}

TEST(Ext4Reader, ReadsAtAnOffsetWithinBounds) {
    TempDir tmp;
    Tree tree = small();
    writeExt4(tree, options(false), tmp / "root.ext4");
    std::ifstream in(tmp / "root.ext4", std::ios::binary);
    std::string fsBytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string disk = std::string(1 << 20, '\x5a') + fsBytes + std::string(4096, '\xa5');
    std::ofstream(tmp / "disk.img", std::ios::binary) << disk;
    Tree back;
    readExt4(tmp / "disk.img", 1 << 20, fsBytes.size(), back, readOptions());
    EXPECT_EQ(toHex(back.digest()), toHex(tree.digest()));
    // A size smaller than the superblock claims is refused before libext2fs sizes anything.
    Tree other;
    auto message = errorOf([&] { readExt4(tmp / "disk.img", 1 << 20, fsBytes.size() - 4096, other, readOptions()); });
    EXPECT_NE(message.find("more than the"), std::string::npos) << message;
    EXPECT_EQ(statusOf([&] { readExt4(tmp / "disk.img", 12345, 0, other, readOptions()); }),
              ingot::ExitStatus::kVerification);
    EXPECT_EQ(statusOf([&] { readExt4(tmp / "disk.img", disk.size() + 1, 0, other, readOptions()); }),
              ingot::ExitStatus::kVerification);
    EXPECT_EQ(statusOf([&] { readExt4(tmp / "missing.img", 0, 0, other, readOptions()); }),
              ingot::ExitStatus::kUsage);
}

TEST(Ext4Reader, DevicesNeedPermission) {
    TempDir tmp;
    Tree tree;
    auto null = node(NodeType::kCharDevice, 0666);
    null->rdevMajor = 1;
    null->rdevMinor = 3;
    tree.put("dev/null", null, "t");
    writeExt4(tree, options(false), tmp / "root.ext4");
    Tree back;
    auto message = errorOf([&] { readExt4(tmp / "root.ext4", 0, 0, back, Ext4ReadOptions{}); });
    EXPECT_NE(message.find("/dev/null"), std::string::npos) << message;
    EXPECT_NE(message.find("allow: {devices: true}"), std::string::npos) << message;
}

TEST(Ext4Reader, LimitsAreEnforced) {
    TempDir tmp;
    writeExt4(small(), options(false), tmp / "root.ext4");
    Tree back;
    Ext4ReadOptions o = readOptions();
    o.maxEntries = 3;
    EXPECT_NE(errorOf([&] { readExt4(tmp / "root.ext4", 0, 0, back, o); }).find("more than 3 entries"),
              std::string::npos);
    o = readOptions();
    o.maxDepth = 2;
    EXPECT_NE(errorOf([&] { readExt4(tmp / "root.ext4", 0, 0, back, o); }).find("/etc/a/b"), std::string::npos);
    o = readOptions();
    o.maxEntryBytes = 8999;
    EXPECT_NE(errorOf([&] { readExt4(tmp / "root.ext4", 0, 0, back, o); }).find("/etc/a/b/c"), std::string::npos);
    o = readOptions();
    o.maxTotalBytes = 10000;
    EXPECT_EQ(statusOf([&] { readExt4(tmp / "root.ext4", 0, 0, back, o); }), ingot::ExitStatus::kVerification);
}

// Well-formed ext4 (checksums right) with hostile structure.
TEST(Ext4Reader, HostileStructureIsRefused) {
    TempDir tmp;
    writeExt4(small(), options(false), tmp / "clean.ext4");
    struct Case {
        const char* name;
        std::function<void(Editor&)> edit;
        const char* expect;
    };
    std::vector<Case> cases = {
        {"loop to the root", [](Editor& e) { e.link("etc/a", "up", EXT2_ROOT_INO, EXT2_FT_DIR); }, "loop"},
        {"hard-linked directory", [](Editor& e) { e.link("", "etc2", e.ino("etc/a"), EXT2_FT_DIR); }, "loop"},
        {"inode out of range",
         [](Editor& e) { e.link("etc", "far", e.fs()->super->s_inodes_count + 5, EXT2_FT_REG_FILE); }, "out of range"},
        {"journal inode", [](Editor& e) { e.link("etc", "journal", EXT2_JOURNAL_INO, EXT2_FT_REG_FILE); }, "reserved"},
        {"slash in a name", [](Editor& e) { e.link("etc", "x/y", e.ino("etc/hostname"), EXT2_FT_REG_FILE); }, "'/'"},
        {"free inode", [](Editor& e) { e.link("etc", "stale", e.fs()->super->s_inodes_count - 1, EXT2_FT_REG_FILE); },
         "not in use"},
        {"huge size",
         [](Editor& e) { e.editInode("etc/hostname", [](ext2_inode_large& in) { in.i_size_high = 0x100; }); },
         "bytes"},
        {"bad extent header",
         [](Editor& e) {
             e.editInode("etc/a/b/c", [](ext2_inode_large& in) {
                 auto* h = reinterpret_cast<ext3_extent_header*>(in.i_block);
                 h->eh_depth = 3;
                 h->eh_entries = 4;
             });
         },
         "/etc/a/b/c"},
        {"extent past the end",
         [](Editor& e) {
             e.editInode("etc/a/b/c", [](ext2_inode_large& in) {
                 auto* x = reinterpret_cast<ext3_extent*>(reinterpret_cast<char*>(in.i_block) + 12);
                 x->ee_start = 0x7ffffff0;
             });
         },
         "/etc/a/b/c"},
        {"symlink too long",
         [](Editor& e) { e.editInode("bin/sh", [](ext2_inode_large& in) { in.i_size = 5000; }); }, "symlink"},
        {"unknown file type",
         [](Editor& e) { e.editInode("etc/hostname", [](ext2_inode_large& in) { in.i_mode = 0xF1A4; }); },
         "file type"},
        {"root no directory",
         [](Editor& e) {
             ext2_inode_large in;
             ext2fs_read_inode_full(e.fs(), EXT2_ROOT_INO, reinterpret_cast<ext2_inode*>(&in), sizeof in);
             in.i_mode = LINUX_S_IFREG | 0644;
             ext2fs_write_inode_full(e.fs(), EXT2_ROOT_INO, reinterpret_cast<ext2_inode*>(&in), sizeof in);
         },
         "root"},
    };
    for (const auto& c : cases) {
        std::string image = tmp / "hostile.ext4";
        fs::copy_file(tmp / "clean.ext4", image, fs::copy_options::overwrite_existing);
        {
            Editor editor(image);
            c.edit(editor);
        }
        Tree back;
        std::string message;
        ingot::ExitStatus status = ingot::ExitStatus::kOk;
        try {
            readExt4(image, 0, 0, back, readOptions());
        } catch (const ingot::Error& e) {
            message = e.what();
            status = e.status();
        }
        EXPECT_EQ(status, ingot::ExitStatus::kVerification) << c.name << ": " << message;
        EXPECT_NE(message.find(c.expect), std::string::npos) << c.name << ": " << message;
        EXPECT_NE(message.find(image), std::string::npos) << c.name << ": " << message;
    }
}

// Raw byte flips over every metadata block the writer made (superblock, group descriptors,
// bitmaps, inode table, directory and data blocks): each read ends in a tree or an ingot::Error,
// never a crash (run under ASan).
TEST(Ext4Reader, CorruptedBytesNeverCrash) {
    TempDir tmp;
    std::string image = tmp / "root.ext4";
    writeExt4(small(), options(false), image);
    std::ifstream in(image, std::ios::binary);
    std::string original((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    int fd = ::open(image.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    uint32_t x = 12345;
    size_t trials = 0, refused = 0;
    for (size_t block = 0; block * 4096 < original.size(); ++block) {
        std::string_view b(original.data() + block * 4096, 4096);
        if (b.find_first_not_of('\0') == std::string_view::npos) continue;
        for (int k = 0; k < 12; ++k) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            // Half the flips land in the first 512 bytes, where headers and the first inodes are.
            size_t at = block * 4096 + (k % 2 ? x % 512 : x % 4096);
            unsigned char flipped = static_cast<unsigned char>(original[at]) ^ static_cast<unsigned char>(1u << (x % 8));
            ASSERT_EQ(::pwrite(fd, &flipped, 1, static_cast<off_t>(at)), 1);
            Tree back;
            try {
                readExt4(image, 0, 0, back, readOptions());
            } catch (const ingot::Error& e) {
                ++refused;
                EXPECT_NE(std::string(e.what()).find(image), std::string::npos) << e.what();
            }
            ++trials;
            ASSERT_EQ(::pwrite(fd, original.data() + at, 1, static_cast<off_t>(at)), 1);
        }
    }
    ::close(fd);
    EXPECT_GT(trials, 50u);
    EXPECT_GT(refused, 0u);
    std::cout << trials << " corrupted images: " << refused << " refused, " << trials - refused << " read\n";
}

// POSIX ACLs (Debian's /var/log/journal carries group:adm:r-x and a default ACL) come back in
// the form the writer takes, so a layered build or `ingot patch` can write the tree again.
TEST(Ext4Reader, PosixAclsRoundTripThroughWriteReadWrite) {
    const auto acl = [](std::initializer_list<std::array<uint32_t, 3>> entries) {
        std::string out;
        const auto put = [&out](uint32_t v, int bytes) {
            for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
        };
        put(2, 4);  // POSIX_ACL_XATTR_VERSION
        for (const auto& [tag, perm, id] : entries) {
            put(tag, 2);
            put(perm, 2);
            put(id, 4);
        }
        return out;
    };
    const uint32_t kNoId = 0xffffffff;
    const std::string access = acl({{1, 7, kNoId}, {4, 5, kNoId}, {8, 5, 4}, {0x10, 5, kNoId}, {0x20, 5, kNoId}});
    TempDir tmp;
    Tree tree;
    auto dir = std::make_shared<Inode>();
    dir->type = NodeType::kDirectory;
    dir->mode = 02755;
    dir->xattrs["system.posix_acl_access"] = access;
    dir->xattrs["system.posix_acl_default"] = access;
    tree.put("var/log/journal", dir, "t");
    writeExt4(tree, options(), tmp / "a.ext4");
    Tree back = readBack(tmp / "a.ext4");
    ASSERT_TRUE(back.find("var/log/journal"));
    EXPECT_EQ(back.find("var/log/journal")->xattrs, dir->xattrs);
    writeExt4(back, options(), tmp / "b.ext4");
    EXPECT_EQ(readBack(tmp / "b.ext4").find("var/log/journal")->xattrs, dir->xattrs);
}

// An ACL xattr that is neither ext4's form nor the kernel's is refused, naming the path.
TEST(Ext4Reader, MalformedAclIsRefused) {
    TempDir tmp;
    Tree tree;
    tree.put("etc/x", file("x\n"), "t");
    writeExt4(tree, options(), tmp / "root.ext4");
    for (const std::string& value : {std::string("\x01\0\0\0\x01\0", 6),          // short entry cut
                                     std::string("\x01\0\0\0\x40\0\x07\0", 8),     // unknown tag
                                     std::string("\x07\0\0\0", 4)}) {             // unknown version
        {
            Editor e(tmp / "root.ext4");
            ext2_xattr_handle* h = nullptr;
            ASSERT_EQ(ext2fs_xattrs_open(e.fs(), e.ino("etc/x"), &h), 0);
            ASSERT_EQ(ext2fs_xattrs_read(h), 0);
            unsigned int flags = XATTR_HANDLE_FLAG_RAW;
            ASSERT_EQ(ext2fs_xattrs_flags(h, &flags, nullptr), 0);
            ASSERT_EQ(ext2fs_xattr_set(h, "system.posix_acl_access", value.data(), value.size()), 0);
            ASSERT_EQ(ext2fs_xattrs_close(&h), 0);
        }
        const std::string message = errorOf([&] { readBack(tmp / "root.ext4"); });
        EXPECT_NE(message.find("etc/x"), std::string::npos) << message;
        EXPECT_NE(message.find("is no POSIX ACL"), std::string::npos) << message;
    }
}
