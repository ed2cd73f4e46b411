// The host's apt sources in both formats, good and hostile, and the security and base entries
// `ingot patch` takes from them.
#include "ingot/patch/AptSources.h"

#include <gtest/gtest.h>

#include "ArchiveTestSupport.h"
#include "ingot/core/Error.h"

using namespace ingot::patch;
using ingot::ExitStatus;
using ingot::debian::test::errorOf;
using ingot::debian::test::ScratchDir;
using ingot::debian::test::writeFile;

namespace {

using Strings = std::vector<std::string>;

TEST(AptSources, OneLineFormat) {
    const auto s = parseOneLineSources(
        "# the main archive\n"
        "deb http://mirror.example/debian bookworm main contrib   # trailing comment\n"
        "deb-src http://mirror.example/debian bookworm main\n"
        "\n"
        "   deb [ arch=amd64,arm64 signed-by=/etc/keys/sec.gpg trusted=yes ] "
        "https://mirror.example/debian-security bookworm-security main non-free-firmware\r\n"
        "deb [arch=amd64] file:///srv/flat ./\n",
        "sources.list");
    ASSERT_EQ(s.size(), 3u);
    EXPECT_EQ(s[0].uri, "http://mirror.example/debian");
    EXPECT_EQ(s[0].suite, "bookworm");
    EXPECT_EQ(s[0].components, (Strings{"main", "contrib"}));
    EXPECT_EQ(s[0].signedBy, "");
    EXPECT_TRUE(s[0].architectures.empty());
    EXPECT_EQ(s[0].origin, "sources.list line 2");
    EXPECT_EQ(s[1].uri, "https://mirror.example/debian-security");
    EXPECT_EQ(s[1].suite, "bookworm-security");
    EXPECT_EQ(s[1].components, (Strings{"main", "non-free-firmware"}));
    EXPECT_EQ(s[1].signedBy, "/etc/keys/sec.gpg");
    EXPECT_EQ(s[1].architectures, (Strings{"amd64", "arm64"}));
    EXPECT_EQ(s[1].origin, "sources.list line 5");
    EXPECT_EQ(s[2].suite, "./");
    EXPECT_TRUE(s[2].components.empty());
}

TEST(AptSources, Deb822Format) {
    const auto s = parseDeb822Sources(
        "# comments are allowed here\n"
        "Types: deb deb-src\n"
        "URIs: http://mirror.example/debian https://other.example/debian\n"
        "Suites: bookworm bookworm-updates\n"
        "Components: main\n"
        " contrib\n"
        "signed-by: /usr/share/keyrings/a.gpg\n"
        "\n"
        "Types: deb\n"
        "# a comment inside a paragraph\n"
        "URIs: http://mirror.example/debian-security\n"
        "Suites: bookworm-security\n"
        "Components: main\n"
        "Architectures: amd64\n"
        "Enabled: yes\n"
        "\n"
        "Types: deb\n"
        "URIs: http://disabled.example/debian-security\n"
        "Suites: trixie-security\n"
        "Components: main\n"
        "Enabled: no\n"
        "\n"
        "Types: deb-src\n"
        "URIs: http://mirror.example/debian\n"
        "Suites: bookworm\n"
        "Components: main\n",
        "debian.sources");
    ASSERT_EQ(s.size(), 5u);
    EXPECT_EQ(s[0].uri, "http://mirror.example/debian");
    EXPECT_EQ(s[0].suite, "bookworm");
    EXPECT_EQ(s[1].suite, "bookworm-updates");
    EXPECT_EQ(s[2].uri, "https://other.example/debian");
    EXPECT_EQ(s[3].suite, "bookworm-updates");
    EXPECT_EQ(s[0].components, (Strings{"main", "contrib"}));
    EXPECT_EQ(s[0].signedBy, "/usr/share/keyrings/a.gpg");
    EXPECT_EQ(s[0].origin, "debian.sources line 2");
    EXPECT_EQ(s[4].suite, "bookworm-security");
    EXPECT_EQ(s[4].architectures, Strings{"amd64"});
    EXPECT_EQ(s[4].origin, "debian.sources line 9");
}

TEST(AptSources, HostileOneLineEntries) {
    struct Case {
        const char* text;
        const char* error;
    };
    const Case cases[] = {
        {"rpm http://x.example/ a b\n", "entry type 'rpm' is not 'deb' or 'deb-src'"},
        {"deb [arch=amd64 http://x.example/ a b\n", "option list '[' is not closed"},
        {"deb [amd64] http://x.example/ a b\n", "option 'amd64' is not 'name=value'"},
        {"deb [=x] http://x.example/ a b\n", "option '=x' is not 'name=value'"},
        {"deb\n", "entry has no URI"},
        {"deb http://x.example/\n", "entry has no suite"},
        {"deb http://x.example/ a-security\n", "suite 'a-security' has no components"},
        {"deb http://x.example/ flat/ main\n", "ends in '/' (a flat repository)"},
        {"deb http://x.example/\x1b[2J a-security main\n", "has a control character"},
        {"deb [signed-by=/k\x07.gpg] http://x.example/ a main\n", "has a control character"},
    };
    for (const Case& c : cases) {
        const std::string e =
            errorOf([&] { parseOneLineSources(c.text, "sources.list"); }, ExitStatus::kUsage);
        EXPECT_NE(e.find("sources.list line 1: "), std::string::npos) << e;
        EXPECT_NE(e.find(c.error), std::string::npos) << c.text << " gave " << e;
        // Nothing from the file reaches a message unescaped.
        EXPECT_EQ(e.find('\x1b'), std::string::npos);
        EXPECT_EQ(e.find('\x07'), std::string::npos);
    }
    const std::string nul = errorOf(
        [] { parseOneLineSources(std::string("deb http://x.example/ a\0 main\n", 30), "s"); },
        ExitStatus::kUsage);
    EXPECT_NE(nul.find("NUL byte"), std::string::npos) << nul;
}

TEST(AptSources, HostileDeb822Entries) {
    struct Case {
        std::string text;
        const char* error;
    };
    const std::string rest = "URIs: http://x.example/\nSuites: a-security\nComponents: main\n";
    const Case cases[] = {
        {rest, "the paragraph has no Types"},
        {"Types: deb rpm\n" + rest, "type 'rpm' is not 'deb' or 'deb-src'"},
        {"Types: deb\nSuites: a-security\nComponents: main\n", "the paragraph has no URIs"},
        {"Types: deb\nURIs: http://x.example/\nComponents: main\n", "the paragraph has no Suites"},
        {"Types: deb\nURIs: http://x.example/\nSuites: a-security\n", "has no components"},
        {"Types: deb\n" + rest + "Enabled: maybe\n", "Enabled is 'maybe'"},
        {"Types: deb\n" + rest + "Types: deb\n", "appears twice"},
        {"Types: deb\nURIs: http://x.example/\x1b\nSuites: a\nComponents: main\n",
         "has a control character"},
        {"Types: deb\n" + rest + "no colon here\n", "no ':'"},
        {std::string("Types: deb\0\n", 12) + rest, "NUL byte"},
    };
    for (const Case& c : cases) {
        const std::string e =
            errorOf([&] { parseDeb822Sources(c.text, "x.sources"); }, ExitStatus::kUsage);
        EXPECT_NE(e.find("x.sources line "), std::string::npos) << e;
        EXPECT_NE(e.find(c.error), std::string::npos) << c.text << " gave " << e;
    }
}

TEST(AptSources, ReadsADirectoryInAptsOrder) {
    ScratchDir dir;
    writeFile(dir / "sources.list", "deb http://m.example/debian bookworm main\n");
    writeFile(dir / "sources.list.d/b.sources",
              "Types: deb\nURIs: http://m.example/debian-security\nSuites: bookworm-security\n"
              "Components: main\n");
    writeFile(dir / "sources.list.d/a.list",
              "deb http://a.example/debian-security "
              "bookworm-security main\n");
    // Names apt ignores, and would choke on.
    for (const char* ignored : {"c.list.save", "d.list~", "e f.list", "old.sources.bak", ".list"})
        writeFile(dir / ("sources.list.d/" + std::string(ignored)), "garbage\n");
    std::filesystem::create_directories(dir / "sources.list.d/dir.list");
    const auto s = readAptSources(dir.path());
    ASSERT_EQ(s.size(), 3u);
    EXPECT_EQ(s[0].origin, dir / "sources.list line 1");
    EXPECT_EQ(s[1].uri, "http://a.example/debian-security");
    EXPECT_EQ(s[1].origin, dir / "sources.list.d/a.list line 1");
    EXPECT_EQ(s[2].origin, dir / "sources.list.d/b.sources line 1");

    ScratchDir empty;
    EXPECT_TRUE(readAptSources(empty.path()).empty());
    EXPECT_TRUE(readAptSources(empty / "missing").empty());
}

TEST(AptSources, RefusesHugeFiles) {
    ScratchDir dir;
    writeFile(dir / "sources.list.d/big.list", std::string((1 << 20) + 1, '#'));
    const std::string e = errorOf([&] { readAptSources(dir.path()); }, ExitStatus::kUsage);
    EXPECT_NE(e.find("big.list"), std::string::npos) << e;
    EXPECT_NE(e.find("is more than the 1048576"), std::string::npos) << e;
}

TEST(AptSources, SecurityEntriesAreCheckedAndMerged) {
    auto entries = parseOneLineSources(
        "deb http://m.example/debian bookworm main\n"
        "deb http://m.example/debian-security/ bookworm-security main\n"
        "deb http://m.example/debian-security bookworm-security contrib main\n"
        "deb [signed-by=/k/other.gpg] http://m.example/debian-security bookworm-security main\n"
        "deb ftp://old.example/debian bookworm-updates main\n"
        "deb http://m.example/debian flat/\n",
        "sources.list");
    const auto security = securitySources(entries);
    ASSERT_EQ(security.size(), 2u);
    EXPECT_EQ(security[0].uri, "http://m.example/debian-security");
    EXPECT_EQ(security[0].suite, "bookworm-security");
    EXPECT_EQ(security[0].components, (Strings{"main", "contrib"}));
    EXPECT_EQ(security[0].signedBy, kDefaultKeyring);
    EXPECT_EQ(security[1].signedBy, "/k/other.gpg");

    const auto base = baseSources(entries, security);
    ASSERT_EQ(base.size(), 1u);
    EXPECT_EQ(base[0].suite, "bookworm");
    EXPECT_EQ(base[0].signedBy, kDefaultKeyring);

    EXPECT_FALSE(isSecuritySuite("-security"));
    EXPECT_FALSE(isSecuritySuite("bookworm-security/"));
    EXPECT_FALSE(isSecuritySuite("bookworm/updates"));
    EXPECT_TRUE(isSecuritySuite("stable-security"));
}

TEST(AptSources, UnusableSecurityEntriesAreRefused) {
    struct Case {
        std::string text;
        const char* error;
    };
    const std::string entry = " http://m.example/s bookworm-security main\n";
    const Case cases[] = {
        {"deb cdrom:/media/ bookworm-security main\n", "is not http://, https:// or file://"},
        {"deb mirror+http://m.example/list bookworm-security main\n",
         "is not http://, https:// or file://"},
        {"deb [signed-by=ABCDEF0123456789ABCDEF0123456789ABCDEF01]" + entry,
         "is not an absolute keyring path"},
        {"deb [signed-by=/a.gpg,/b.gpg]" + entry, "names several keyrings or fingerprints"},
        {"deb [signed-by=keys/a.gpg]" + entry, "is not an absolute keyring path"},
    };
    for (const Case& c : cases) {
        const std::string e =
            errorOf([&] { securitySources(parseOneLineSources(c.text, "s")); }, ExitStatus::kUsage);
        EXPECT_NE(e.find("s line 1: "), std::string::npos) << e;
        EXPECT_NE(e.find(c.error), std::string::npos) << c.text << " gave " << e;
    }
    const std::string inlineKey = errorOf(
        [] {
            securitySources(parseDeb822Sources(
                "Types: deb\nURIs: http://m.example/s\nSuites: bookworm-security\n"
                "Components: main\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n "
                "mDMEZ\n -----END PGP PUBLIC KEY BLOCK-----\n",
                "s.sources"));
        },
        ExitStatus::kUsage);
    EXPECT_NE(inlineKey.find("s.sources line 1: Signed-By holds an inline key block"),
              std::string::npos)
        << inlineKey;
    // The same problems in an entry that is only a base-suite fallback skip it instead.
    EXPECT_TRUE(
        baseSources(parseOneLineSources("deb cdrom:/media/ bookworm main\n", "s"),
                    parseOneLineSources("deb http://m.example/ bookworm-security main\n", "s"))
            .empty());
}

}  // namespace
