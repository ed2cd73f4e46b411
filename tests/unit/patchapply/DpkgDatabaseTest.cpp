// dpkg's database in an image's tree: the status file as editable stanzas (round trip, edits,
// lookup by name and architecture, malformed input), info/ names, MD5 as dpkg records it,
// diversions and trigger interests, hostile names included.
#include "ingot/patch/DpkgDatabase.h"

#include <gtest/gtest.h>

#include "ApplyTestSupport.h"
#include "ingot/core/Error.h"

using namespace ingot::patch;
using namespace ingot::patch::test;

namespace {

const char* kStatus =
    "Package: base-files\n"
    "Essential: yes\n"
    "Status: install ok installed\n"
    "Priority: required\n"
    "Section: admin\n"
    "Installed-Size: 341\n"
    "Maintainer: Santiago Vila <sanvila@debian.org>\n"
    "Architecture: amd64\n"
    "Multi-Arch: foreign\n"
    "Version: 12.4+deb12u6\n"
    "Replaces: base, dpkg (<= 1.15.0), miscutils\n"
    "Provides: base\n"
    "Pre-Depends: awk\n"
    "Conffiles:\n"
    " /etc/debian_version 8b95cfd12aeb5f8b0b5da0b8ff1b6d8a\n"
    " /etc/dpkg/origins/debian c47b6815f67ad1aeccb0d4529bd0b990\n"
    " /etc/host.conf 4eb63731c9f5e30903ac4fc07a7fe3d6 obsolete\n"
    "Description: Debian base system miscellaneous files\n"
    " This package contains the basic filesystem hierarchy of a Debian system, and\n"
    " several important miscellaneous files.\n"
    " .\n"
    " It should not be removed.\n"
    "\n"
    "Package: libc6\n"
    "Status: install ok installed\n"
    "Priority: optional\n"
    "Section: libs\n"
    "Installed-Size: 12987\n"
    "Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\n"
    "Architecture: amd64\n"
    "Multi-Arch: same\n"
    "Source: glibc\n"
    "Version: 2.36-9+deb12u7\n"
    "Depends: libgcc-s1\n"
    "Conffiles:\n"
    " /etc/ld.so.conf.d/x86_64-linux-gnu.conf d4e7a7b88a71b5ffd9e2644e71a0cfab\n"
    "Description: GNU C Library: Shared libraries\n"
    " Contains the standard libraries that are used by nearly all programs on\n"
    " the system.\n"
    "Homepage: https://www.gnu.org/software/libc/libc.html\n"
    "\n"
    "Package: libc6\n"
    "Status: install ok installed\n"
    "Architecture: i386\n"
    "Multi-Arch: same\n"
    "Source: glibc\n"
    "Version: 2.36-9+deb12u7\n"
    "Description: GNU C Library: Shared libraries\n"
    "\n"
    "Package: tzdata\n"
    "Status: install ok installed\n"
    "Architecture: all\n"
    "Multi-Arch: foreign\n"
    "Version: 2024a-0+deb12u1\n"
    "Description: time zone and daylight-saving time data\n"
    "\n"
    "Package: gone\n"
    "Status: deinstall ok config-files\n"
    "Architecture: amd64\n"
    "Version: 1.0-1\n"
    "Config-Version: 1.0-1\n"
    "Conffiles:\n"
    " /etc/gone.conf 0123456789abcdef0123456789abcdef\n"
    "Description: removed, its conffiles stay\n"
    "\n";

TEST(PatchApplyStatusFile, RoundTripsARealisticStatusFile) {
    const DpkgStatusFile file = DpkgStatusFile::parse(kStatus, "status");
    ASSERT_EQ(file.stanzas().size(), 5u);
    EXPECT_EQ(file.serialize(), kStatus);
    // Parsing what was written gives the same stanzas.
    const DpkgStatusFile again = DpkgStatusFile::parse(file.serialize(), "again");
    ASSERT_EQ(again.stanzas().size(), file.stanzas().size());
    for (size_t i = 0; i < file.stanzas().size(); ++i)
        EXPECT_EQ(again.stanzas()[i].fields, file.stanzas()[i].fields) << i;
}

TEST(PatchApplyStatusFile, ValuesAreDeb822Values) {
    const DpkgStatusFile file = DpkgStatusFile::parse(kStatus, "status");
    const StatusStanza& base = file.stanzas()[0];
    EXPECT_EQ(base.get("Package"), "base-files");
    EXPECT_EQ(base.get("package"), "base-files");  // names are case-insensitive
    EXPECT_EQ(base.get("Conffiles"),
              "\n/etc/debian_version 8b95cfd12aeb5f8b0b5da0b8ff1b6d8a"
              "\n/etc/dpkg/origins/debian c47b6815f67ad1aeccb0d4529bd0b990"
              "\n/etc/host.conf 4eb63731c9f5e30903ac4fc07a7fe3d6 obsolete");
    EXPECT_EQ(base.get("Description"),
              "Debian base system miscellaneous files\n"
              "This package contains the basic filesystem hierarchy of a Debian system, and\n"
              "several important miscellaneous files.\n.\nIt should not be removed.");
    EXPECT_TRUE(base.has("Essential"));
    EXPECT_FALSE(base.has("Homepage"));
    EXPECT_EQ(base.get("Homepage"), "");
    // Field order is kept.
    ASSERT_GE(base.fields.size(), 3u);
    EXPECT_EQ(base.fields[0].first, "Package");
    EXPECT_EQ(base.fields[1].first, "Essential");
    EXPECT_EQ(base.fields[2].first, "Status");
}

TEST(PatchApplyStatusFile, SetReplacesOrInsertsAfter) {
    DpkgStatusFile file = DpkgStatusFile::parse(kStatus, "status");
    StatusStanza& s = file.stanzas()[3];  // tzdata
    s.set("status", "install ok unpacked");  // replaces, whatever the case of the name
    EXPECT_EQ(s.get("Status"), "install ok unpacked");
    EXPECT_EQ(s.fields[1].first, "Status");

    s.set("Config-Version", "2023c-5", "Version");
    ASSERT_EQ(s.fields.size(), 7u);
    EXPECT_EQ(s.fields[4].first, "Version");
    EXPECT_EQ(s.fields[5].first, "Config-Version");
    EXPECT_EQ(s.fields[5].second, "2023c-5");

    s.set("Homepage", "https://example.org");  // no `after`: appended
    EXPECT_EQ(s.fields.back().first, "Homepage");
    s.set("Bugs", "mailto:x@example.org", "No-Such-Field");  // absent `after`: appended
    EXPECT_EQ(s.fields.back().first, "Bugs");

    s.erase("homepage");
    EXPECT_FALSE(s.has("Homepage"));
    s.erase("Not-There");  // no effect
    EXPECT_EQ(s.fields.size(), 8u);

    EXPECT_NE(file.serialize().find("Package: tzdata\nStatus: install ok unpacked\n"),
              std::string::npos);
    EXPECT_NE(file.serialize().find("Version: 2024a-0+deb12u1\nConfig-Version: 2023c-5\n"),
              std::string::npos);
}

TEST(PatchApplyStatusFile, SerializesMultiLineValues) {
    DpkgStatusFile file;
    StatusStanza s;
    s.set("Package", "x");
    s.set("Conffiles", "\n/etc/x.conf d41d8cd98f00b204e9800998ecf8427e");
    s.set("Description", "short\nlong line\n.\nmore");
    file.put(s);
    EXPECT_EQ(file.serialize(),
              "Package: x\n"
              "Conffiles:\n /etc/x.conf d41d8cd98f00b204e9800998ecf8427e\n"
              "Description: short\n long line\n .\n more\n"
              "\n");
}

TEST(PatchApplyStatusFile, FindsByNameAndArchitecture) {
    DpkgStatusFile file = DpkgStatusFile::parse(kStatus, "status");
    // Multi-Arch: same, two architectures side by side.
    ASSERT_NE(file.find("libc6", "amd64"), nullptr);
    EXPECT_EQ(file.find("libc6", "amd64")->get("Version"), "2.36-9+deb12u7");
    EXPECT_EQ(file.find("libc6", "amd64")->get("Architecture"), "amd64");
    ASSERT_NE(file.find("libc6", "i386"), nullptr);
    EXPECT_EQ(file.find("libc6", "i386")->get("Architecture"), "i386");
    EXPECT_EQ(file.find("libc6", "arm64"), nullptr);
    EXPECT_NE(file.find("libc6", ""), nullptr);  // empty matches any

    // "all" and the native architecture are one namespace.
    ASSERT_NE(file.find("tzdata", "amd64"), nullptr);
    EXPECT_EQ(file.find("tzdata", "amd64")->get("Architecture"), "all");
    ASSERT_NE(file.find("base-files", "all"), nullptr);
    EXPECT_EQ(file.find("base-files", "all")->get("Architecture"), "amd64");

    EXPECT_EQ(file.find("no-such-package", "amd64"), nullptr);
    EXPECT_EQ(file.find("no-such-package", ""), nullptr);

    const DpkgStatusFile& constFile = file;
    ASSERT_NE(constFile.find("gone", "amd64"), nullptr);
    EXPECT_EQ(constFile.find("gone", "amd64")->get("Status"), "deinstall ok config-files");
}

TEST(PatchApplyStatusFile, PutReplacesTheSamePackageOrAppends) {
    DpkgStatusFile file = DpkgStatusFile::parse(kStatus, "status");
    StatusStanza tz;
    tz.set("Package", "tzdata");
    tz.set("Status", "install ok unpacked");
    tz.set("Architecture", "amd64");  // was "all": still the same package
    tz.set("Version", "2024b-0+deb12u1");
    file.put(tz);
    ASSERT_EQ(file.stanzas().size(), 5u);
    EXPECT_EQ(file.stanzas()[3].get("Version"), "2024b-0+deb12u1");

    StatusStanza i386;
    i386.set("Package", "libc6");
    i386.set("Architecture", "i386");
    i386.set("Version", "2.36-9+deb12u8");
    i386.set("Multi-Arch", "same");
    file.put(i386);
    ASSERT_EQ(file.stanzas().size(), 5u);
    EXPECT_EQ(file.find("libc6", "i386")->get("Version"), "2.36-9+deb12u8");
    EXPECT_EQ(file.find("libc6", "amd64")->get("Version"), "2.36-9+deb12u7");

    StatusStanza arm;
    arm.set("Package", "libc6");
    arm.set("Architecture", "arm64");
    arm.set("Multi-Arch", "same");
    arm.set("Version", "2.36-9+deb12u8");
    file.put(arm);  // a third architecture of a Multi-Arch: same package
    ASSERT_EQ(file.stanzas().size(), 6u);

    StatusStanza fresh;
    fresh.set("Package", "hello");
    fresh.set("Architecture", "amd64");
    file.put(fresh);
    ASSERT_EQ(file.stanzas().size(), 7u);
    EXPECT_EQ(file.stanzas().back().get("Package"), "hello");
}

TEST(PatchApplyStatusFile, EmptyTextHasNoStanzas) {
    EXPECT_TRUE(DpkgStatusFile::parse("", "status").stanzas().empty());
    EXPECT_TRUE(DpkgStatusFile::parse("\n\n", "status").stanzas().empty());
    EXPECT_EQ(DpkgStatusFile().serialize(), "");
}

TEST(PatchApplyStatusFile, MalformedInputNamesThePlace) {
    using ingot::ExitStatus;
    std::string m = errorOf([] { DpkgStatusFile::parse("Package: a\nno colon here\n", "img/status"); },
                            ExitStatus::kUsage);
    EXPECT_NE(m.find("img/status"), std::string::npos) << m;
    EXPECT_NE(m.find("line 2"), std::string::npos) << m;

    m = errorOf([] { DpkgStatusFile::parse(" continuation first\n", "img/status"); },
                ExitStatus::kUsage);
    EXPECT_NE(m.find("img/status line 1"), std::string::npos) << m;

    m = errorOf([] { DpkgStatusFile::parse("Package: a\nPackage: b\n", "img/status"); },
                ExitStatus::kUsage);
    EXPECT_NE(m.find("img/status line 2"), std::string::npos) << m;

    m = errorOf(
        [] {
            DpkgStatusFile::parse("Package: a\nVersion: 1\n\nVersion: 2\nStatus: x\n",
                                  "img/status");
        },
        ExitStatus::kUsage);
    EXPECT_NE(m.find("img/status line 4"), std::string::npos) << m;
    EXPECT_NE(m.find("Package"), std::string::npos) << m;

    m = errorOf([] { DpkgStatusFile::parse(std::string("Package: a\0b\n", 13), "img/status"); },
                ExitStatus::kUsage);
    EXPECT_NE(m.find("img/status"), std::string::npos) << m;
}

TEST(PatchApplyDatabase, InfoName) {
    EXPECT_EQ(infoName("libc6", "amd64", "same"), "libc6:amd64");
    EXPECT_EQ(infoName("libc6", "i386", "same"), "libc6:i386");
    EXPECT_EQ(infoName("coreutils", "amd64", "foreign"), "coreutils");
    EXPECT_EQ(infoName("tzdata", "all", ""), "tzdata");
    EXPECT_EQ(infoName("python3", "amd64", "allowed"), "python3");
}

TEST(PatchApplyDatabase, Md5Hex) {
    EXPECT_EQ(md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
    EXPECT_EQ(md5Hex("a"), "0cc175b9c0f1b6a831c399e269772661");
    EXPECT_EQ(md5Hex("The quick brown fox jumps over the lazy dog"),
              "9e107d9d372bb6826bd81d3542a419d6");
    EXPECT_EQ(md5Hex(std::string("\0\xff", 2)).size(), 32u);
}

TEST(PatchApplyDatabase, ReadTreeFileFollowsSymlinks) {
    Tree tree;
    putFile(tree, "etc/real", "content\n");
    putSymlink(tree, "etc/link", "real");
    putDir(tree, "etc/dir");
    EXPECT_EQ(readTreeFile(tree, "etc/real", "t"), "content\n");
    EXPECT_EQ(readTreeFile(tree, "etc/link", "t"), "content\n");
    EXPECT_EQ(readTreeFile(tree, "etc/dir", "t"), std::nullopt);
    EXPECT_EQ(readTreeFile(tree, "etc/missing", "t"), std::nullopt);
}

TEST(PatchApplyDatabase, ReadsDiversions) {
    Tree tree;
    EXPECT_TRUE(readDiversions(tree).empty());  // no file: no diversions
    putFile(tree, "var/lib/dpkg/diversions",
            "/usr/bin/tool\n/usr/bin/tool.distrib\nother\n"
            "/etc/issue\n/etc/issue.orig\n:\n");
    auto d = readDiversions(tree);
    ASSERT_EQ(d.size(), 2u);
    ASSERT_TRUE(d.count("usr/bin/tool"));
    EXPECT_EQ(d["usr/bin/tool"].to, "usr/bin/tool.distrib");
    EXPECT_EQ(d["usr/bin/tool"].package, "other");
    ASSERT_TRUE(d.count("etc/issue"));
    EXPECT_EQ(d["etc/issue"].to, "etc/issue.orig");
    EXPECT_EQ(d["etc/issue"].package, ":");
}

TEST(PatchApplyDatabase, BadDiversionsAreRefused) {
    using ingot::ExitStatus;
    Tree tree;
    putFile(tree, "var/lib/dpkg/diversions", "/usr/bin/tool\n/usr/bin/tool.distrib\n");
    std::string m = errorOf([&] { readDiversions(tree); }, ExitStatus::kUsage);
    EXPECT_NE(m.find("var/lib/dpkg/diversions"), std::string::npos) << m;
    EXPECT_NE(m.find("2 lines"), std::string::npos) << m;

    putFile(tree, "var/lib/dpkg/diversions", "/usr/bin/../../etc/shadow\n/tmp/x\nother\n");
    m = errorOf([&] { readDiversions(tree); }, ExitStatus::kUsage);
    EXPECT_NE(m.find("var/lib/dpkg/diversions line 1"), std::string::npos) << m;

    putFile(tree, "var/lib/dpkg/diversions", "/\n/x\nother\n");
    m = errorOf([&] { readDiversions(tree); }, ExitStatus::kUsage);
    EXPECT_NE(m.find("var/lib/dpkg/diversions line 1"), std::string::npos) << m;
}

TEST(PatchApplyDatabase, ReadsFileTriggerInterests) {
    Tree tree;
    EXPECT_TRUE(readFileTriggerInterests(tree).empty());
    putFile(tree, "var/lib/dpkg/triggers/File",
            "/usr/lib/x86_64-linux-gnu libc-bin/noawait\n"
            "/usr/share/man man-db\n"
            "\n"
            "/usr/share/icons/hicolor gtk-update-icon-cache/noawait\n");
    auto interests = readFileTriggerInterests(tree);
    ASSERT_EQ(interests.size(), 3u);
    EXPECT_EQ(interests[0].path, "usr/lib/x86_64-linux-gnu");
    EXPECT_EQ(interests[0].package, "libc-bin");
    EXPECT_EQ(interests[1].path, "usr/share/man");
    EXPECT_EQ(interests[1].package, "man-db");
    EXPECT_EQ(interests[2].path, "usr/share/icons/hicolor");
    EXPECT_EQ(interests[2].package, "gtk-update-icon-cache");

    putFile(tree, "var/lib/dpkg/triggers/File", "/usr/lib\n");
    std::string m = errorOf([&] { readFileTriggerInterests(tree); }, ingot::ExitStatus::kUsage);
    EXPECT_NE(m.find("var/lib/dpkg/triggers/File line 1"), std::string::npos) << m;

    putFile(tree, "var/lib/dpkg/triggers/File", "/usr/lib a\n/usr/../.. b\n");
    m = errorOf([&] { readFileTriggerInterests(tree); }, ingot::ExitStatus::kUsage);
    EXPECT_NE(m.find("var/lib/dpkg/triggers/File line 2"), std::string::npos) << m;
}

TEST(PatchApplyDatabase, ReadsTriggerInterests) {
    Tree tree;
    EXPECT_TRUE(readTriggerInterests(tree, "ldconfig").empty());
    putFile(tree, "var/lib/dpkg/triggers/ldconfig", "libc-bin/noawait\n");
    putFile(tree, "var/lib/dpkg/triggers/update-initramfs", "initramfs-tools\nother-tool\n");
    EXPECT_EQ(readTriggerInterests(tree, "ldconfig"), std::vector<std::string>{"libc-bin"});
    EXPECT_EQ(readTriggerInterests(tree, "update-initramfs"),
              (std::vector<std::string>{"initramfs-tools", "other-tool"}));
    EXPECT_TRUE(readTriggerInterests(tree, "no-such-trigger").empty());
}

TEST(PatchApplyDatabase, HostileTriggerNamesGiveNothing) {
    Tree tree;
    putFile(tree, "var/lib/dpkg/x", "victim\n");
    putFile(tree, "var/lib/dpkg/triggers/sub/name", "victim\n");
    putFile(tree, "var/lib/dpkg/triggers/File", "/usr/lib victim\n");
    putFile(tree, "etc/passwd", "root:x:0:0\n");
    EXPECT_TRUE(readTriggerInterests(tree, "../x").empty());
    EXPECT_TRUE(readTriggerInterests(tree, "..").empty());
    EXPECT_TRUE(readTriggerInterests(tree, ".").empty());
    EXPECT_TRUE(readTriggerInterests(tree, "").empty());
    EXPECT_TRUE(readTriggerInterests(tree, "sub/name").empty());
    EXPECT_TRUE(readTriggerInterests(tree, "/etc/passwd").empty());
    EXPECT_TRUE(readTriggerInterests(tree, "../../../../etc/passwd").empty());
}

}  // namespace
