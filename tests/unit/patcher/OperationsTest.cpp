// Golden tests of every operation: apply it to a small tree and check the entries and metadata
// that result, and what each refuses.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "ingot/core/Error.h"
#include "ingot/core/Sha256.h"
#include "ingot/imagebuild/TarWriter.h"
#include "ingot/patcher/Operation.h"
#include "ingot/patcher/Recipe.h"

using namespace ingot::imagebuild;
using namespace ingot::patcher;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kEpoch = 1'700'000'000;

std::shared_ptr<Inode> node(NodeType type, uint32_t mode, int64_t mtime = 100) {
    auto inode = std::make_shared<Inode>();
    inode->type = type;
    inode->mode = mode;
    inode->mtime = mtime;
    return inode;
}

std::shared_ptr<Inode> file(std::string content, uint32_t mode = 0644) {
    auto inode = node(NodeType::kFile, mode);
    inode->content = makeBlob(std::move(content));
    return inode;
}

std::shared_ptr<Inode> link(std::string target) {
    auto inode = node(NodeType::kSymlink, 0777);
    inode->symlinkTarget = std::move(target);
    return inode;
}

std::string text(const Tree& tree, const std::string& path) {
    auto inode = tree.find(path);
    if (!inode) return "<absent>";
    return inode->content ? inode->content->bytes() : "";
}

// A merged-/usr tree with users, like Debian 12's.
Tree sampleTree() {
    Tree tree;
    tree.put("usr", node(NodeType::kDirectory, 0755), "t");
    tree.put("usr/bin", node(NodeType::kDirectory, 0755), "t");
    tree.put("usr/bin/busybox",
             file("\x7f"
                  "ELF",
                  0755),
             "t");
    tree.put("bin", link("usr/bin"), "t");
    tree.put("etc", node(NodeType::kDirectory, 0755), "t");
    tree.put("etc/passwd",
             file("root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1::/:/bin/false\n"
                  "app:x:1000:1001::/srv:/bin/sh\n"),
             "t");
    tree.put("etc/group", file("root:x:0:\ndaemon:x:1:\nadm:x:4:\napp:x:1001:\n"), "t");
    tree.put("etc/hosts", file("127.0.0.1 localhost\n"), "t");
    tree.put("etc/resolv.conf", link("../run/resolv.conf"), "t");
    tree.put("run/resolv.conf", file("nameserver 10.0.0.1\n"), "t");
    tree.put("usr/share/doc/a/copyright", file("text"), "t");
    tree.put("usr/share/doc/b/changelog", file("text"), "t");
    return tree;
}

class OperationsTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "ingot-ops-XXXXXX").string();
        ASSERT_NE(mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        context_.recipeDirectory = dir_;
        context_.sourceDateEpoch = kEpoch;
    }
    void TearDown() override { fs::remove_all(dir_); }

    void write(const std::string& relative, const std::string& content) {
        fs::create_directories((fs::path(dir_) / relative).parent_path());
        std::ofstream(fs::path(dir_) / relative, std::ios::binary) << content;
    }

    std::vector<std::shared_ptr<const Operation>> parse(const std::string& ops) {
        std::string recipe =
            "name: t\nversion: '1'\nbase: {mmdebstrap: {suite: bookworm}}\n"
            "kernel: {tree: boot/vmlinuz}\noperations:\n" +
            ops;
        return loadRecipeText(recipe, "recipe.yaml", dir_).operations;
    }

    void apply(Tree& tree, const std::string& ops) {
        for (const auto& op : parse(ops)) op->apply(tree, context_);
    }

    // The error applying `ops` raises.
    std::string failure(Tree& tree, const std::string& ops) {
        try {
            apply(tree, ops);
        } catch (const ingot::Error& e) {
            EXPECT_EQ(e.status(), ingot::ExitStatus::kUsage);
            return e.what();
        }
        ADD_FAILURE() << "no error applying " << ops;
        return "";
    }

    std::string dir_;
    OperationContext context_;
};

#define EXPECT_CONTAINS(haystack, needle) \
    EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

}  // namespace

