// Patch plans end to end against signed local archives (PatchTestSupport.h): which updates are
// chosen, which packages they newly need, which dependencies stay unmet, and which CVEs the
// updates' changelogs name; then the dependency rules on hand-written indexes.
#include "ingot/patch/PatchPlan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include "PatchTestSupport.h"
#include "ingot/core/Error.h"
#include "ingot/debian/DpkgStatus.h"

using namespace ingot::patch;
using namespace ingot::patch::test;
using ingot::debian::ArchiveClient;
using ingot::debian::ArchiveOptions;
using ingot::debian::PackagesIndex;
using ingot::debian::parseDpkgStatus;
using ingot::debian::test::errorOf;
using ingot::debian::test::ScratchDir;

namespace {

const PlannedUpdate* findUpdate(const PatchPlan& plan, const std::string& name) {
    for (const auto& u : plan.updates)
        if (u.package == name) return &u;
    return nullptr;
}

const PlannedInstall* findInstall(const PatchPlan& plan, const std::string& name) {
    for (const auto& n : plan.newPackages)
        if (n.package == name) return &n;
    return nullptr;
}

using Strings = std::vector<std::string>;

class PatchPlanTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!haveArchiveTools(missing_)) return;
        dir_ = new ScratchDir();
        archives_ = new TestArchives(dir_->path());
        securityRoot_ =
            new std::string(archives_->build("security", "ingot-security", securityDebs()));
        baseRoot_ = new std::string(archives_->build("base", "ingot", baseDebs()));
    }
    static void TearDownTestSuite() {
        delete securityRoot_;
        delete baseRoot_;
        delete archives_;
        delete dir_;
        securityRoot_ = baseRoot_ = nullptr;
        archives_ = nullptr;
        dir_ = nullptr;
    }
    void SetUp() override {
        if (!missing_.empty()) GTEST_SKIP() << missing_ << " is not installed";
        scratch_.emplace();
    }

    std::shared_ptr<ArchiveClient> client(const std::string& root, const std::string& suite) {
        ArchiveOptions o;
        o.baseUrl = "file://" + root;
        o.suite = suite;
        o.architecture = "amd64";
        o.keyring = archives_->keyring();
        o.cacheDirectory = *scratch_ / "cache";
        return std::make_shared<ArchiveClient>(std::move(o));
    }

    PlanInput input(bool withBase = true) {
        PlanInput in;
        in.installed = parseDpkgStatus(imageStatus(), "status");
        in.provides = parseInstalledProvides(imageStatus(), "status");
        in.architecture = nativeArchitecture(in.installed);
        in.security.push_back(archiveSource(client(*securityRoot_, "ingot-security"), "security"));
        if (withBase) in.base.push_back(archiveSource(client(*baseRoot_, "ingot"), "base"));
        return in;
    }

    static std::string missing_;
    static ScratchDir* dir_;
    static TestArchives* archives_;
    static std::string* securityRoot_;
    static std::string* baseRoot_;
    std::optional<ScratchDir> scratch_;
};

std::string PatchPlanTest::missing_;
ScratchDir* PatchPlanTest::dir_ = nullptr;
TestArchives* PatchPlanTest::archives_ = nullptr;
std::string* PatchPlanTest::securityRoot_ = nullptr;
std::string* PatchPlanTest::baseRoot_ = nullptr;

