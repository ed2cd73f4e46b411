// dpkg's unpack phase on an in-memory image: real .debs from dpkg-deb unpacked over an
// installed version (files, merged /usr, conffiles as .dpkg-new and their outcomes, obsolete
// files, info/ files, diversions, file and explicit triggers, the status stanza), packages new
// to the image, the refusals, and the report as JSON.
#include "ingot/patch/UnpackPackages.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <optional>

#include "ApplyTestSupport.h"
#include "ingot/core/Error.h"

using namespace ingot::patch;
using namespace ingot::patch::test;
using ingot::ExitStatus;
using Kind = ConffileOutcome::Kind;
using Strings = std::vector<std::string>;

namespace {

constexpr int64_t kEpoch = 1700000000;

bool contains(const Strings& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

std::optional<Kind> outcomeOf(const UnpackedPackage& p, const std::string& path) {
    for (const auto& c : p.conffiles)
        if (c.path == path) return c.kind;
    return std::nullopt;
}

// The Conffiles value of a stanza as "path → rest of the line".
std::map<std::string, std::string> conffilesOf(const StatusStanza& s) {
    std::map<std::string, std::string> out;
    std::string value = s.get("Conffiles");
    size_t at = 0;
    while (at <= value.size()) {
        size_t end = value.find('\n', at);
        if (end == std::string::npos) end = value.size();
        std::string line = value.substr(at, end - at);
        if (!line.empty()) {
            size_t space = line.find(' ');
            out[line.substr(0, space)] = space == std::string::npos ? "" : line.substr(space + 1);
        }
        at = end + 1;
    }
    return out;
}

size_t fieldIndex(const StatusStanza& s, const std::string& name) {
    for (size_t i = 0; i < s.fields.size(); ++i)
        if (s.fields[i].first == name) return i;
    return s.fields.size();
}

// Conffile contents of the installed version (1.0-1) and the update (2.0-1).
const std::string kReplacedOld = "replaced = old\n";
const std::string kReplacedNew = "replaced = new\n";
const std::string kLocalOld = "local = old\n";
const std::string kLocalEdited = "local = edited by the recipe\n";
const std::string kLocalNew = "local = new\n";
const std::string kDeletedOld = "deleted = old\n";
const std::string kDeletedNew = "deleted = new\n";
const std::string kSame = "same in both versions\n";
const std::string kDropped = "only the old version had me\n";
const std::string kNewConf = "a new conffile\n";

class PatchApplyUnpack : public ::testing::Test {
protected:
    void SetUp() override {
        std::string missing;
        if (!haveDpkgDeb(missing)) GTEST_SKIP() << missing << " is not installed";
        scratch_.emplace();
    }

    std::string deb(const DebSpec& spec) { return buildDeb(scratch_->path(), spec); }

    // "tool" 1.0-1 installed on a merged-/usr image, with otherpkg (which shares a file with
    // it, diverts one of its files and watches /usr/lib/foo) and libc-bin (interested in the
    // explicit trigger ldconfig).
    static Tree installedImage() {
        const std::string toolConffiles =
            "Conffiles:\n"
            " /etc/tool/replaced.conf " + md5Hex(kReplacedOld) + "\n"
            " /etc/tool/local.conf " + md5Hex(kLocalOld) + "\n"
            " /etc/tool/deleted.conf " + md5Hex(kDeletedOld) + "\n"
            " /etc/tool/same.conf " + md5Hex(kSame) + "\n"
            " /etc/tool/dropped.conf " + md5Hex(kDropped) + "\n";
        const std::string status =
            statusStanza("base-files", "12.4", "amd64") +
            statusStanza("tool", "1.0-1", "amd64", "Depends: libc6\n" + toolConffiles) +
            statusStanza("otherpkg", "3.0-1", "amd64") +
            statusStanza("libc-bin", "2.36-9", "amd64") +
            statusStanza("lazy", "1.0-1", "amd64", "", "deinstall ok config-files");
        Tree tree = makeImage(status);
        // tool 1.0-1's files (bin/tool went to usr/bin/tool through the bin symlink).
        putFile(tree, "usr/bin/tool", "tool v1\n", 0755);
        putFile(tree, "usr/share/tool/data", "data v1\n");
        putFile(tree, "usr/share/tool/old-only", "gone in 2.0\n");
        putFile(tree, "usr/share/tool/shared", "also otherpkg's\n");
        putDir(tree, "usr/share/olddir");
        putFile(tree, "etc/tool/replaced.conf", kReplacedOld);
        putFile(tree, "etc/tool/local.conf", kLocalEdited);
        // etc/tool/deleted.conf: removed by the recipe
        putFile(tree, "etc/tool/same.conf", kSame);
        putFile(tree, "etc/tool/dropped.conf", kDropped);
        putFile(tree, "var/lib/dpkg/info/tool.list",
                listText({"/bin", "/bin/tool", "/etc", "/etc/tool", "/etc/tool/deleted.conf",
                          "/etc/tool/dropped.conf", "/etc/tool/local.conf",
                          "/etc/tool/replaced.conf", "/etc/tool/same.conf", "/usr",
                          "/usr/share", "/usr/share/olddir", "/usr/share/tool",
                          "/usr/share/tool/data", "/usr/share/tool/old-only",
                          "/usr/share/tool/shared"}));
        putFile(tree, "var/lib/dpkg/info/tool.md5sums",
                md5Hex("tool v1\n") + "  bin/tool\n");
        putFile(tree, "var/lib/dpkg/info/tool.conffiles", "/etc/tool/replaced.conf\n");
        putFile(tree, "var/lib/dpkg/info/tool.postrm", "#!/bin/sh\necho old postrm\n", 0755);
        putFile(tree, "var/lib/dpkg/info/tool.prerm", "#!/bin/sh\necho old prerm\n", 0755);
        putFile(tree, "var/lib/dpkg/info/tool.postinst", "#!/bin/sh\necho old postinst\n", 0755);
        // otherpkg: shares usr/share/tool/shared, diverts usr/bin/diverted.
        putFile(tree, "usr/bin/diverted", "otherpkg's diverted\n", 0755);
        putFile(tree, "var/lib/dpkg/info/otherpkg.list",
                listText({"/usr", "/usr/bin", "/usr/bin/diverted", "/usr/share",
                          "/usr/share/tool", "/usr/share/tool/shared"}));
        putFile(tree, "var/lib/dpkg/info/otherpkg.postinst", "#!/bin/sh\n", 0755);
        putFile(tree, "var/lib/dpkg/info/libc-bin.list", listText({"/usr", "/usr/sbin",
                                                                    "/usr/sbin/ldconfig"}));
        putFile(tree, "usr/sbin/ldconfig", "ldconfig\n", 0755);
        putFile(tree, "var/lib/dpkg/diversions",
                "/usr/bin/diverted\n/usr/bin/diverted.distrib\notherpkg\n"
                "/usr/share/tool/selfdiv\n/usr/share/tool/selfdiv.tool\ntool\n");
        putFile(tree, "var/lib/dpkg/triggers/File",
                "/usr/lib/foo otherpkg\n/usr/lib/x86_64-linux-gnu libc-bin/noawait\n");
        putFile(tree, "var/lib/dpkg/triggers/ldconfig", "libc-bin/noawait\n");
        return tree;
    }

    static DebSpec toolUpdate() {
        DebSpec d;
        d.name = "tool";
        d.version = "2.0-1";
        d.control = "Installed-Size: 20\nDepends: libc6 (>= 2.36)\n";
        d.description = "the tool, updated\n Fixes CVE-2024-0001.\n .\n Second paragraph.\n";
        d.files = {
            {"bin/tool", "tool v2\n"},
            {"usr/share/tool/data", "data v2\n"},
            {"usr/share/tool/selfdiv", "self-diverted\n"},
            {"usr/lib/foo/plugin.so", "plugin\n"},
            {"usr/bin/diverted", "tool's diverted\n"},
            {"etc/tool/replaced.conf", kReplacedNew},
            {"etc/tool/local.conf", kLocalNew},
            {"etc/tool/deleted.conf", kDeletedNew},
            {"etc/tool/same.conf", kSame},
            {"etc/tool/new.conf", kNewConf},
        };
        d.modes = {{"bin/tool", 0755}, {"usr/bin/diverted", 0755}};
        d.controlFiles = {
            {"conffiles",
             "/etc/tool/replaced.conf\n/etc/tool/local.conf\n/etc/tool/deleted.conf\n"
             "/etc/tool/same.conf\n/etc/tool/new.conf\n"},
            {"postinst", "#!/bin/sh\nset -e\necho new postinst\n"},
            {"preinst", "#!/bin/sh\nset -e\necho new preinst\n"},
            {"triggers", "activate-noawait ldconfig\n"},
            {"md5sums", md5Hex("tool v2\n") + "  bin/tool\n"},
        };
        return d;
    }

    // Unpacks the update over the installed image; the tree and report are kept for the tests.
    void unpackUpdate(const std::function<void(Tree&)>& edit = {}) {
        tree_ = installedImage();
        if (edit) edit(tree_);
        const DebSpec spec = toolUpdate();
        const std::string path = deb(spec);
        UnpackOptions options;
        options.sourceDateEpoch = kEpoch;
        report_ = unpackPackages(tree_, {toUnpack(path, spec)}, options);
        ASSERT_EQ(report_.packages.size(), 1u);
        status_ = statusOf(tree_);
    }

    const UnpackedPackage& tool() const { return report_.packages.front(); }
    const StatusStanza& stanza(const std::string& name) const {
        const StatusStanza* s = status_.find(name, "amd64");
        if (!s) throw std::runtime_error("no stanza for " + name);
        return *s;
    }

    std::optional<ScratchDir> scratch_;
    Tree tree_;
    UnpackReport report_;
    DpkgStatusFile status_;
};

TEST_F(PatchApplyUnpack, PlacesNewFilesThroughTheMergedUsrSymlinks) {
    unpackUpdate();
    EXPECT_EQ(fileAt(tree_, "usr/bin/tool"), "tool v2\n");
    EXPECT_EQ(modeAt(tree_, "usr/bin/tool"), 0755u);
    EXPECT_EQ(tree_.find("usr/bin/tool")->mtime, kEpoch);  // clamped to SOURCE_DATE_EPOCH
    EXPECT_EQ(fileAt(tree_, "usr/share/tool/data"), "data v2\n");
    EXPECT_EQ(modeAt(tree_, "usr/share/tool/data"), 0644u);
    EXPECT_EQ(fileAt(tree_, "usr/lib/foo/plugin.so"), "plugin\n");
    // bin, the merged-/usr alias, stays a symlink.
    auto bin = tree_.find("bin");
    ASSERT_NE(bin, nullptr);
    EXPECT_EQ(bin->type, NodeType::kSymlink);
    EXPECT_EQ(bin->symlinkTarget, "usr/bin");
    EXPECT_EQ(tree_.find("lib")->type, NodeType::kSymlink);
    EXPECT_EQ(tool().package, "tool");
    EXPECT_EQ(tool().architecture, "amd64");
    EXPECT_EQ(tool().oldVersion, "1.0-1");
    EXPECT_EQ(tool().newVersion, "2.0-1");
    EXPECT_EQ(tool().filesUnpacked, 10u);
}

TEST_F(PatchApplyUnpack, ConffilesGoToDpkgNewAndTheCurrentOnesStay) {
    unpackUpdate();
    EXPECT_EQ(fileAt(tree_, "etc/tool/replaced.conf"), kReplacedOld);
    EXPECT_EQ(fileAt(tree_, "etc/tool/replaced.conf.dpkg-new"), kReplacedNew);
    EXPECT_EQ(fileAt(tree_, "etc/tool/local.conf"), kLocalEdited);
    EXPECT_EQ(fileAt(tree_, "etc/tool/local.conf.dpkg-new"), kLocalNew);
    EXPECT_EQ(tree_.find("etc/tool/deleted.conf"), nullptr);
    EXPECT_EQ(fileAt(tree_, "etc/tool/deleted.conf.dpkg-new"), kDeletedNew);
    EXPECT_EQ(fileAt(tree_, "etc/tool/same.conf"), kSame);
    EXPECT_EQ(fileAt(tree_, "etc/tool/same.conf.dpkg-new"), kSame);
    EXPECT_EQ(tree_.find("etc/tool/new.conf"), nullptr);
    EXPECT_EQ(fileAt(tree_, "etc/tool/new.conf.dpkg-new"), kNewConf);
    // An old conffile the new version no longer ships is kept.
    EXPECT_EQ(fileAt(tree_, "etc/tool/dropped.conf"), kDropped);
    EXPECT_EQ(tree_.find("etc/tool/dropped.conf.dpkg-new"), nullptr);
}

TEST_F(PatchApplyUnpack, ConffileOutcomes) {
    unpackUpdate();
    EXPECT_EQ(tool().conffiles.size(), 5u);
    EXPECT_EQ(outcomeOf(tool(), "/etc/tool/replaced.conf"), Kind::kReplaced);
    EXPECT_EQ(outcomeOf(tool(), "/etc/tool/local.conf"), Kind::kKeptLocal);
    EXPECT_EQ(outcomeOf(tool(), "/etc/tool/deleted.conf"), Kind::kKeptDeleted);
    EXPECT_EQ(outcomeOf(tool(), "/etc/tool/same.conf"), Kind::kUnchanged);
    EXPECT_EQ(outcomeOf(tool(), "/etc/tool/new.conf"), Kind::kNew);
    EXPECT_EQ(outcomeOf(tool(), "/etc/tool/dropped.conf"), std::nullopt);
}

TEST_F(PatchApplyUnpack, StatusStanzaIsUnpackedWithTheOldConffileHashes) {
    unpackUpdate();
    const StatusStanza& s = stanza("tool");
    EXPECT_EQ(s.get("Status"), "install ok unpacked");
    EXPECT_EQ(s.get("Version"), "2.0-1");
    EXPECT_EQ(s.get("Config-Version"), "1.0-1");
    EXPECT_EQ(s.get("Depends"), "libc6 (>= 2.36)");
    EXPECT_EQ(s.get("Installed-Size"), "20");
    EXPECT_EQ(s.get("Description"),
              "the tool, updated\nFixes CVE-2024-0001.\n.\nSecond paragraph.");
    // dpkg's order: Package, Status, …, Version, Config-Version, …, Conffiles, Description.
    EXPECT_EQ(fieldIndex(s, "Package"), 0u);
    EXPECT_EQ(fieldIndex(s, "Status"), 1u);
    EXPECT_EQ(fieldIndex(s, "Config-Version"), fieldIndex(s, "Version") + 1);
    EXPECT_EQ(fieldIndex(s, "Description"), fieldIndex(s, "Conffiles") + 1);

    EXPECT_TRUE(s.get("Conffiles").starts_with("\n"));
    const auto conffiles = conffilesOf(s);
    EXPECT_EQ(conffiles.size(), 6u);
    EXPECT_EQ(conffiles.at("/etc/tool/replaced.conf"), md5Hex(kReplacedOld));
    EXPECT_EQ(conffiles.at("/etc/tool/local.conf"), md5Hex(kLocalOld));
    EXPECT_EQ(conffiles.at("/etc/tool/deleted.conf"), md5Hex(kDeletedOld));
    EXPECT_EQ(conffiles.at("/etc/tool/same.conf"), md5Hex(kSame));
    EXPECT_EQ(conffiles.at("/etc/tool/new.conf"), "newconffile");
    EXPECT_EQ(conffiles.at("/etc/tool/dropped.conf"), md5Hex(kDropped) + " obsolete");

    // The file as a whole: the other stanzas are still there, and it parses again.
    const std::string text = *fileAt(tree_, std::string(kDpkgStatusPath));
    EXPECT_NE(text.find("Conffiles:\n /etc/tool/replaced.conf " + md5Hex(kReplacedOld) + "\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("Description: the tool, updated\n Fixes CVE-2024-0001.\n .\n"),
              std::string::npos)
        << text;
    EXPECT_EQ(status_.stanzas().size(), 5u);
    EXPECT_EQ(stanza("base-files").get("Status"), "install ok installed");
    EXPECT_EQ(stanza("lazy").get("Status"), "deinstall ok config-files");
    EXPECT_EQ(tree_.find(std::string(kDpkgStatusPath))->mtime, kEpoch);
}

TEST_F(PatchApplyUnpack, RemovesWhatOnlyTheOldVersionHad) {
    unpackUpdate();
    EXPECT_EQ(tree_.find("usr/share/tool/old-only"), nullptr);
    EXPECT_EQ(tree_.find("usr/share/olddir"), nullptr);  // an empty directory goes too
    // Listed by otherpkg as well: kept.
    EXPECT_EQ(fileAt(tree_, "usr/share/tool/shared"), "also otherpkg's\n");
    // An old conffile: kept (and marked obsolete in the status).
    EXPECT_EQ(fileAt(tree_, "etc/tool/dropped.conf"), kDropped);
    EXPECT_EQ(tool().filesRemoved, 1u);
    // Things nobody's list names are left alone.
    EXPECT_EQ(fileAt(tree_, "usr/sbin/ldconfig"), "ldconfig\n");
}

TEST_F(PatchApplyUnpack, ReplacesTheInfoFiles) {
    unpackUpdate();
    const std::string info = "var/lib/dpkg/info/";
    const auto list = fileAt(tree_, info + "tool.list");
    ASSERT_TRUE(list);
    EXPECT_TRUE(list->starts_with("/.\n")) << *list;
    for (const char* p :
         {"/bin", "/bin/tool", "/etc/tool/replaced.conf", "/etc/tool/new.conf",
          "/usr/share/tool/data", "/usr/share/tool/selfdiv", "/usr/lib/foo/plugin.so",
          "/usr/bin/diverted"})
        EXPECT_NE(list->find(std::string("\n") + p + "\n"), std::string::npos) << p << "\n" << *list;
    // Conffiles are listed under their own names, not .dpkg-new; old-only paths are gone.
    EXPECT_EQ(list->find("dpkg-new"), std::string::npos) << *list;
    EXPECT_EQ(list->find("old-only"), std::string::npos) << *list;
    EXPECT_EQ(list->find("diverted.distrib"), std::string::npos) << *list;

    EXPECT_EQ(fileAt(tree_, info + "tool.postinst"), "#!/bin/sh\nset -e\necho new postinst\n");
    EXPECT_EQ(modeAt(tree_, info + "tool.postinst"), 0755u);
    EXPECT_EQ(fileAt(tree_, info + "tool.preinst"), "#!/bin/sh\nset -e\necho new preinst\n");
    EXPECT_EQ(modeAt(tree_, info + "tool.preinst"), 0755u);
    EXPECT_EQ(fileAt(tree_, info + "tool.triggers"), "activate-noawait ldconfig\n");
    EXPECT_EQ(modeAt(tree_, info + "tool.triggers"), 0644u);
    EXPECT_EQ(fileAt(tree_, info + "tool.md5sums"), md5Hex("tool v2\n") + "  bin/tool\n");
    EXPECT_EQ(fileAt(tree_, info + "tool.conffiles"),
              "/etc/tool/replaced.conf\n/etc/tool/local.conf\n/etc/tool/deleted.conf\n"
              "/etc/tool/same.conf\n/etc/tool/new.conf\n");
    EXPECT_EQ(tree_.find(info + "tool.postrm"), nullptr);
    EXPECT_EQ(tree_.find(info + "tool.prerm"), nullptr);
    EXPECT_EQ(tree_.find(info + "tool.control"), nullptr);
    // Other packages' info files are untouched.
    EXPECT_EQ(fileAt(tree_, info + "otherpkg.postinst"), "#!/bin/sh\n");
    EXPECT_TRUE(fileAt(tree_, info + "otherpkg.list"));

    const Strings& notRun = tool().unpackScripts;
    EXPECT_EQ(notRun.size(), 3u) << testing::PrintToString(notRun);
    EXPECT_TRUE(contains(notRun, "old prerm upgrade 2.0-1")) << testing::PrintToString(notRun);
    EXPECT_TRUE(contains(notRun, "old postrm upgrade 2.0-1")) << testing::PrintToString(notRun);
    EXPECT_TRUE(contains(notRun, "new preinst upgrade 1.0-1")) << testing::PrintToString(notRun);
}

TEST_F(PatchApplyUnpack, FollowsOtherPackagesDiversions) {
    unpackUpdate();
    // Diverted by otherpkg: tool's file goes to the diverted name, otherpkg's stays.
    EXPECT_EQ(fileAt(tree_, "usr/bin/diverted.distrib"), "tool's diverted\n");
    EXPECT_EQ(modeAt(tree_, "usr/bin/diverted.distrib"), 0755u);
    EXPECT_EQ(fileAt(tree_, "usr/bin/diverted"), "otherpkg's diverted\n");
    // Diverted by tool itself: a package's own diversion does not apply to it.
    EXPECT_EQ(fileAt(tree_, "usr/share/tool/selfdiv"), "self-diverted\n");
    EXPECT_EQ(tree_.find("usr/share/tool/selfdiv.tool"), nullptr);
}

TEST_F(PatchApplyUnpack, MarksFileAndExplicitTriggersPending) {
    unpackUpdate();
    const StatusStanza& other = stanza("otherpkg");
    EXPECT_EQ(other.get("Status"), "install ok triggers-pending");
    EXPECT_EQ(other.get("Triggers-Pending"), "/usr/lib/foo");
    const StatusStanza& libc = stanza("libc-bin");
    EXPECT_EQ(libc.get("Status"), "install ok triggers-pending");
    EXPECT_EQ(libc.get("Triggers-Pending"), "ldconfig");
    EXPECT_EQ(report_.triggersActivated,
              (Strings{"libc-bin: ldconfig", "otherpkg: /usr/lib/foo"}));
    // Nothing else was activated.
    EXPECT_EQ(stanza("base-files").get("Status"), "install ok installed");
    EXPECT_FALSE(stanza("base-files").has("Triggers-Pending"));
}

TEST_F(PatchApplyUnpack, TriggersAddToThosePendingAlready) {
    Tree tree = makeImage("Package: otherpkg\nStatus: install ok triggers-pending\n"
                     "Architecture: amd64\nVersion: 3.0-1\nTriggers-Pending: /usr/share/x\n"
                     "Description: watches\n\n");
    putFile(tree, "var/lib/dpkg/triggers/File", "/usr/lib/foo otherpkg/noawait\n");
    DebSpec spec;
    spec.name = "plugin";
    spec.version = "1.0-1";
    spec.files = {{"usr/lib/foo/p.so", "p\n"}};
    UnpackReport report = unpackPackages(tree, {toUnpack(deb(spec), spec)}, {});
    const DpkgStatusFile status = statusOf(tree);
    const StatusStanza* other = status.find("otherpkg", "amd64");
    ASSERT_NE(other, nullptr);
    EXPECT_EQ(other->get("Status"), "install ok triggers-pending");
    const std::string pending = other->get("Triggers-Pending");
    EXPECT_NE(pending.find("/usr/share/x"), std::string::npos) << pending;
    EXPECT_NE(pending.find("/usr/lib/foo"), std::string::npos) << pending;
    EXPECT_EQ(report.triggersActivated, Strings{"otherpkg: /usr/lib/foo"});
}

TEST_F(PatchApplyUnpack, NewPackageHasNoConfigVersion) {
    Tree tree = makeImage(statusStanza("base-files", "12.4"));
    DebSpec spec;
    spec.name = "fresh";
    spec.version = "1.0-1";
    spec.arch = "all";
    spec.files = {{"usr/share/fresh/readme", "hello\n"}, {"etc/fresh.conf", "fresh\n"}};
    spec.controlFiles = {{"conffiles", "/etc/fresh.conf\n"},
                         {"postinst", "#!/bin/sh\nexit 0\n"}};
    UnpackReport report = unpackPackages(tree, {toUnpack(deb(spec), spec)}, {});
    ASSERT_EQ(report.packages.size(), 1u);
    const UnpackedPackage& p = report.packages.front();
    EXPECT_EQ(p.oldVersion, "");
    EXPECT_EQ(p.newVersion, "1.0-1");
    EXPECT_EQ(p.architecture, "all");
    EXPECT_EQ(p.filesUnpacked, 2u);
    EXPECT_EQ(p.filesRemoved, 0u);
    EXPECT_EQ(outcomeOf(p, "/etc/fresh.conf"), Kind::kNew);

    const DpkgStatusFile status = statusOf(tree);
    ASSERT_EQ(status.stanzas().size(), 2u);
    const StatusStanza* s = status.find("fresh", "all");
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->get("Status"), "install ok unpacked");
    EXPECT_FALSE(s->has("Config-Version"));
    EXPECT_EQ(s->get("Conffiles"), "\n/etc/fresh.conf newconffile");
    EXPECT_EQ(fileAt(tree, "etc/fresh.conf.dpkg-new"), "fresh\n");
    EXPECT_EQ(tree.find("etc/fresh.conf"), nullptr);
    EXPECT_EQ(fileAt(tree, "usr/share/fresh/readme"), "hello\n");
    EXPECT_EQ(fileAt(tree, "var/lib/dpkg/info/fresh.list"),
              "/.\n/etc\n/etc/fresh.conf\n/usr\n/usr/share\n/usr/share/fresh\n"
              "/usr/share/fresh/readme\n");
    EXPECT_EQ(modeAt(tree, "var/lib/dpkg/info/fresh.postinst"), 0755u);
    EXPECT_TRUE(report.triggersActivated.empty());
}

TEST_F(PatchApplyUnpack, ConffileTheRecipeAlreadyPlacedForANewPackage) {
    Tree tree = makeImage(statusStanza("base-files", "12.4"));
    putFile(tree, "etc/a.conf", "the recipe's\n");
    putFile(tree, "etc/b.conf", "same\n");
    DebSpec spec;
    spec.name = "fresh";
    spec.version = "1.0-1";
    spec.files = {{"etc/a.conf", "the package's\n"}, {"etc/b.conf", "same\n"}};
    spec.controlFiles = {{"conffiles", "/etc/a.conf\n/etc/b.conf\n"}};
    UnpackReport report = unpackPackages(tree, {toUnpack(deb(spec), spec)}, {});
    const UnpackedPackage& p = report.packages.front();
    EXPECT_EQ(outcomeOf(p, "/etc/a.conf"), Kind::kKeptLocal);
    EXPECT_EQ(outcomeOf(p, "/etc/b.conf"), Kind::kUnchanged);
    EXPECT_EQ(fileAt(tree, "etc/a.conf"), "the recipe's\n");
}

TEST_F(PatchApplyUnpack, ArchitectureAllBecomingNativeReplacesTheStanza) {
    Tree tree = makeImage(statusStanza("data", "1.0-1", "all"));
    putFile(tree, "usr/share/data/old", "old\n");
    putFile(tree, "var/lib/dpkg/info/data.list",
            listText({"/usr", "/usr/share", "/usr/share/data", "/usr/share/data/old"}));
    DebSpec spec;
    spec.name = "data";
    spec.version = "2.0-1";
    spec.arch = "amd64";
    spec.files = {{"usr/share/data/new", "new\n"}};
    UnpackReport report = unpackPackages(tree, {toUnpack(deb(spec), spec)}, {});
    EXPECT_EQ(report.packages.front().oldVersion, "1.0-1");
    const DpkgStatusFile status = statusOf(tree);
    ASSERT_EQ(status.stanzas().size(), 1u);
    EXPECT_EQ(status.stanzas()[0].get("Architecture"), "amd64");
    EXPECT_EQ(status.stanzas()[0].get("Config-Version"), "1.0-1");
    EXPECT_EQ(tree.find("usr/share/data/old"), nullptr);
    EXPECT_EQ(fileAt(tree, "usr/share/data/new"), "new\n");
}

TEST_F(PatchApplyUnpack, MultiArchSameUpgradesOneArchitecture) {
    Tree tree = makeImage(statusStanza("libx1", "1.0-1", "amd64", "Multi-Arch: same\n") +
                          statusStanza("libx1", "1.0-1", "i386", "Multi-Arch: same\n"));
    putFile(tree, "usr/lib/x86_64-linux-gnu/libx.so.1", "amd64 v1\n");
    putFile(tree, "usr/lib/i386-linux-gnu/libx.so.1", "i386 v1\n");
    putFile(tree, "usr/share/doc/libx1/old-note", "shared\n");
    putFile(tree, "var/lib/dpkg/info/libx1:amd64.list",
            listText({"/usr", "/usr/lib", "/usr/lib/x86_64-linux-gnu",
                      "/usr/lib/x86_64-linux-gnu/libx.so.1", "/usr/share", "/usr/share/doc",
                      "/usr/share/doc/libx1", "/usr/share/doc/libx1/old-note"}));
    putFile(tree, "var/lib/dpkg/info/libx1:i386.list",
            listText({"/usr", "/usr/lib", "/usr/lib/i386-linux-gnu",
                      "/usr/lib/i386-linux-gnu/libx.so.1", "/usr/share", "/usr/share/doc",
                      "/usr/share/doc/libx1", "/usr/share/doc/libx1/old-note"}));
    putFile(tree, "var/lib/dpkg/info/libx1:i386.shlibs", "libx 1 libx1\n");
    DebSpec spec;
    spec.name = "libx1";
    spec.version = "1.1-1";
    spec.control = "Multi-Arch: same\n";
    spec.files = {{"usr/lib/x86_64-linux-gnu/libx.so.1", "amd64 v2\n"}};
    spec.controlFiles = {{"shlibs", "libx 1 libx1 (>= 1.1)\n"}};
    UnpackReport report = unpackPackages(tree, {toUnpack(deb(spec), spec)}, {});
    EXPECT_EQ(report.packages.front().oldVersion, "1.0-1");
    EXPECT_EQ(fileAt(tree, "usr/lib/x86_64-linux-gnu/libx.so.1"), "amd64 v2\n");
    EXPECT_EQ(fileAt(tree, "usr/lib/i386-linux-gnu/libx.so.1"), "i386 v1\n");
    // Still listed by the i386 package: kept.
    EXPECT_EQ(fileAt(tree, "usr/share/doc/libx1/old-note"), "shared\n");
    EXPECT_EQ(report.packages.front().filesRemoved, 0u);
    EXPECT_TRUE(fileAt(tree, "var/lib/dpkg/info/libx1:amd64.list"));
    EXPECT_EQ(fileAt(tree, "var/lib/dpkg/info/libx1:amd64.shlibs"), "libx 1 libx1 (>= 1.1)\n");
    EXPECT_EQ(fileAt(tree, "var/lib/dpkg/info/libx1:i386.shlibs"), "libx 1 libx1\n");
    EXPECT_TRUE(fileAt(tree, "var/lib/dpkg/info/libx1:i386.list"));
    EXPECT_EQ(tree.find("var/lib/dpkg/info/libx1.list"), nullptr);

    const DpkgStatusFile status = statusOf(tree);
    ASSERT_EQ(status.stanzas().size(), 2u);
    EXPECT_EQ(status.find("libx1", "amd64")->get("Version"), "1.1-1");
    EXPECT_EQ(status.find("libx1", "amd64")->get("Status"), "install ok unpacked");
    EXPECT_EQ(status.find("libx1", "i386")->get("Version"), "1.0-1");
    EXPECT_EQ(status.find("libx1", "i386")->get("Status"), "install ok installed");
}

TEST_F(PatchApplyUnpack, SeveralPackagesInOneRunDoNotTriggerEachOther) {
    Tree tree = makeImage(statusStanza("watcher", "1.0-1") + statusStanza("libc-bin", "2.36-9"));
    putFile(tree, "var/lib/dpkg/triggers/File", "/usr/lib/foo watcher\n");
    DebSpec a;
    a.name = "plugin";
    a.version = "1.0-1";
    a.files = {{"usr/lib/foo/p.so", "p\n"}};
    DebSpec w;
    w.name = "watcher";
    w.version = "1.1-1";
    w.files = {{"usr/bin/watcher", "w\n"}};
    UnpackReport report =
        unpackPackages(tree, {toUnpack(deb(a), a), toUnpack(deb(w), w)}, {});
    ASSERT_EQ(report.packages.size(), 2u);
    EXPECT_EQ(report.packages[0].package, "plugin");
    EXPECT_EQ(report.packages[1].package, "watcher");
    // watcher is unpacked (and configured) in this run anyway.
    EXPECT_TRUE(report.triggersActivated.empty());
    const DpkgStatusFile status = statusOf(tree);
    EXPECT_EQ(status.find("watcher", "amd64")->get("Status"), "install ok unpacked");
    EXPECT_FALSE(status.find("watcher", "amd64")->has("Triggers-Pending"));
    EXPECT_EQ(status.find("plugin", "amd64")->get("Status"), "install ok unpacked");
}

// --- refusals ---

TEST_F(PatchApplyUnpack, RefusesADebThatIsNotWhatThePlanSaid) {
    const DebSpec spec = toolUpdate();
    const std::string path = deb(spec);
    for (PackageToUnpack wrong :
         {PackageToUnpack{path, "tool", "amd64", "2.0-2"},
          PackageToUnpack{path, "tools", "amd64", "2.0-1"},
          PackageToUnpack{path, "tool", "arm64", "2.0-1"}}) {
        Tree tree = installedImage();
        const std::string m =
            errorOf([&] { unpackPackages(tree, {wrong}, {}); }, ExitStatus::kVerification);
        EXPECT_NE(m.find(path), std::string::npos) << m;
        EXPECT_NE(m.find("2.0-1"), std::string::npos) << m;
        // Refused before anything was placed.
        EXPECT_EQ(fileAt(tree, "usr/bin/tool"), "tool v1\n");
    }
}

TEST_F(PatchApplyUnpack, RefusesAFileWhereTheImageHasADirectory) {
    Tree tree = makeImage(statusStanza("base-files", "12.4"));
    putFile(tree, "usr/share/clash/thing/inside", "the image's\n");
    DebSpec spec;
    spec.name = "clash";
    spec.version = "1.0-1";
    spec.files = {{"usr/share/clash/thing", "a file\n"}};
    const std::string path = deb(spec);
    const std::string m = errorOf([&] { unpackPackages(tree, {toUnpack(path, spec)}, {}); },
                                  ExitStatus::kUsage);
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find("usr/share/clash/thing"), std::string::npos) << m;
    EXPECT_NE(m.find("directory"), std::string::npos) << m;
    // The directory is still there.
    EXPECT_EQ(fileAt(tree, "usr/share/clash/thing/inside"), "the image's\n");
}

TEST_F(PatchApplyUnpack, RefusesAnImageWithoutAStatusFile) {
    Tree tree;
    putDir(tree, "var/lib/dpkg/info");
    DebSpec spec;
    spec.name = "x";
    spec.version = "1";
    spec.files = {{"usr/share/x", "x\n"}};
    const std::string path = deb(spec);
    const std::string m = errorOf([&] { unpackPackages(tree, {toUnpack(path, spec)}, {}); },
                                  ExitStatus::kUsage);
    EXPECT_NE(m.find("var/lib/dpkg/status"), std::string::npos) << m;
    EXPECT_EQ(tree.find("usr/share/x"), nullptr);
}

TEST_F(PatchApplyUnpack, RefusesAConffileTheDataLacks) {
    Tree tree = makeImage(statusStanza("base-files", "12.4"));
    DebSpec spec;
    spec.name = "liar";
    spec.version = "1.0-1";
    spec.files = {{"etc/liar.conf", "x\n"}};
    spec.controlFiles = {{"conffiles", "/etc/liar.conf\n/etc/missing.conf\n"}};
    spec.nocheck = true;  // dpkg-deb itself refuses to build this
    const std::string path = deb(spec);
    const std::string m = errorOf([&] { unpackPackages(tree, {toUnpack(path, spec)}, {}); },
                                  ExitStatus::kVerification);
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find("/etc/missing.conf"), std::string::npos) << m;
}