TEST_F(OperationsTest, RegistryListsEveryKindOnce) {
    std::vector<std::string> names;
    for (const auto* kind : operationKinds()) {
        names.emplace_back(kind->name);
        EXPECT_FALSE(kind->keys.empty());
        EXPECT_EQ(findOperationKind(kind->name), kind);
    }
    EXPECT_EQ(names, (std::vector<std::string>{"file", "remove", "mkdir", "symlink", "chmod",
                                               "chown", "patch", "append", "unpack"}));
    EXPECT_EQ(findOperationKind("copy"), nullptr);
}

TEST_F(OperationsTest, FileInlineWithModeAndNamedOwner) {
    Tree tree = sampleTree();
    apply(tree,
          "  - file: {path: /etc/motd, content: \"hi\\n\", mode: 0600, owner: 'daemon:adm'}\n");
    auto motd = tree.find("etc/motd");
    ASSERT_TRUE(motd);
    EXPECT_EQ(motd->type, NodeType::kFile);
    EXPECT_EQ(text(tree, "etc/motd"), "hi\n");
    EXPECT_EQ(motd->mode, 0600u);
    EXPECT_EQ(motd->uid, 1u);
    EXPECT_EQ(motd->gid, 4u);
    EXPECT_EQ(motd->mtime, kEpoch);
    EXPECT_EQ(tree.find("etc")->mtime, 100);  // directories keep theirs
}

TEST_F(OperationsTest, FileFromSourceCreatesParentsAndFollowsDirectoryLinks) {
    write("files/hello", "#!/bin/sh\necho hello\n");
    Tree tree = sampleTree();
    apply(tree,
          "  - file: {path: /bin/hello, source: files/hello, mode: '755'}\n"
          "  - file: {path: /opt/app/conf/app.ini, content: x, owner: '1000:1001'}\n");
    // /bin is a link to usr/bin: the file lands where a chrooted install(1) would put it.
    EXPECT_EQ(tree.find("bin")->type, NodeType::kSymlink);
    EXPECT_EQ(text(tree, "usr/bin/hello"), "#!/bin/sh\necho hello\n");
    EXPECT_EQ(tree.find("usr/bin/hello")->mode, 0755u);
    auto made = tree.find("opt/app/conf");
    ASSERT_TRUE(made);
    EXPECT_EQ(made->type, NodeType::kDirectory);
    EXPECT_EQ(made->mode, 0755u);
    EXPECT_EQ(made->mtime, kEpoch);
    EXPECT_EQ(tree.find("opt/app/conf/app.ini")->uid, 1000u);
    EXPECT_EQ(tree.find("opt/app/conf/app.ini")->gid, 1001u);
}

TEST_F(OperationsTest, FileReplacesASymlinkItselfAndKeepsHardLinksApart) {
    Tree tree = sampleTree();
    tree.link("etc/hosts.hard", "etc/hosts", "t");
    apply(tree,
          "  - file: {path: /etc/resolv.conf, content: \"nameserver 1.1.1.1\\n\"}\n"
          "  - file: {path: /etc/hosts, content: new}\n");
    EXPECT_EQ(tree.find("etc/resolv.conf")->type, NodeType::kFile);
    EXPECT_EQ(text(tree, "run/resolv.conf"), "nameserver 10.0.0.1\n");  // not written through
    EXPECT_EQ(text(tree, "etc/hosts"), "new");
    EXPECT_EQ(text(tree, "etc/hosts.hard"), "127.0.0.1 localhost\n");  // like install(1)
}

TEST_F(OperationsTest, FileRefusals) {
    Tree tree = sampleTree();
    EXPECT_CONTAINS(failure(tree, "  - file: {path: /etc, content: x}\n"),
                    "recipe.yaml:6:11: operations[0].file: /etc is a directory");
    EXPECT_CONTAINS(failure(tree, "  - file: {path: /etc/hosts/x, content: x}\n"),
                    "is a file, not a directory");
    EXPECT_CONTAINS(failure(tree, "  - file: {path: /etc/x, content: x, owner: 'nobody:root'}\n"),
                    "no user 'nobody' in the tree's /etc/passwd");
    EXPECT_CONTAINS(failure(tree, "  - file: {path: /etc/x, content: x, owner: 'root:wheel'}\n"),
                    "no group 'wheel' in the tree's /etc/group");
}