TEST_F(PatchPlanTest, ListsUpdatesWithTheirCves) {
    const PatchPlan plan = computePatchPlan(input());
    EXPECT_EQ(plan.architecture, "amd64");
    Strings names;
    for (const auto& u : plan.updates) names.push_back(u.package);
    // libold has nothing newer for amd64 (only for arm64), so it is not listed.
    EXPECT_EQ(names, (Strings{"common-data", "hello", "libbase", "libhello1", "tool"}));

    const PlannedUpdate* hello = findUpdate(plan, "hello");
    ASSERT_NE(hello, nullptr);
    EXPECT_EQ(hello->installedVersion, "1.0-1");
    EXPECT_EQ(hello->newVersion, "1.1-1");
    EXPECT_EQ(hello->architecture, "amd64");
    EXPECT_EQ(hello->sourcePackage, "hello");
    EXPECT_EQ(hello->origin, "security");
    EXPECT_TRUE(hello->neededBy.empty());
    // The entries newer than 1.0-1, not the installed one's CVE-2020-9999.
    EXPECT_EQ(hello->cves, (Strings{"CVE-2024-1111", "CVE-2024-2222", "CVE-2023-0001"}));
    EXPECT_EQ(hello->changelogNote, "");
    EXPECT_EQ(hello->filename, "pool/main/hello/hello_1.1-1_amd64.deb");
    EXPECT_EQ(hello->debSize, fs::file_size(*securityRoot_ + "/" + hello->filename));
    EXPECT_EQ(readFile(hello->debPath), readFile(*securityRoot_ + "/" + hello->filename));
    EXPECT_EQ(hello->sha256, ingot::toHex(ingot::sha256(readFile(hello->debPath))));

    // Its doc directory is a symlink to hello's: the changelog comes from its sibling.
    const PlannedUpdate* lib = findUpdate(plan, "libhello1");
    ASSERT_NE(lib, nullptr);
    EXPECT_EQ(lib->sourcePackage, "hello");
    EXPECT_EQ(lib->cves, hello->cves);
    EXPECT_EQ(lib->changelogNote, "");

    // Architecture: all, installed as all.
    const PlannedUpdate* common = findUpdate(plan, "common-data");
    ASSERT_NE(common, nullptr);
    EXPECT_EQ(common->architecture, "all");
    EXPECT_EQ(common->newVersion, "1.2-1");
    EXPECT_EQ(common->cves, Strings{"CVE-2024-3333"});

    const PlannedUpdate* tool = findUpdate(plan, "tool");
    ASSERT_NE(tool, nullptr);
    EXPECT_TRUE(tool->cves.empty());
    EXPECT_EQ(tool->changelogNote, "");
}

TEST_F(PatchPlanTest, PullsInNewAndNewerDependencies) {
    const PatchPlan plan = computePatchPlan(input());
    // hello 1.1-1 needs libbase >= 1.5: only the base suite has it, as an upgrade.
    const PlannedUpdate* base = findUpdate(plan, "libbase");
    ASSERT_NE(base, nullptr);
    EXPECT_EQ(base->installedVersion, "1.0-1");
    EXPECT_EQ(base->newVersion, "1.5-1");
    EXPECT_EQ(base->origin, "base");
    EXPECT_EQ(base->neededBy, Strings{"hello"});
    EXPECT_EQ(base->cves, Strings{"CVE-2024-5555"});

    Strings names;
    for (const auto& n : plan.newPackages) names.push_back(n.package);
    // In the order they were found needed: hello's, then libnew's own dependency.
    EXPECT_EQ(names, (Strings{"hello-data", "libnew", "libnew-common"}));
    const PlannedInstall* data = findInstall(plan, "hello-data");
    ASSERT_NE(data, nullptr);
    EXPECT_EQ(data->architecture, "all");
    EXPECT_EQ(data->version, "1.1-1");
    EXPECT_EQ(data->origin, "security");
    EXPECT_EQ(data->neededBy, Strings{"hello"});
    const PlannedInstall* libnew = findInstall(plan, "libnew");
    ASSERT_NE(libnew, nullptr);
    EXPECT_EQ(libnew->origin, "base");
    EXPECT_EQ(libnew->neededBy, Strings{"hello"});
    EXPECT_EQ(findInstall(plan, "libnew-common")->neededBy, Strings{"libnew"});
    // Satisfied as installed (libc6), by another update (libhello1 = 1.1-1) or by an installed
    // package's Provides (postfix's mail-transport-agent): nothing to add for those.
    EXPECT_EQ(findInstall(plan, "libc6"), nullptr);
    EXPECT_EQ(findInstall(plan, "mail-transport-agent"), nullptr);
}