TEST_F(PatchApplyUnpack, RefusesAMalformedStatusFile) {
    Tree tree = makeImage("Package: a\nthis is no field\n");
    DebSpec spec;
    spec.name = "x";
    spec.version = "1";
    spec.files = {{"usr/share/x", "x\n"}};
    const std::string m =
        errorOf([&] { unpackPackages(tree, {toUnpack(deb(spec), spec)}, {}); }, ExitStatus::kUsage);
    EXPECT_NE(m.find("var/lib/dpkg/status line 2"), std::string::npos) << m;
}

TEST_F(PatchApplyUnpack, ReportAsJson) {
    unpackUpdate();
    const nlohmann::json j = unpackReportToJson(report_);
    ASSERT_TRUE(j.is_object());
    ASSERT_TRUE(j.contains("packages"));
    ASSERT_TRUE(j.contains("triggersActivated"));
    EXPECT_EQ(j["triggersActivated"],
              nlohmann::json::array({"libc-bin: ldconfig", "otherpkg: /usr/lib/foo"}));
    ASSERT_TRUE(j["packages"].is_array());
    ASSERT_EQ(j["packages"].size(), 1u);
    const nlohmann::json& p = j["packages"][0];
    EXPECT_EQ(p["package"], "tool");
    EXPECT_EQ(p["architecture"], "amd64");
    EXPECT_EQ(p["oldVersion"], "1.0-1");
    EXPECT_EQ(p["newVersion"], "2.0-1");
    EXPECT_EQ(p["filesUnpacked"], 10);
    EXPECT_EQ(p["filesRemoved"], 1);
    ASSERT_TRUE(p["conffiles"].is_array());
    ASSERT_EQ(p["conffiles"].size(), 5u);
    std::map<std::string, std::string> outcomes;
    for (const auto& c : p["conffiles"]) {
        ASSERT_TRUE(c["path"].is_string());
        ASSERT_TRUE(c["outcome"].is_string());
        outcomes[c["path"].get<std::string>()] = c["outcome"].get<std::string>();
    }
    EXPECT_EQ(outcomes, (std::map<std::string, std::string>{
                            {"/etc/tool/deleted.conf", "kept-deleted"},
                            {"/etc/tool/local.conf", "kept-local"},
                            {"/etc/tool/new.conf", "new"},
                            {"/etc/tool/replaced.conf", "replaced"},
                            {"/etc/tool/same.conf", "unchanged"}}));
    ASSERT_TRUE(p["unpackScripts"].is_array());
    EXPECT_EQ(p["unpackScripts"].size(), 3u);

    EXPECT_EQ(unpackReportToJson(UnpackReport{}),
              (nlohmann::json{{"packages", nlohmann::json::array()},
                              {"triggersActivated", nlohmann::json::array()}}));
}