TEST_F(OperationsTest, SharedInodesAreNeverEditedInPlace) {
    Tree tree = sampleTree();
    Tree copy = tree;  // shares every inode, as a step's input and output do
    apply(tree,
          "  - chmod: {path: /etc/hosts, mode: 0600}\n"
          "  - chown: {path: /etc/hosts, owner: '1:1'}\n"
          "  - append: {path: /etc/hosts, line: '10.0.0.2 gw'}\n"
          "  - patch:\n      path: /etc/passwd\n      diff: |\n        @@ -1 +1 @@\n"
          "        -root:x:0:0:root:/root:/bin/sh\n        +root:x:0:0:root:/root:/bin/bash\n");
    EXPECT_EQ(copy.digest(), sampleTree().digest());
    EXPECT_NE(tree.digest(), copy.digest());
}

TEST_F(OperationsTest, Remove) {
    Tree tree = sampleTree();
    apply(tree,
          "  - remove: {path: /usr/share/doc, recursive: true}\n"
          "  - remove: {path: /etc/resolv.conf}\n"
          "  - remove: {path: /var/cache/none, missing-ok: true}\n");
    EXPECT_FALSE(tree.find("usr/share/doc"));
    EXPECT_FALSE(tree.find("usr/share/doc/a/copyright"));
    EXPECT_TRUE(tree.find("usr/share"));
    EXPECT_FALSE(tree.find("etc/resolv.conf"));
    EXPECT_TRUE(tree.find("run/resolv.conf"));  // the link went, not its target
    // Through a directory link, as rm in a chroot.
    apply(tree, "  - remove: {path: /bin/busybox}\n");
    EXPECT_FALSE(tree.find("usr/bin/busybox"));

    Tree again = sampleTree();
    EXPECT_CONTAINS(failure(again, "  - remove: {path: /usr/share/doc}\n"),
                    "is a directory with 2 entries; set recursive: true");
    EXPECT_CONTAINS(failure(again, "  - remove: {path: /nowhere}\n"),
                    "/nowhere is not in the tree");
    apply(again, "  - mkdir: {path: /empty}\n  - remove: {path: /empty}\n");
    EXPECT_FALSE(again.find("empty"));
}

TEST_F(OperationsTest, Mkdir) {
    Tree tree = sampleTree();
    apply(tree,
          "  - mkdir: {path: /srv, mode: 0750, owner: 'app:app'}\n"
          "  - mkdir: {path: /var/lib/app/data, parents: true, mode: 0700}\n"
          "  - mkdir: {path: /etc, parents: true, mode: 0700}\n");
    auto srv = tree.find("srv");
    ASSERT_TRUE(srv);
    EXPECT_EQ(srv->type, NodeType::kDirectory);
    EXPECT_EQ(srv->mode, 0750u);
    EXPECT_EQ(srv->uid, 1000u);
    EXPECT_EQ(srv->gid, 1001u);
    EXPECT_EQ(srv->mtime, kEpoch);
    EXPECT_EQ(tree.find("var/lib/app/data")->mode, 0700u);
    EXPECT_EQ(tree.find("var/lib")->mode, 0755u);
    EXPECT_EQ(tree.find("var/lib")->mtime, kEpoch);
    EXPECT_EQ(tree.find("etc")->mode, 0755u);  // mkdir -p leaves an existing directory alone
    EXPECT_CONTAINS(failure(tree, "  - mkdir: {path: /etc}\n"), "already exists");
    EXPECT_CONTAINS(failure(tree, "  - mkdir: {path: /a/b}\n"), "set parents: true");
    EXPECT_CONTAINS(failure(tree, "  - mkdir: {path: /etc/hosts, parents: true}\n"),
                    "already exists (a file)");
}