TEST_F(PatchPlanTest, ReportsUnsatisfiableDependencies) {
    const PatchPlan plan = computePatchPlan(input());
    ASSERT_EQ(plan.unresolved.size(), 2u) << formatPlanText(plan);
    const UnresolvedDependency& pre = plan.unresolved[0];
    EXPECT_EQ(pre.package, "tool");
    EXPECT_EQ(pre.version, "2.0-1");
    EXPECT_EQ(pre.relation, "libversioned (>= 5.0)");
    EXPECT_NE(pre.reason.find("have libversioned up to 4.0-1, which does not satisfy"),
              std::string::npos)
        << pre.reason;
    const UnresolvedDependency& alt = plan.unresolved[1];
    EXPECT_EQ(alt.relation, "libmissing (>= 3) | libalso-missing");
    // A removed package's Provides does not count.
    EXPECT_NE(alt.reason.find("no package libmissing for amd64"), std::string::npos) << alt.reason;
    EXPECT_NE(alt.reason.find("no package libalso-missing"), std::string::npos) << alt.reason;
    const size_t hint = alt.reason.find("(a virtual package?");
    EXPECT_NE(hint, std::string::npos) << alt.reason;
    EXPECT_EQ(alt.reason.find("(a virtual package?", hint + 1), std::string::npos) << alt.reason;
    EXPECT_EQ(pre.reason.find("virtual"), std::string::npos) << pre.reason;
}

TEST_F(PatchPlanTest, WithoutABaseSuiteItsPackagesAreUnresolved) {
    const PatchPlan plan = computePatchPlan(input(false));
    EXPECT_EQ(findInstall(plan, "libnew"), nullptr);
    EXPECT_EQ(findUpdate(plan, "libbase"), nullptr);
    bool sawLibnew = false;
    for (const auto& u : plan.unresolved)
        if (u.relation == "libnew (>= 2.0)") {
            sawLibnew = true;
            EXPECT_NE(u.reason.find("no base suite was given"), std::string::npos) << u.reason;
        }
    EXPECT_TRUE(sawLibnew) << formatPlanText(plan);
}

