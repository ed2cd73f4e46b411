#include "ingot/imagebuild/Tree.h"

#include <gtest/gtest.h>

#include "ingot/core/Error.h"

using namespace ingot::imagebuild;

namespace {

std::shared_ptr<Inode> file(std::string content, uint32_t mode = 0644) {
    auto inode = std::make_shared<Inode>();
    inode->type = NodeType::kFile;
    inode->mode = mode;
    inode->content = makeBlob(std::move(content));
    return inode;
}

std::shared_ptr<Inode> symlink(std::string target) {
    auto inode = std::make_shared<Inode>();
    inode->type = NodeType::kSymlink;
    inode->mode = 0777;
    inode->symlinkTarget = std::move(target);
    return inode;
}

std::shared_ptr<Inode> dir(uint32_t mode = 0755) {
    auto inode = std::make_shared<Inode>();
    inode->type = NodeType::kDirectory;
    inode->mode = mode;
    return inode;
}

}  // namespace

TEST(NormalizePath, CanonicalForms) {
    EXPECT_EQ(normalizePath("/etc/passwd", "t"), "etc/passwd");
    EXPECT_EQ(normalizePath("./etc//passwd/", "t"), "etc/passwd");
    EXPECT_EQ(normalizePath("etc/./a", "t"), "etc/a");
    EXPECT_EQ(normalizePath("/", "t"), "");
    EXPECT_EQ(normalizePath(".", "t"), "");
}

TEST(NormalizePath, RefusesClimbingAndNul) {
    for (const char* bad : {"..", "../etc", "a/../../b", "a/..", "/.."}) {
        try {
            normalizePath(bad, "archive.tar entry 3");
            FAIL() << bad;
        } catch (const ingot::Error& e) {
            EXPECT_NE(std::string(e.what()).find("archive.tar entry 3"), std::string::npos);
            EXPECT_NE(std::string(e.what()).find(".."), std::string::npos);
        }
    }
    EXPECT_THROW(normalizePath(std::string("a\0b", 3), "t"), ingot::Error);
    EXPECT_THROW(normalizePath(std::string(256, 'x'), "t"), ingot::Error);
}

TEST(Tree, PutCreatesParentsInOrder) {
    Tree tree;
    tree.put("usr/bin/sh", file("#!"), "t");
    std::vector<std::string> paths;
    for (const auto& [path, inode] : tree.entries()) paths.push_back(path);
    EXPECT_EQ(paths, (std::vector<std::string>{"", "usr", "usr/bin", "usr/bin/sh"}));
    EXPECT_EQ(tree.find("usr/bin")->type, NodeType::kDirectory);
    EXPECT_EQ(tree.children(""), std::vector<std::string>{"usr"});
}

TEST(Tree, RefusesWritingThroughASymlinkOrFile) {
    Tree tree;
    tree.put("etc", symlink("/tmp"), "t");
    EXPECT_THROW(tree.put("etc/passwd", file("x"), "entry 2"), ingot::Error);
    tree.put("file", file("x"), "t");
    EXPECT_THROW(tree.put("file/x", file("x"), "t"), ingot::Error);
    EXPECT_THROW(tree.put("", file("x"), "t"), ingot::Error);
}

TEST(Tree, ReplacingDirectoryKeepsOrDropsChildren) {
    Tree tree;
    tree.put("a/b", file("1"), "t");
    tree.put("a-x", file("2"), "t");
    tree.put("a", dir(0700), "t");
    EXPECT_EQ(tree.find("a")->mode, 0700u);
    EXPECT_NE(tree.find("a/b"), nullptr);
    tree.put("a", file("3"), "t");
    EXPECT_EQ(tree.find("a/b"), nullptr);
    EXPECT_NE(tree.find("a-x"), nullptr);  // sorts between "a" and "a/", must survive
}

TEST(Tree, RemoveTakesSubtreeOnly) {
    Tree tree;
    tree.put("a/b/c", file("1"), "t");
    tree.put("a-b", file("2"), "t");
    tree.put("ab", file("3"), "t");
    EXPECT_TRUE(tree.remove("a"));
    EXPECT_FALSE(tree.remove("a"));
    EXPECT_EQ(tree.find("a/b/c"), nullptr);
    EXPECT_NE(tree.find("a-b"), nullptr);
    EXPECT_NE(tree.find("ab"), nullptr);
    EXPECT_EQ(tree.size(), 3u);
}

TEST(Tree, HardLinksShareTheInode) {
    Tree tree;
    tree.put("bin/busybox", file("elf", 0755), "t");
    tree.link("bin/sh", "bin/busybox", "t");
    EXPECT_EQ(tree.find("bin/sh").get(), tree.find("bin/busybox").get());
    EXPECT_EQ(tree.contentBytes(), 3u);
    EXPECT_THROW(tree.link("x", "missing", "t"), ingot::Error);
    EXPECT_THROW(tree.link("x", "bin", "t"), ingot::Error);
}

TEST(Tree, ResolveStaysInsideTheRoot) {
    Tree tree;
    tree.put("usr/lib/x", file("1"), "t");
    tree.put("lib", symlink("usr/lib"), "t");
    tree.put("abs", symlink("/usr/lib"), "t");
    tree.put("escape", symlink("../../../../etc"), "t");
    tree.put("loop", symlink("loop"), "t");
    EXPECT_EQ(tree.resolve("lib/x", "t"), "usr/lib/x");
    EXPECT_EQ(tree.resolve("abs/x", "t"), "usr/lib/x");
    EXPECT_EQ(tree.resolve("escape/passwd", "t"), "etc/passwd");
    EXPECT_THROW(tree.resolve("loop", "t"), ingot::Error);
}

TEST(Tree, DigestSeesEveryAttribute) {
    auto build = [](auto&& tweak) {
        Tree tree;
        tree.put("a", file("hello"), "t");
        tree.put("b", symlink("a"), "t");
        tweak(tree);
        return tree.digest();
    };
    auto base = build([](Tree&) {});
    EXPECT_EQ(base, build([](Tree&) {}));
    EXPECT_NE(base, build([](Tree& t) { t.find("a")->mode = 0600; }));
    EXPECT_NE(base, build([](Tree& t) { t.find("a")->uid = 1; }));
    EXPECT_NE(base, build([](Tree& t) { t.find("a")->mtime = 1; }));
    EXPECT_NE(base, build([](Tree& t) { t.find("a")->content = makeBlob("hellO"); }));
    EXPECT_NE(base, build([](Tree& t) { t.find("b")->symlinkTarget = "c"; }));
    EXPECT_NE(base, build([](Tree& t) { t.find("a")->xattrs["user.x"] = "1"; }));
    EXPECT_NE(base, build([](Tree& t) { t.link("c", "a", "t"); }));
    EXPECT_NE(base, build([](Tree& t) { t.put("c", file("hello"), "t"); }));
}
