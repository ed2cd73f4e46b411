// Helpers for the unpack tests: real .debs built with dpkg-deb from a description held in the
// test (control fields, control files, data files and symlinks), and in-memory image trees
// with a dpkg database (status file, info/ files) and the files an installed version left.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ArchiveTestSupport.h"
#include "ingot/imagebuild/Tree.h"
#include "ingot/patch/DpkgDatabase.h"
#include "ingot/patch/UnpackPackages.h"

namespace ingot::patch::test {

namespace fs = std::filesystem;
using debian::test::errorOf;
using debian::test::readFile;
using debian::test::run;
using debian::test::ScratchDir;
using debian::test::writeFile;
using imagebuild::Inode;
using imagebuild::NodeType;
using imagebuild::Tree;

// One package as dpkg-deb builds it. Paths in `files`, `symlinks` and `modes` are relative to
// the package root ("usr/bin/tool"); `controlFiles` go to DEBIAN/ ("conffiles", "postinst",
// "triggers", "md5sums"; maintainer scripts are made executable).
struct DebSpec {
    std::string name;
    std::string version;
    std::string arch = "amd64";
    std::string control;  // more control fields, each line ending in "\n"
    std::string description = "a package for the unpack tests\n multi-line\n .\n with a blank line\n";
    std::map<std::string, std::string> files;
    std::map<std::string, uint32_t> modes;           // file → mode (default 0644)
    std::map<std::string, std::string> symlinks;     // path → target
    std::map<std::string, std::string> controlFiles; // DEBIAN/NAME → content
    bool nocheck = false;  // dpkg-deb --nocheck: build what dpkg-deb would refuse
};

inline bool isMaintainerScript(const std::string& name) {
    return name == "preinst" || name == "postinst" || name == "prerm" || name == "postrm" ||
           name == "config";
}

// Builds `spec` under DIR/build and returns the path of DIR/NAME_VERSION_ARCH.deb.
inline std::string buildDeb(const std::string& dir, const DebSpec& spec) {
    const std::string stem = spec.name + "_" + spec.version + "_" + spec.arch;
    const std::string root = dir + "/build/" + stem;
    fs::remove_all(root);
    fs::create_directories(root + "/DEBIAN");
    writeFile(root + "/DEBIAN/control",
              "Package: " + spec.name + "\nVersion: " + spec.version + "\nArchitecture: " +
                  spec.arch + "\nMaintainer: ingot tests <tests@example.org>\n" + spec.control +
                  "Description: " + spec.description);
    for (const auto& [name, content] : spec.controlFiles) {
        const std::string path = root + "/DEBIAN/" + name;
        writeFile(path, content);
        ::chmod(path.c_str(), isMaintainerScript(name) ? 0755 : 0644);
    }
    for (const auto& [path, content] : spec.files) {
        const std::string full = root + "/" + path;
        writeFile(full, content);
        auto mode = spec.modes.find(path);
        ::chmod(full.c_str(), mode == spec.modes.end() ? 0644 : mode->second);
    }
    for (const auto& [path, target] : spec.symlinks) {
        const fs::path full = root + "/" + path;
        fs::create_directories(full.parent_path());
        fs::create_symlink(target, full);
    }
    // Directories as a package would have them, whatever the umask.
    for (const auto& entry : fs::recursive_directory_iterator(root))
        if (entry.is_directory() && !entry.is_symlink())
            ::chmod(entry.path().c_str(), 0755);
    ::chmod(root.c_str(), 0755);
    const std::string deb = dir + "/" + stem + ".deb";
    std::vector<std::string> argv = {"dpkg-deb", "--root-owner-group", "-Zgzip"};
    if (spec.nocheck) argv.push_back("--nocheck");
    argv.insert(argv.end(), {"--build", root, deb});
    run(argv);
    return deb;
}

inline PackageToUnpack toUnpack(const std::string& debPath, const DebSpec& spec) {
    return {debPath, spec.name, spec.arch, spec.version};
}

// Tree edits for building images by hand.
inline void putFile(Tree& tree, const std::string& path, const std::string& bytes,
                    uint32_t mode = 0644) {
    auto inode = std::make_shared<Inode>();
    inode->type = NodeType::kFile;
    inode->mode = mode;
    inode->mtime = 1000;
    inode->content = imagebuild::makeBlob(bytes);
    tree.put(path, std::move(inode), "test");
}

inline void putDir(Tree& tree, const std::string& path, uint32_t mode = 0755, uint32_t uid = 0,
                   uint32_t gid = 0) {
    auto inode = std::make_shared<Inode>();
    inode->type = NodeType::kDirectory;
    inode->mode = mode;
    inode->uid = uid;
    inode->gid = gid;
    inode->mtime = 1000;
    tree.put(path, std::move(inode), "test");
}

inline void putSymlink(Tree& tree, const std::string& path, const std::string& target) {
    auto inode = std::make_shared<Inode>();
    inode->type = NodeType::kSymlink;
    inode->mode = 0777;
    inode->mtime = 1000;
    inode->symlinkTarget = target;
    tree.put(path, std::move(inode), "test");
}

// The content of the regular file exactly at `path` (no symlink followed), or nullopt.
inline std::optional<std::string> fileAt(const Tree& tree, const std::string& path) {
    auto inode = tree.find(path);
    if (!inode || inode->type != NodeType::kFile) return std::nullopt;
    return inode->content ? inode->content->bytes() : std::string();
}

inline uint32_t modeAt(const Tree& tree, const std::string& path) {
    auto inode = tree.find(path);
    return inode ? inode->mode : 0;
}

// A status paragraph as dpkg writes it; `extra` goes before Description (Conffiles, …).
inline std::string statusStanza(const std::string& package, const std::string& version,
                                const std::string& arch = "amd64", const std::string& extra = "",
                                const std::string& status = "install ok installed") {
    return "Package: " + package + "\nStatus: " + status +
           "\nPriority: optional\nSection: misc\nInstalled-Size: 10\n"
           "Maintainer: ingot tests <tests@example.org>\nArchitecture: " +
           arch + "\nVersion: " + version + "\n" + extra +
           "Description: installed for the unpack tests\n second line\n .\n after a blank\n\n";
}

// An image's root: a merged /usr (bin, sbin, lib → usr/…), etc/, and the dpkg database with
// `status` as its status file.
inline Tree makeImage(const std::string& status, bool mergedUsr = true) {
    Tree tree;
    putDir(tree, "etc");
    putDir(tree, "usr");
    putDir(tree, "usr/bin");
    putDir(tree, "usr/sbin");
    putDir(tree, "usr/lib");
    if (mergedUsr) {
        putSymlink(tree, "bin", "usr/bin");
        putSymlink(tree, "sbin", "usr/sbin");
        putSymlink(tree, "lib", "usr/lib");
    }
    putDir(tree, "var/lib/dpkg/info");
    putDir(tree, "var/lib/dpkg/triggers");
    putFile(tree, std::string(kDpkgStatusPath), status);
    return tree;
}

// info/PACKAGE.list text for `paths` ("/." first, as dpkg writes it).
inline std::string listText(const std::vector<std::string>& paths) {
    std::string out = "/.\n";
    for (const auto& p : paths) out += p + "\n";
    return out;
}

inline DpkgStatusFile statusOf(const Tree& tree) {
    auto text = fileAt(tree, std::string(kDpkgStatusPath));
    if (!text) throw std::runtime_error("no status file in the tree");
    return DpkgStatusFile::parse(*text, "status");
}

inline bool haveDpkgDeb(std::string& missing) {
    if (!debian::test::haveTool("dpkg-deb")) {
        missing = "dpkg-deb";
        return false;
    }
    return true;
}

}  // namespace ingot::patch::test