TEST_F(PatchPlanTest, TextAndJsonForms) {
    const PatchPlan plan = computePatchPlan(input());
    const std::string text = formatPlanText(plan);
    EXPECT_NE(text.find("hello 1.0-1 → 1.1-1 (CVE-2024-1111, CVE-2024-2222, CVE-2023-0001)\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("common-data 1.0-1 → 1.2-1 (CVE-2024-3333)\n"), std::string::npos) << text;
    EXPECT_NE(text.find("libbase 1.0-1 → 1.5-1 (CVE-2024-5555, needed by hello)\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("\ntool 1.0-1 → 2.0-1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("hello-data (new) → 1.1-1 (needed by hello)\n"), std::string::npos) << text;
    EXPECT_NE(text.find("unresolved: tool 2.0-1 needs libversioned (>= 5.0): "), std::string::npos)
        << text;

    const nlohmann::json doc = planToJson(plan);
    EXPECT_EQ(doc["architecture"], "amd64");
    ASSERT_EQ(doc["updates"].size(), plan.updates.size());
    const auto& hello = doc["updates"][1];
    EXPECT_EQ(hello["package"], "hello");
    EXPECT_EQ(hello["installedVersion"], "1.0-1");
    EXPECT_EQ(hello["newVersion"], "1.1-1");
    EXPECT_EQ(hello["cves"].size(), 3u);
    EXPECT_TRUE(hello["changelogNote"].is_null());
    EXPECT_EQ(hello["debPath"], plan.updates[1].debPath);
    EXPECT_EQ(doc["newPackages"].size(), 3u);
    EXPECT_EQ(doc["unresolved"][0]["relation"], "libversioned (>= 5.0)");
}

TEST_F(PatchPlanTest, WithoutChangelogsNothingIsDownloaded) {
    PlanOptions options;
    options.readChangelogs = false;
    const PatchPlan plan = computePatchPlan(input(), options);
    const PlannedUpdate* hello = findUpdate(plan, "hello");
    ASSERT_NE(hello, nullptr);
    EXPECT_TRUE(hello->cves.empty());
    EXPECT_EQ(hello->debPath, "");
    EXPECT_FALSE(fs::exists(*scratch_ / ("cache/by-hash/sha256/" + hello->sha256)));
}

TEST_F(PatchPlanTest, NothingToUpdateLeavesTheBaseSuiteUnread) {
    PlanInput in = input();
    in.installed = parseDpkgStatus(statusParagraph("dpkg", "1.21.22", "amd64") +
                                       statusParagraph("libold", "1.0-1", "amd64") +
                                       statusParagraph("hello", "9.0-1", "amd64"),
                                   "status");
    in.provides.clear();
    int baseLoads = 0;
    auto load = in.base[0].packages;
    in.base[0].packages = [&, load]() -> const PackagesIndex& {
        ++baseLoads;
        return load();
    };
    const PatchPlan plan = computePatchPlan(in);
    EXPECT_TRUE(plan.updates.empty());
    EXPECT_TRUE(plan.empty());
    EXPECT_EQ(formatPlanText(plan), "");
    EXPECT_EQ(baseLoads, 0);
}

TEST_F(PatchPlanTest, AMissingChangelogIsANoteNotAnError) {
    // libold 3.0-1 for arm64 has no changelog; pretend the image is arm64.
    PlanInput in = input(false);
    in.installed = parseDpkgStatus(
        statusParagraph("dpkg", "1.21.22", "arm64") + statusParagraph("libold", "1.0-1", "arm64"),
        "status");
    in.architecture = "arm64";
    const PatchPlan plan = computePatchPlan(in);
    ASSERT_EQ(plan.updates.size(), 1u);
    EXPECT_EQ(plan.updates[0].newVersion, "3.0-1");
    EXPECT_NE(plan.updates[0].changelogNote.find(
                  "the package has no usr/share/doc/libold/changelog.Debian.gz"),
              std::string::npos)
        << plan.updates[0].changelogNote;
    EXPECT_NE(formatPlanText(plan).find("(changelog not read: "), std::string::npos);
}

// The dependency rules on indexes written by hand: no archive, no downloads.
class PlanRules : public ::testing::Test {
protected:
    static std::string record(const std::string& package, const std::string& version,
                              const std::string& arch, const std::string& extra = "") {
        return "Package: " + package + "\nVersion: " + version + "\nArchitecture: " + arch + "\n" +
               extra + "Filename: pool/" + package + "_" + version + "_" + arch +
               ".deb\nSize: 1\nSHA256: " + std::string(64, 'a') + "\n\n";
    }
    PatchPlan plan(const std::string& status, const std::string& security,
                   const std::string& base = "") {
        security_.addText(security, "security Packages", "main");
        base_.addText(base, "base Packages", "main");
        PlanInput in;
        in.installed = parseDpkgStatus(status, "status");
        in.provides = parseInstalledProvides(status, "status");
        in.architecture = "amd64";
        auto noDebs = [](const ingot::debian::PackageRecord&) -> std::string {
            throw ingot::Error("no downloads in these tests");
        };
        in.security.push_back(
            PlanSource{"security", [this]() -> const PackagesIndex& { return security_; }, noDebs});
        if (!base.empty())
            in.base.push_back(
                PlanSource{"base", [this]() -> const PackagesIndex& { return base_; }, noDebs});
        PlanOptions options;
        options.readChangelogs = false;
        return computePatchPlan(in, options);
    }
    PackagesIndex security_, base_;
};

TEST_F(PlanRules, VersionConstraintsAndAlternatives) {
    const std::string status = statusParagraph("app", "1.0", "amd64") +
                               statusParagraph("liba", "2.0", "amd64") +
                               statusParagraph("libb", "1.0", "amd64");
    const PatchPlan p =
        plan(status, record("app", "1.1", "amd64",
                            "Depends: liba (<< 3), liba (>> 1.5), liba (= 2.0), liba (<= 2.0), "
                            "libb (>= 2) | libc, libd (>= 1) | libe\n") +
                         record("libc", "1.0", "amd64") + record("libd", "0.5", "amd64") +
                         record("libe", "1.0", "all") + record("libe", "0.9", "all"));
    EXPECT_TRUE(p.unresolved.empty()) << formatPlanText(p);
    Strings names;
    for (const auto& n : p.newPackages) names.push_back(n.package + " " + n.version);
    // libb is too old and not in the suites: the next alternative, libc, is taken; libd is
    // there but too old, so libe, the newest (Architecture: all).
    EXPECT_EQ(names, (Strings{"libc 1.0", "libe 1.0"}));
}

TEST_F(PlanRules, UnsatisfiableConstraintsAreReported) {
    const std::string status = statusParagraph("app", "1.0", "amd64") +
                               statusParagraph("lib", "2.0", "amd64") +
                               statusParagraph("other", "1.0", "amd64");
    const PatchPlan p = plan(
        status,
        record("app", "1.1", "amd64", "Depends: lib (<< 2), other (>= 2), ghost, broken (>> )\n") +
            record("lib", "1.0", "amd64") + record("other", "1.5", "amd64"));
    ASSERT_EQ(p.unresolved.size(), 4u) << formatPlanText(p);
    EXPECT_EQ(p.unresolved[0].relation, "lib (<< 2)");
    // other is updated to 1.5 by the security suite, which is still not enough.
    EXPECT_EQ(p.unresolved[1].relation, "other (>= 2)");
    EXPECT_NE(p.unresolved[1].reason.find("have other up to 1.5"), std::string::npos)
        << p.unresolved[1].reason;
    EXPECT_EQ(p.unresolved[2].relation, "ghost");
    // A malformed relation in a signed index is reported, not fatal, and hides nothing else.
    EXPECT_EQ(p.unresolved[3].relation, "broken (>> )");
    EXPECT_NE(p.unresolved[3].reason.find("Depends of app 1.1"), std::string::npos)
        << p.unresolved[3].reason;
    ASSERT_EQ(p.updates.size(), 2u);  // app, and other 1.0 → 1.5
}

TEST_F(PlanRules, DowngradesAndArchitectureQualifiers) {
    const std::string status =
        statusParagraph("app", "1.0", "amd64") + statusParagraph("lib", "2.0", "amd64") +
        statusParagraph("python3", "3.11", "amd64", "Multi-Arch: allowed\n") +
        statusParagraph("tool", "1.0", "i386", "Multi-Arch: foreign\n");
    const PatchPlan p =
        plan(status,
             record("app", "1.1", "amd64",
                    "Depends: lib (<< 2), python3:any (>= 3.9), tool, gone:i386\n") +
                 record("gone", "1.0", "amd64"),
             record("lib", "1.0", "amd64"));
    ASSERT_EQ(p.unresolved.size(), 2u) << formatPlanText(p);
    EXPECT_EQ(p.unresolved[0].relation, "lib (<< 2)");
    EXPECT_NE(p.unresolved[0].reason.find("(a downgrade)"), std::string::npos)
        << p.unresolved[0].reason;
    // gone exists, but not for i386.
    EXPECT_EQ(p.unresolved[1].relation, "gone:i386");
    EXPECT_NE(p.unresolved[1].reason.find("no package gone for i386"), std::string::npos)
        << p.unresolved[1].reason;
}

TEST_F(PlanRules, TheInstalledVersionForAnotherArchitectureIsNoUpdate) {
    // app:i386 needs lib for i386; lib 1.0 is installed for amd64 only (not Multi-Arch), and
    // the suite's lib 1.0 is that same version.
    const std::string status = statusParagraph("dpkg", "1.21", "amd64") +
                               statusParagraph("app", "1.0", "i386") +
                               statusParagraph("lib", "1.0", "amd64");
    const PatchPlan p =
        plan(status, record("app", "1.1", "i386", "Depends: lib\n") + record("lib", "1.0", "all"));
    ASSERT_EQ(p.updates.size(), 1u) << formatPlanText(p);
    EXPECT_EQ(p.updates[0].package, "app");
    ASSERT_EQ(p.unresolved.size(), 1u) << formatPlanText(p);
    EXPECT_NE(p.unresolved[0].reason.find("lib 1.0 is installed for amd64, which cannot satisfy"),
              std::string::npos)
        << p.unresolved[0].reason;
    EXPECT_EQ(formatPlanText(p).find("app:i386 1.0 → 1.1\n"), 0u) << formatPlanText(p);
}

TEST_F(PlanRules, NewPackagesAreSharedAndVersionedProvidesCount) {
    const std::string status = statusParagraph("a", "1.0", "amd64") +
                               statusParagraph("b", "1.0", "amd64") +
                               statusParagraph("perl-base", "5.36.0-7", "amd64",
                                               "Provides: perlapi-5.36.0, libfoo (= 2.5)\n");
    const PatchPlan p =
        plan(status, record("a", "1.1", "amd64", "Depends: common, perlapi-5.36.0\n") +
                         record("b", "1.1", "amd64", "Depends: common, libfoo (>= 2)\n") +
                         record("common", "1.0", "all"));
    EXPECT_TRUE(p.unresolved.empty()) << formatPlanText(p);
    ASSERT_EQ(p.newPackages.size(), 1u);
    EXPECT_EQ(p.newPackages[0].neededBy, (Strings{"a", "b"}));
}

TEST(PlanInputs, NativeArchitectureFromDpkgThenBaseFiles) {
    auto installed = [](const std::string& status) { return parseDpkgStatus(status, "status"); };
    EXPECT_EQ(nativeArchitecture(installed(statusParagraph("base-files", "12", "arm64") +
                                           statusParagraph("dpkg", "1.21", "riscv64"))),
              "riscv64");
    EXPECT_EQ(nativeArchitecture(installed(statusParagraph("base-files", "12", "arm64"))), "arm64");
    const std::string e =
        errorOf([&] { nativeArchitecture(installed(statusParagraph("hello", "1.0", "amd64"))); },
                ingot::ExitStatus::kUsage);
    EXPECT_NE(e.find("neither dpkg nor base-files"), std::string::npos) << e;
}

TEST(PlanInputs, InstalledProvides) {
    const auto provides = parseInstalledProvides(
        statusParagraph("perl-base", "5.36.0-7", "amd64",
                        "Provides: perlapi-5.36.0,\n libfoo (= 2.5)\n") +
            statusParagraph("gone", "1", "amd64", "Provides: ghost\n", "purge ok not-installed"),
        "status");
    ASSERT_EQ(provides.size(), 2u);
    EXPECT_EQ(provides[0].name, "perlapi-5.36.0");
    EXPECT_FALSE(provides[0].version);
    EXPECT_EQ(provides[0].providedBy, "perl-base");
    EXPECT_EQ(provides[1].name, "libfoo");
    EXPECT_EQ(provides[1].version->text(), "2.5");
    for (const char* bad : {"Provides: a (>= 1)\n", "Provides: a | b\n", "Provides: A\n"}) {
        const std::string e = errorOf(
            [&] { parseInstalledProvides(statusParagraph("p", "1", "amd64", bad), "the status"); },
            ingot::ExitStatus::kUsage);
        EXPECT_NE(e.find("the status line"), std::string::npos) << e;
    }
}

}  // namespace