// --- Where dpkg's own unpack (archives.c tarobject(), unpack.c process_archive()) decides ---

// dpkg leaves an existing directory alone when a package ships it
// ("It exists as a directory or a symlink to one. We do nothing."), so the recipe's mode and
// owner survive an update: a directory the recipe restricted (0750 root:adm) stays so.
TEST_F(PatchApplyUnpack, ExistingDirectoryKeepsTheImagesModeAndOwner) {
    unpackUpdate([](Tree& tree) { putDir(tree, "etc/tool", 0750, 0, 4); });
    auto dir = tree_.find("etc/tool");
    ASSERT_NE(dir, nullptr);
    EXPECT_EQ(dir->type, NodeType::kDirectory);
    EXPECT_EQ(dir->mode, 0750u);
    EXPECT_EQ(dir->gid, 4u);
    EXPECT_EQ(dir->mtime, 1000);
    // Its children are all still there.
    EXPECT_EQ(fileAt(tree_, "etc/tool/local.conf"), kLocalEdited);
}

// A file the old version shipped as /bin/mover and the new one ships as
// /usr/bin/mover is the same file on a merged-/usr image. dpkg compares the old path's
// dev/inode with the new files' before removing it ("It might be known by a different name
// because of symlinks"), so the new file stays: removing "bin/mover" through the bin symlink
// would delete the usr/bin/mover just placed.
TEST_F(PatchApplyUnpack, FileMovedAcrossTheMergedUsrAliasIsNotRemoved) {
    Tree tree = makeImage(statusStanza("base-files", "12.4") + statusStanza("mover", "1.0-1"));
    putFile(tree, "usr/bin/mover", "mover v1\n", 0755);
    putFile(tree, "var/lib/dpkg/info/mover.list", listText({"/bin", "/bin/mover"}));
    // Another package lists /bin too, so only the file is in question, not the bin symlink.
    putFile(tree, "var/lib/dpkg/info/base-files.list", listText({"/bin", "/usr", "/usr/bin"}));
    DebSpec spec;
    spec.name = "mover";
    spec.version = "2.0-1";
    spec.files = {{"usr/bin/mover", "mover v2\n"}};
    spec.modes = {{"usr/bin/mover", 0755}};
    UnpackReport report = unpackPackages(tree, {toUnpack(deb(spec), spec)}, {});
    EXPECT_EQ(fileAt(tree, "usr/bin/mover"), "mover v2\n");
    EXPECT_EQ(report.packages.front().filesRemoved, 0u);
    ASSERT_NE(tree.find("bin"), nullptr);
    EXPECT_EQ(tree.find("bin")->type, NodeType::kSymlink);
}