TEST_F(OperationsTest, Symlink) {
    Tree tree = sampleTree();
    apply(tree,
          "  - symlink: {path: /sbin/init, target: /bin/busybox}\n"
          "  - symlink: {path: /etc/hosts, target: ../run/hosts}\n");
    auto init = tree.find("sbin/init");
    ASSERT_TRUE(init);
    EXPECT_EQ(init->type, NodeType::kSymlink);
    EXPECT_EQ(init->symlinkTarget, "/bin/busybox");
    EXPECT_EQ(init->mode, 0777u);
    EXPECT_EQ(init->mtime, kEpoch);
    EXPECT_EQ(tree.resolve("sbin/init", "t"), "usr/bin/busybox");
    EXPECT_EQ(tree.find("etc/hosts")->symlinkTarget, "../run/hosts");
    EXPECT_CONTAINS(failure(tree, "  - symlink: {path: /usr, target: x}\n"), "is a directory");
}

TEST_F(OperationsTest, ChmodFollowsLinksAndKeepsHardLinksTogether) {
    Tree tree = sampleTree();
    tree.link("etc/hosts.hard", "etc/hosts", "t");
    apply(tree,
          "  - chmod: {path: /etc/resolv.conf, mode: 0600}\n"
          "  - chmod: {path: /etc/hosts, mode: 4755}\n");
    EXPECT_EQ(tree.find("run/resolv.conf")->mode, 0600u);
    EXPECT_EQ(tree.find("etc/resolv.conf")->mode, 0777u);
    EXPECT_EQ(tree.find("etc/hosts")->mode, 04755u);
    EXPECT_EQ(tree.find("etc/hosts"), tree.find("etc/hosts.hard"));  // still one inode
    EXPECT_EQ(tree.find("etc/hosts")->mtime, 100);                   // no content change
    EXPECT_CONTAINS(failure(tree, "  - chmod: {path: /nope, mode: 0644}\n"), "not in the tree");
}

TEST_F(OperationsTest, Chown) {
    Tree tree = sampleTree();
    tree.link("usr/share/doc/b/hard", "usr/share/doc/a/copyright", "t");
    apply(tree, "  - chown: {path: /usr/share/doc, owner: 'app:adm', recursive: true}\n");
    for (const char* path : {"usr/share/doc", "usr/share/doc/a", "usr/share/doc/a/copyright",
                             "usr/share/doc/b/changelog", "usr/share/doc/b/hard"}) {
        EXPECT_EQ(tree.find(path)->uid, 1000u) << path;
        EXPECT_EQ(tree.find(path)->gid, 4u) << path;
    }
    EXPECT_EQ(tree.find("usr/share/doc/b/hard"), tree.find("usr/share/doc/a/copyright"));
    EXPECT_EQ(tree.find("usr/share")->uid, 0u);
    apply(tree, "  - chown: {path: /etc/resolv.conf, owner: '5:6'}\n");
    EXPECT_EQ(tree.find("run/resolv.conf")->uid, 5u);
    EXPECT_EQ(tree.find("etc/resolv.conf")->uid, 0u);
}

TEST_F(OperationsTest, PatchEditsInPlace) {
    write("fix.diff",
          "--- a/etc/passwd\n+++ b/etc/passwd\n@@ -1,3 +1,4 @@\n"
          " root:x:0:0:root:/root:/bin/sh\n"
          "-daemon:x:1:1::/:/bin/false\n"
          "+daemon:x:1:1::/:/usr/sbin/nologin\n"
          "+bin:x:2:2::/:/usr/sbin/nologin\n"
          " app:x:1000:1001::/srv:/bin/sh\n");
    Tree tree = sampleTree();
    tree.find("etc/passwd");
    auto before = tree.find("etc/passwd");
    apply(tree, "  - patch: {path: /etc/passwd, source: fix.diff}\n");
    EXPECT_EQ(text(tree, "etc/passwd"),
              "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1::/:/usr/sbin/nologin\n"
              "bin:x:2:2::/:/usr/sbin/nologin\napp:x:1000:1001::/srv:/bin/sh\n");
    auto after = tree.find("etc/passwd");
    EXPECT_EQ(after->mode, before->mode);
    EXPECT_EQ(after->mtime, kEpoch);
    // Again: the context no longer matches, and the error names the hunk.
    std::string message = failure(tree, "  - patch: {path: /etc/passwd, source: fix.diff}\n");
    EXPECT_CONTAINS(message,
                    "recipe.yaml:6:12: operations[0].patch: /etc/passwd: hunk 1 (@@ -1,3 +1,4 @@");
    EXPECT_CONTAINS(message, "does not apply");
    EXPECT_CONTAINS(failure(tree, "  - patch: {path: /usr, source: fix.diff}\n"),
                    "patch edits regular files");
}

