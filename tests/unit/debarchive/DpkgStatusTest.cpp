// var/lib/dpkg/status: installed packages, their versions, sources and conffiles; the host's
// own status file, where there is one, must parse as well.
#include "ingot/debian/DpkgStatus.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "ArchiveTestSupport.h"
#include "ingot/core/Error.h"

using namespace ingot::debian;

namespace {

const char* kStatus =
    "Package: base-files\n"
    "Essential: yes\n"
    "Status: install ok installed\n"
    "Priority: required\n"
    "Architecture: amd64\n"
    "Multi-Arch: foreign\n"
    "Version: 12.4+deb12u6\n"
    "Conffiles:\n"
    " /etc/debian_version 8b95cfd12aeb5f8b0b5da0b8ff1b6d8a\n"
    " /etc/dpkg/origins/debian c47b6815f67ad1aeccb0d4529bd0b990\n"
    " /etc/old file with spaces 0123456789abcdef0123456789abcdef obsolete\n"
    " /etc/gone 0123456789abcdef0123456789abcdef remove-on-upgrade\n"
    "Description: Debian base system miscellaneous files\n"
    " This package contains the basic filesystem hierarchy.\n"
    "\n"
    "Package: libssl3\n"
    "Status: hold ok installed\n"
    "Architecture: amd64\n"
    "Multi-Arch: same\n"
    "Source: openssl\n"
    "Version: 3.0.13-1~deb12u1\n"
    "\n"
    "Package: libfoo1\n"
    "Status: install ok installed\n"
    "Architecture: arm64\n"
    "Source: foo (1.2-3)\n"
    "Version: 1.2-3+b1\n"
    "\n"
    "Package: removed\n"
    "Status: deinstall ok config-files\n"
    "Architecture: amd64\n"
    "Version: 1.0\n"
    "Conffiles:\n"
    " /etc/removed.conf 0123456789abcdef0123456789abcdef\n"
    "\n"
    "Package: half\n"
    "Status: install reinstreq half-installed\n"
    "Architecture: amd64\n"
    "Version: 1.0\n"
    "\n"
    "Package: purged\n"
    "Status: purge ok not-installed\n"
    "Architecture: amd64\n";

TEST(DpkgStatus, ListsInstalledPackages) {
    const auto installed = parseDpkgStatus(kStatus, "status");
    ASSERT_EQ(installed.size(), 3u);
    const InstalledPackage& base = installed[0];
    EXPECT_EQ(base.package, "base-files");
    EXPECT_EQ(base.version.text(), "12.4+deb12u6");
    EXPECT_EQ(base.architecture, "amd64");
    EXPECT_EQ(base.source, "base-files");
    EXPECT_EQ(base.sourceVersion.text(), "12.4+deb12u6");
    EXPECT_EQ(base.multiArch, "foreign");
    EXPECT_EQ(base.status, "install ok installed");
    ASSERT_EQ(base.conffiles.size(), 4u);
    EXPECT_EQ(base.conffiles[0].path, "/etc/debian_version");
    EXPECT_EQ(base.conffiles[0].md5, "8b95cfd12aeb5f8b0b5da0b8ff1b6d8a");
    EXPECT_FALSE(base.conffiles[0].obsolete);
    EXPECT_EQ(base.conffiles[2].path, "/etc/old file with spaces");
    EXPECT_TRUE(base.conffiles[2].obsolete);
    EXPECT_FALSE(base.conffiles[2].removeOnUpgrade);
    EXPECT_TRUE(base.conffiles[3].removeOnUpgrade);

    EXPECT_EQ(installed[1].package, "libssl3");
    EXPECT_EQ(installed[1].status, "hold ok installed");
    EXPECT_EQ(installed[1].source, "openssl");
    EXPECT_EQ(installed[1].sourceVersion.text(), "3.0.13-1~deb12u1");
    EXPECT_EQ(installed[2].source, "foo");
    EXPECT_EQ(installed[2].sourceVersion.text(), "1.2-3");
    EXPECT_EQ(installed[2].version.text(), "1.2-3+b1");
}

std::string errorOf(std::string_view text) {
    try {
        parseDpkgStatus(text, "status");
    } catch (const ingot::Error& e) {
        EXPECT_EQ(e.status(), ingot::ExitStatus::kUsage);
        return e.what();
    }
    ADD_FAILURE() << "accepted: " << text;
    return "";
}

TEST(DpkgStatus, RefusesMalformedParagraphsNamingTheLine) {
    EXPECT_NE(errorOf("Status: install ok installed\nVersion: 1\n")
                  .find("line 1: a paragraph with no Package"),
              std::string::npos);
    EXPECT_NE(errorOf("Package: a\nVersion: 1\n").find("package a has no Status"),
              std::string::npos);
    EXPECT_NE(
        errorOf("Package: a\nStatus: installed\n").find("line 2: package a: Status 'installed'"),
        std::string::npos);
    EXPECT_NE(errorOf("Package: a\nStatus: install ok installed\n")
                  .find("is installed but has no Version"),
              std::string::npos);
    EXPECT_NE(errorOf("Package: a\nStatus: install ok installed\nVersion: x1\n")
                  .find("line 3: package a: invalid Debian version 'x1'"),
              std::string::npos);
    EXPECT_NE(errorOf("Package: a\nStatus: install ok installed\nVersion: 1\nConffiles:\n /etc/a\n")
                  .find("line 5: package a: a Conffiles line"),
              std::string::npos);
    EXPECT_NE(
        errorOf("Package: a\nStatus: install ok installed\nVersion: 1\nConffiles:\n etc/a md5\n")
            .find("line 5"),
        std::string::npos);
    EXPECT_NE(errorOf("Package: a\nStatus: install ok installed\nVersion: 1\nSource: b (2\n")
                  .find("line 4: package a: Source 'b (2' lacks its ')'"),
              std::string::npos);
    EXPECT_NE(errorOf("Package: a\nno colon\n").find("status line 2: no ':'"), std::string::npos);
}

TEST(DpkgStatus, ParsesTheHostsStatusFile) {
    const std::string path = "/var/lib/dpkg/status";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "no dpkg status file on this host";
    const auto installed = parseDpkgStatus(ingot::debian::test::readFile(path), path);
    EXPECT_FALSE(installed.empty());
    bool dpkg = false;
    for (const auto& p : installed) dpkg = dpkg || p.package == "dpkg";
    EXPECT_TRUE(dpkg);
}

}  // namespace