// dpkg keeps an old conffile the new version no longer ships in the
// package's file list (unpack.c: "old conff … is disappearing" → addfiletolist), so
// `dpkg -S` still names its owner and the guest's dpkg can purge it later.
TEST_F(PatchApplyUnpack, ObsoleteConffileStaysInTheFileList) {
    unpackUpdate();
    const auto list = fileAt(tree_, "var/lib/dpkg/info/tool.list");
    ASSERT_TRUE(list);
    EXPECT_NE(list->find("\n/etc/tool/dropped.conf\n"), std::string::npos) << *list;
}

// dpkg reads a Conffiles line from its end (hash, then the optional
// "obsolete"/"remove-on-upgrade" flag; the name is everything before), so a conffile name may
// hold spaces. Split into words, "/etc/tool/with" would be the name and "space.conf" the
// hash, and the old conffile would be deleted as an obsolete file.
TEST_F(PatchApplyUnpack, ObsoleteConffileWithASpaceInItsName) {
    const std::string content = "spaced\n";
    Tree tree = makeImage(statusStanza("spaced", "1.0-1", "amd64",
                                       "Conffiles:\n /etc/tool/with space.conf " +
                                           md5Hex(content) + "\n"));
    putFile(tree, "etc/tool/with space.conf", content);
    putFile(tree, "var/lib/dpkg/info/spaced.list",
            listText({"/etc", "/etc/tool", "/etc/tool/with space.conf"}));
    DebSpec spec;
    spec.name = "spaced";
    spec.version = "2.0-1";
    spec.files = {{"usr/share/spaced/readme", "r\n"}};
    UnpackReport report = unpackPackages(tree, {toUnpack(deb(spec), spec)}, {});
    EXPECT_EQ(fileAt(tree, "etc/tool/with space.conf"), content);
    EXPECT_EQ(report.packages.front().filesRemoved, 0u);
    const DpkgStatusFile status = statusOf(tree);
    EXPECT_EQ(status.find("spaced", "amd64")->get("Conffiles"),
              "\n/etc/tool/with space.conf " + md5Hex(content) + " obsolete");
}

