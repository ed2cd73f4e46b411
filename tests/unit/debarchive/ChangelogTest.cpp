// Debian changelogs: entries newer than an installed version and the CVEs they name.
#include "ingot/debian/Changelog.h"

#include <gtest/gtest.h>

#include "ingot/core/Error.h"

using namespace ingot::debian;

namespace {

const char* kChangelog =
    "openssl (3.0.14-1~deb12u2) bookworm-security; urgency=medium\n"
    "\n"
    "  * Fix CVE-2024-5535: SSL_select_next_proto buffer overread.\n"
    "  * Fix CVE-2024-4741 (use after free) and again CVE-2024-5535.\n"
    "    Also cve-2024-2511 in lower case. Not CVE-24-1, not CVE-2024-12, not XCVE-2024-9999.\n"
    "\n"
    " -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Sun, 28 Jul 2024 11:16:05 +0200\n"
    "\n"
    "openssl (3.0.14-1~deb12u1) bookworm; urgency=medium\n"
    "\n"
    "  * Import 3.0.14.\n"
    "\n"
    " -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Sun, 30 Jun 2024 12:00:00 +0200\n"
    "\n"
    "openssl (3.0.13-1~deb12u1) bookworm-security; urgency=medium\n"
    "\n"
    "  * CVE-2023-5678, CVE-2024-0727 and CVE-2023-6237.\n"
    "\n"
    " -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Sun, 04 Feb 2024 23:38:03 +0100\n"
    "\n"
    "openssl (3.0.11-1~deb12u2) bookworm; urgency=medium\n"
    "\n"
    "  * CVE-2023-5363 (the oldest).\n"
    "\n"
    " -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Tue, 24 Oct 2023 22:08:02 +0200\n";

TEST(Changelog, ParsesEntries) {
    const auto entries = parseChangelog(kChangelog, "changelog.Debian");
    ASSERT_EQ(entries.size(), 4u);
    EXPECT_EQ(entries[0].package, "openssl");
    EXPECT_EQ(entries[0].version.text(), "3.0.14-1~deb12u2");
    EXPECT_EQ(entries[0].distributions, "bookworm-security");
    EXPECT_EQ(entries[0].options, "urgency=medium");
    EXPECT_EQ(entries[0].maintainer, "Sebastian Andrzej Siewior <sebastian@breakpoint.cc>");
    EXPECT_EQ(entries[0].date, "Sun, 28 Jul 2024 11:16:05 +0200");
    EXPECT_EQ(entries[0].changes.size(), 3u);
    EXPECT_EQ(entries[0].line, 1u);
    EXPECT_EQ(entries[2].line, 15u);
}

TEST(Changelog, ListsCvesOfEntriesNewerThanTheInstalledVersion) {
    const auto fixes =
        fixesSince(kChangelog, "changelog.Debian", Version::parse("3.0.11-1~deb12u2"));
    ASSERT_EQ(fixes.size(), 3u);
    EXPECT_EQ(fixes[0].version.text(), "3.0.14-1~deb12u2");
    EXPECT_EQ(fixes[0].cves,
              (std::vector<std::string>{"CVE-2024-5535", "CVE-2024-4741", "CVE-2024-2511"}));
    EXPECT_EQ(fixes[1].version.text(), "3.0.14-1~deb12u1");
    EXPECT_TRUE(fixes[1].cves.empty());
    EXPECT_EQ(fixes[2].cves,
              (std::vector<std::string>{"CVE-2023-5678", "CVE-2024-0727", "CVE-2023-6237"}));

    EXPECT_EQ(fixesSince(kChangelog, "c", Version::parse("3.0.14-1~deb12u1")).size(), 1u);
    EXPECT_TRUE(fixesSince(kChangelog, "c", Version::parse("3.0.14-1~deb12u2")).empty());
    EXPECT_TRUE(fixesSince(kChangelog, "c", Version::parse("3.0.14-1")).empty());
    // dpkg's order, not the text's: 3.0.13-1~deb12u1 is older than 3.0.13-1.
    EXPECT_EQ(fixesSince(kChangelog, "c", Version::parse("3.0.13-1")).size(), 2u);
    EXPECT_EQ(fixesSince(kChangelog, "c", Version::parse("0.1")).size(), 4u);
}

TEST(Changelog, FindsCveIds) {
    EXPECT_EQ(findCves("CVE-2024-1234 CVE-2021-44228, (CVE-2024-123456) CVE-2024-1234"),
              (std::vector<std::string>{"CVE-2024-1234", "CVE-2021-44228", "CVE-2024-123456"}));
    EXPECT_TRUE(
        findCves("CVE-2024- CVE-2024-123 CVE2024-1234 aCVE-2024-1234 CVE-202-1234").empty());
    EXPECT_EQ(findCves("[CVE-2024-0001]"), (std::vector<std::string>{"CVE-2024-0001"}));
    EXPECT_EQ(findCves("CVE-2024-0001"), (std::vector<std::string>{"CVE-2024-0001"}));
}

TEST(Changelog, StopsAtEditorVariablesAndAncientFormats) {
    const std::string text =
        std::string(kChangelog) + "\nOld Changelog:\nThu Jan 1 1996  Someone\n  - stuff\n";
    EXPECT_EQ(parseChangelog(text, "c").size(), 4u);
    const std::string emacs =
        std::string(kChangelog) + "\nLocal variables:\nmode: debian-changelog\nEnd:\n";
    EXPECT_EQ(parseChangelog(emacs, "c").size(), 4u);
    const std::string ancient =
        std::string(kChangelog) + "\nSun Nov 26 14:06:40 1995  Ian Jackson\n\n  * x\n";
    EXPECT_EQ(parseChangelog(ancient, "c").size(), 4u);
    const std::string comments = "# a comment\n" + std::string(kChangelog);
    EXPECT_EQ(parseChangelog(comments, "c").size(), 4u);
}

std::string errorOf(std::string_view text) {
    try {
        parseChangelog(text, "changelog.Debian");
    } catch (const ingot::Error& e) {
        EXPECT_EQ(e.status(), ingot::ExitStatus::kUsage);
        return e.what();
    }
    ADD_FAILURE() << "accepted: " << text;
    return "";
}

TEST(Changelog, RefusesMalformedChangelogsNamingTheLine) {
    const std::string header = "foo (1.0-1) unstable; urgency=low\n\n  * x\n\n";
    const std::string trailer = " -- A B <a@b.c>  Mon, 01 Jan 2024 00:00:00 +0000\n";
    EXPECT_NE(errorOf("").find("no changelog entry"), std::string::npos);
    EXPECT_NE(
        errorOf("not a header\n").find("line 1: 'not a header' is not a changelog entry header"),
        std::string::npos);
    EXPECT_NE(errorOf("  * change first\n").find("line 1: change lines outside an entry"),
              std::string::npos);
    EXPECT_NE(errorOf(header).find("the entry for 1.0-1 at line 1 has no trailer"),
              std::string::npos);
    EXPECT_NE(errorOf(header + "foo (0.9-1) unstable; urgency=low\n")
                  .find("line 5: a new entry starts, but the entry for 1.0-1"),
              std::string::npos);
    EXPECT_NE(
        errorOf(header + " -- no email  Mon, 01 Jan 2024\n").find("line 5: malformed trailer"),
        std::string::npos);
    EXPECT_NE(errorOf(header + " -- A <a@b.c>\n").find("line 5: malformed trailer"),
              std::string::npos);
    EXPECT_NE(errorOf(trailer).find("line 1: a trailer with no entry header"), std::string::npos);
    EXPECT_NE(errorOf(header + trailer + "  * stray change\n").find("line 6: change lines outside"),
              std::string::npos);
    EXPECT_NE(errorOf("foo (1.0_1) unstable; urgency=low\n").find("line 1: invalid Debian version"),
              std::string::npos);
    EXPECT_NE(errorOf("foo (1.0-1) ; urgency=low\n").find("line 1"), std::string::npos);
    EXPECT_NE(errorOf(std::string("foo (1.0-1) unstable; urgency=low\n\0", 36)).find("line 2: NUL"),
              std::string::npos);
    EXPECT_NE(errorOf(std::string(65u << 20, '\n')).find("not a changelog"), std::string::npos);
}

TEST(Changelog, AcceptsDpkgHeaderVariants) {
    const std::string text =
        "lib+foo.bar-1 (2:1.0~rc1+dfsg-1.1) unstable experimental;urgency=high, binary-only=yes\n"
        "  * x\n"
        " -- A <a@b.c>  Mon, 01 Jan 2024 00:00:00 +0000\r\n";
    const auto entries = parseChangelog(text, "c");
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].package, "lib+foo.bar-1");
    EXPECT_EQ(entries[0].version.epoch(), 2u);
    EXPECT_EQ(entries[0].distributions, "unstable experimental");
    EXPECT_EQ(entries[0].options, "urgency=high, binary-only=yes");
    EXPECT_EQ(entries[0].maintainer, "A <a@b.c>");
}

}  // namespace
