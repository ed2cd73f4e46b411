#include "ingot/imagebuild/Initrd.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <algorithm>
#include <map>
#include <set>

#include "ingot/core/Error.h"

using namespace ingot::imagebuild;

namespace {

std::string readFile(const std::filesystem::path& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

std::shared_ptr<Inode> file(std::string content, uint32_t mode = 0644) {
    auto inode = std::make_shared<Inode>();
    inode->content = makeBlob(std::move(content));
    inode->mode = mode;
    return inode;
}

// A tree with Debian's real modules for the block path (and a few unrelated ones) and busybox.
struct KernelTree {
    Tree tree;
    std::string release;
};

KernelTree kernelTree() {
    std::filesystem::path kernel = INGOT_RIG_KERNEL_DIR;
    KernelTree k;
    k.release = readFile(kernel / "release");
    while (!k.release.empty() && k.release.back() == '\n') k.release.pop_back();
    std::string dir = "lib/modules/" + k.release + "/";
    for (const char* rel : {"kernel/drivers/virtio/virtio.ko", "kernel/drivers/virtio/virtio_ring.ko",
                            "kernel/drivers/virtio/virtio_mmio.ko", "kernel/drivers/block/virtio_blk.ko",
                            "kernel/fs/ext4/ext4.ko", "kernel/fs/jbd2/jbd2.ko", "kernel/fs/mbcache.ko",
                            "kernel/lib/crc16.ko", "kernel/crypto/crc32c_generic.ko",
                            "kernel/fs/xfs/xfs.ko", "kernel/lib/libcrc32c.ko"})
        k.tree.put(dir + rel, file(readFile(kernel / "modules" / rel)), "test");
    k.tree.put("bin/busybox", file(readFile("/bin/busybox"), 0755), "test");
    return k;
}

std::string gunzip(const std::string& bytes) {
    std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
    archive_read_support_filter_gzip(a.get());
    archive_read_support_format_raw(a.get());
    EXPECT_EQ(archive_read_open_memory(a.get(), bytes.data(), bytes.size()), ARCHIVE_OK);
    archive_entry* e;
    EXPECT_EQ(archive_read_next_header(a.get(), &e), ARCHIVE_OK);
    std::string out;
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(a.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
}

struct CpioMember {
    unsigned type;
    unsigned perm;
    std::string data;
    std::string symlink;
};

std::map<std::string, CpioMember> readCpio(const std::string& bytes) {
    std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
    archive_read_support_format_cpio(a.get());
    EXPECT_EQ(archive_read_open_memory(a.get(), bytes.data(), bytes.size()), ARCHIVE_OK);
    std::map<std::string, CpioMember> out;
    archive_entry* e;
    while (archive_read_next_header(a.get(), &e) == ARCHIVE_OK) {
        CpioMember m{archive_entry_filetype(e), archive_entry_perm(e), {},
                     archive_entry_symlink(e) ? archive_entry_symlink(e) : ""};
        char buf[65536];
        la_ssize_t n;
        while ((n = archive_read_data(a.get(), buf, sizeof buf)) > 0) m.data.append(buf, static_cast<size_t>(n));
        out[archive_entry_pathname(e)] = m;
    }
    return out;
}

}  // namespace

TEST(ModuleClosure, DependenciesComeFirstFromModinfo) {
    auto k = kernelTree();
    auto modules = moduleClosure(k.tree, k.release, {"ext4", "virtio-mmio"});
    std::vector<std::string> names;
    for (const auto& m : modules) names.push_back(m.name);
    auto pos = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) - names.begin(); };
    // ext4's soft dependency on crc32c brings crc32c_generic.
    ASSERT_EQ(names.size(), 8u) << ::testing::PrintToString(names);
    EXPECT_LT(pos("crc32c_generic"), pos("ext4"));
    EXPECT_LT(pos("jbd2"), pos("ext4"));
    EXPECT_LT(pos("mbcache"), pos("ext4"));
    EXPECT_LT(pos("crc16"), pos("ext4"));
    EXPECT_LT(pos("virtio"), pos("virtio_mmio"));
    EXPECT_LT(pos("virtio_ring"), pos("virtio_mmio"));
    // modules.dep from depmod says the same: ext4 depends on crc16, mbcache and jbd2.
    const auto& ext4 = modules[pos("ext4")];
    EXPECT_EQ(std::set<std::string>(ext4.depends.begin(), ext4.depends.end()),
              (std::set<std::string>{"crc16", "mbcache", "jbd2"}));
}