// A package removed without purge ("deinstall ok config-files") keeps
// its Config-Version, and dpkg keeps it through a new unpack (only a purge or a disappearance
// blanks it), so the guest's postinst is called "configure 1.0-1" and knows the conffiles are
// from 1.0-1; without it the postinst would see a first installation.
TEST_F(PatchApplyUnpack, ReinstallOverConfigFilesKeepsConfigVersion) {
    Tree tree = makeImage(
        "Package: lazy\nStatus: deinstall ok config-files\nArchitecture: amd64\n"
        "Version: 1.0-1\nConfig-Version: 1.0-1\nConffiles:\n /etc/lazy.conf " +
        md5Hex("lazy v1\n") + "\nDescription: removed, not purged\n\n");
    putFile(tree, "etc/lazy.conf", "lazy v1\n");
    DebSpec spec;
    spec.name = "lazy";
    spec.version = "1.1-1";
    spec.files = {{"etc/lazy.conf", "lazy v2\n"}};
    spec.controlFiles = {{"conffiles", "/etc/lazy.conf\n"}};
    UnpackReport report = unpackPackages(tree, {toUnpack(deb(spec), spec)}, {});
    // Unchanged since 1.0-1: the new version replaces it at configure time.
    EXPECT_EQ(outcomeOf(report.packages.front(), "/etc/lazy.conf"), Kind::kReplaced);
    const DpkgStatusFile status = statusOf(tree);
    const StatusStanza* s = status.find("lazy", "amd64");
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->get("Status"), "install ok unpacked");
    EXPECT_EQ(s->get("Conffiles"), "\n/etc/lazy.conf " + md5Hex("lazy v1\n"));
    EXPECT_EQ(s->get("Config-Version"), "1.0-1");
}

TEST(PatchApplyConffileOutcome, NamesEveryKind) {
    EXPECT_EQ(conffileOutcomeName(Kind::kNew), "new");
    EXPECT_EQ(conffileOutcomeName(Kind::kReplaced), "replaced");
    EXPECT_EQ(conffileOutcomeName(Kind::kUnchanged), "unchanged");
    EXPECT_EQ(conffileOutcomeName(Kind::kKeptLocal), "kept-local");
    EXPECT_EQ(conffileOutcomeName(Kind::kKeptDeleted), "kept-deleted");
}

}  // namespace