TEST_F(OperationsTest, Append) {
    Tree tree = sampleTree();
    tree.put("etc/modules", file("loop"), "t");  // no final newline
    apply(tree,
          "  - append: {path: /etc/modules, line: virtio_blk}\n"
          "  - append: {path: /etc/modules, line: virtio_blk, unless-present: true}\n"
          "  - append: {path: /etc/modules, line: loop, unless-present: true}\n"
          "  - append: {path: /etc/fstab, line: 'proc /proc proc defaults 0 0', create: true}\n");
    EXPECT_EQ(text(tree, "etc/modules"), "loop\nvirtio_blk\n");
    EXPECT_EQ(tree.find("etc/modules")->mtime, kEpoch);
    EXPECT_EQ(text(tree, "etc/fstab"), "proc /proc proc defaults 0 0\n");
    EXPECT_EQ(tree.find("etc/fstab")->mode, 0644u);
    apply(tree, "  - append: {path: /etc/resolv.conf, line: 'search example'}\n");
    EXPECT_EQ(text(tree, "run/resolv.conf"), "nameserver 10.0.0.1\nsearch example\n");
    EXPECT_CONTAINS(failure(tree, "  - append: {path: /etc/none, line: x}\n"), "set create: true");
    std::string message;
    try {
        parse("  - append: {path: /etc/x, line: \"a\\nb\"}\n");
    } catch (const ingot::Error& e) {
        message = e.what();
    }
    EXPECT_CONTAINS(message, "append adds one line");
}

TEST_F(OperationsTest, UnpackAnArchiveBelowAPath) {
    Tree archive;
    archive.put("bin/app", file("binary", 0755), "t");
    auto future = file("conf");
    future->mtime = kEpoch + 1000;
    archive.put("etc/app.conf", future, "t");
    archive.put("bin/app-link", link("app"), "t");
    write("app.tar", writeTarMemory(archive, TarWriteOptions{}));

    Tree tree = sampleTree();
    tree.put("opt", link("usr/local"), "t");
    tree.put("usr/local", node(NodeType::kDirectory, 0755), "t");
    apply(tree, "  - unpack: {source: app.tar, path: /opt/app}\n");
    EXPECT_EQ(text(tree, "usr/local/app/bin/app"), "binary");
    EXPECT_EQ(tree.find("usr/local/app/bin/app")->mode, 0755u);
    EXPECT_EQ(tree.find("usr/local/app/bin/app-link")->symlinkTarget, "app");
    EXPECT_EQ(tree.find("usr/local/app/etc/app.conf")->mtime, kEpoch);  // clamped
    apply(tree, "  - unpack: {source: app.tar}\n");
    EXPECT_EQ(text(tree, "usr/bin/app"), "binary");  // bin → usr/bin, never replaced
    EXPECT_EQ(tree.find("bin")->type, NodeType::kSymlink);

    EXPECT_CONTAINS(failure(tree, "  - unpack: {source: app.tar, path: /etc/hosts}\n"),
                    "not a directory to unpack into");
    write("junk.tar", "this is no archive");
    EXPECT_CONTAINS(failure(tree, "  - unpack: {source: junk.tar}\n"),
                    "recipe.yaml:6:13: operations[0].unpack: ");
}

TEST_F(OperationsTest, CanonicalFormFollowsTheSourceContent) {
    write("motd", "one");
    auto first = parse("  - file: {path: /etc/motd, source: motd}\n")[0]->canonical();
    write("motd", "two");
    auto second = parse("  - file: {path: /etc/motd, source: motd}\n")[0]->canonical();
    EXPECT_NE(first.dump(), second.dump());
    EXPECT_EQ(second["sha256"], ingot::toHex(ingot::sha256("two")));
    auto inlined = parse("  - file: {path: /etc/motd, content: two}\n")[0]->canonical();
    EXPECT_EQ(inlined.dump(), second.dump());
}