TEST(ModuleClosure, MissingModuleIsNamed) {
    auto k = kernelTree();
    try {
        moduleClosure(k.tree, k.release, {"nvme"});
        FAIL();
    } catch (const ingot::Error& e) {
        EXPECT_NE(std::string(e.what()).find("nvme"), std::string::npos) << e.what();
    }
    k.tree.put("lib/modules/" + k.release + "/kernel/bogus.ko", file("not an elf"), "test");
    EXPECT_THROW(moduleClosure(k.tree, k.release, {"bogus"}), ingot::Error);
}

TEST(GenerateInitrd, HoldsInitBusyboxAndModulesInLoadOrder) {
    auto k = kernelTree();
    InitrdOptions options;
    options.mtime = 1700000000;
    auto initrd = generateInitrd(k.tree, options);
    EXPECT_EQ(initrd.kernelRelease, k.release);
    ASSERT_GE(initrd.bytes.size(), 10u);
    EXPECT_EQ(static_cast<uint8_t>(initrd.bytes[0]), 0x1f);
    EXPECT_EQ(static_cast<uint8_t>(initrd.bytes[1]), 0x8b);
    EXPECT_EQ(initrd.bytes.substr(4, 4), std::string(4, '\0'));  // no gzip time stamp
    auto members = readCpio(gunzip(initrd.bytes));
    ASSERT_TRUE(members.count("init"));
    EXPECT_EQ(members["init"].perm, 0755u);
    EXPECT_NE(members["init"].data.find("ingot-root"), std::string::npos);
    EXPECT_EQ(members["bin/busybox"].data, readFile("/bin/busybox"));
    EXPECT_EQ(members["bin/sh"].symlink, "busybox");
    EXPECT_EQ(members["dev/console"].type, static_cast<unsigned>(AE_IFCHR));
    std::string list = members["etc/modules-load"].data;
    EXPECT_LT(list.find("jbd2.ko"), list.find("ext4.ko")) << list;
    EXPECT_LT(list.find("virtio_ring.ko"), list.find("virtio_mmio.ko")) << list;
    EXPECT_EQ(list.find("xfs.ko"), std::string::npos) << list;
    std::string ko = "lib/modules/" + k.release + "/kernel/fs/ext4/ext4.ko";
    EXPECT_EQ(members[ko].data, k.tree.find(ko)->content->bytes());
}

TEST(GenerateInitrd, IsReproducibleAndFollowsTheTime) {
    auto k = kernelTree();
    InitrdOptions options;
    options.mtime = 1700000000;
    auto a = generateInitrd(k.tree, options);
    auto b = generateInitrd(k.tree, options);
    EXPECT_EQ(a.bytes, b.bytes);
    options.mtime += 1;
    EXPECT_NE(generateInitrd(k.tree, options).bytes, a.bytes);
}

TEST(GenerateInitrd, RefusesWithoutBusyboxOrKernel) {
    auto k = kernelTree();
    k.tree.remove("bin/busybox");
    EXPECT_THROW(generateInitrd(k.tree, {}), ingot::Error);
    Tree empty;
    EXPECT_THROW(generateInitrd(empty, {}), ingot::Error);
}

TEST(WriteCpioNewc, HardLinksKeepTheirDataOnce) {
    Tree tree;
    tree.put("a", file("shared"), "t");
    tree.link("b", "a", "t");
    auto members = readCpio(writeCpioNewc(tree));
    EXPECT_EQ(members["a"].data.size() + members["b"].data.size(), 6u);
}
