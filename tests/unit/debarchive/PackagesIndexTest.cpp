// Packages indexes: hash checks against the Release entry, xz through libarchive with a cap,
// records and the newest-version index, and hostile paragraphs.
#include "ingot/debian/PackagesIndex.h"

#include <gtest/gtest.h>

#include "ArchiveTestSupport.h"
#include "ingot/core/Error.h"
#include "ingot/core/Sha256.h"

using namespace ingot::debian;
using namespace ingot::debian::test;

namespace {

const std::string kSha(64, 'b');

std::string stanza(const std::string& package, const std::string& version,
                   const std::string& arch = "amd64", const std::string& extra = "") {
    return "Package: " + package + "\nVersion: " + version + "\nArchitecture: " + arch +
           "\nMaintainer: Someone <someone@example.org>\n" + extra + "Filename: pool/main/" +
           package.substr(0, 1) + "/" + package + "/" + package + "_" + version + "_" + arch +
           ".deb\nSize: 1234\nSHA256: " + kSha + "\nDescription: test\n more\n\n";
}

std::string xz(const std::string& text) {
    ScratchDir dir;
    writeFile(dir / "Packages", text);
    run({"xz", "--keep", "--format=xz", dir / "Packages"});
    return readFile(dir / "Packages.xz");
}

TEST(PackagesIndex, ParsesRecords) {
    PackagesIndex index;
    index.addText(stanza("libssl3", "3.0.13-1~deb12u1", "amd64",
                         "Multi-Arch: same\nSource: openssl (3.0.13-1~deb12u1)\n"
                         "Depends: libc6 (>= 2.34)\nPre-Depends: dpkg (>= 1.17)\n") +
                      stanza("hello", "2.10-3", "amd64", "Source: hello\n") +
                      stanza("tzdata", "2024a-0+deb12u1", "all"),
                  "Packages", "main");
    ASSERT_EQ(index.records().size(), 3u);
    const PackageRecord& ssl = index.records()[0];
    EXPECT_EQ(ssl.package, "libssl3");
    EXPECT_EQ(ssl.version.text(), "3.0.13-1~deb12u1");
    EXPECT_EQ(ssl.architecture, "amd64");
    EXPECT_EQ(ssl.filename, "pool/main/l/libssl3/libssl3_3.0.13-1~deb12u1_amd64.deb");
    EXPECT_EQ(ssl.size, 1234u);
    EXPECT_EQ(ssl.sha256, kSha);
    EXPECT_EQ(ssl.depends, "libc6 (>= 2.34)");
    EXPECT_EQ(ssl.preDepends, "dpkg (>= 1.17)");
    EXPECT_EQ(ssl.source, "openssl");
    EXPECT_EQ(ssl.sourceVersion.text(), "3.0.13-1~deb12u1");
    EXPECT_EQ(ssl.multiArch, "same");
    EXPECT_EQ(ssl.component, "main");
    EXPECT_EQ(index.records()[1].source, "hello");
    EXPECT_EQ(index.records()[1].sourceVersion.text(), "2.10-3");
    EXPECT_EQ(index.records()[2].source, "tzdata");
    EXPECT_EQ(index.records()[2].multiArch, "");
}

TEST(PackagesIndex, SourceVersionDiffersForBinNmus) {
    PackagesIndex index;
    index.addText(stanza("libfoo1", "1.2-3+b1", "amd64", "Source: foo (1.2-3)\n"), "Packages",
                  "main");
    EXPECT_EQ(index.records()[0].source, "foo");
    EXPECT_EQ(index.records()[0].sourceVersion.text(), "1.2-3");
}

TEST(PackagesIndex, IndexesTheNewestVersionPerPackageAndArchitecture) {
    PackagesIndex index;
    index.addText(stanza("hello", "2.10-2") + stanza("hello", "2.10-10") +
                      stanza("hello", "2.10-3") + stanza("hello", "3.0~rc1-1", "arm64") +
                      stanza("hello", "1:1.0-1", "arm64") + stanza("data", "1.0", "all"),
                  "Packages", "main");
    index.addText(stanza("hello", "2.10-10+deb12u1"), "Packages of security", "updates");
    ASSERT_NE(index.newest("hello", "amd64"), nullptr);
    EXPECT_EQ(index.newest("hello", "amd64")->version.text(), "2.10-10+deb12u1");
    EXPECT_EQ(index.newest("hello", "amd64")->component, "updates");
    EXPECT_EQ(index.newest("hello", "arm64")->version.text(), "1:1.0-1");
    EXPECT_EQ(index.newest("hello", "i386"), nullptr);
    EXPECT_EQ(index.newest("data", "amd64"), nullptr);
    ASSERT_NE(index.newestFor("data", "amd64"), nullptr);
    EXPECT_EQ(index.newestFor("data", "amd64")->architecture, "all");
    EXPECT_EQ(index.newestFor("hello", "amd64")->architecture, "amd64");
    EXPECT_EQ(index.newest("absent", "amd64"), nullptr);
}

TEST(PackagesIndex, RefusesMalformedRecordsNamingTheLine) {
    struct Bad {
        std::string text;
        std::string expected;
    };
    const std::string good = stanza("ok", "1.0");
    auto without = [](std::string s, const std::string& field) {
        const size_t at = s.find(field + ":");
        return s.erase(at, s.find('\n', at) + 1 - at);
    };
    auto replaced = [](std::string s, const std::string& from, const std::string& to) {
        return s.replace(s.find(from), from.size(), to);
    };
    const Bad cases[] = {
        {without(good, "Package"), "line 1: the paragraph has no Package field"},
        {good + without(stanza("x", "1.0"), "Version"),
         "line 11: the paragraph for x has no Version"},
        {without(good, "SHA256"), "no SHA256 field"},
        {without(good, "Size"), "no Size field"},
        {without(good, "Filename"), "no Filename field"},
        {without(good, "Architecture"), "no Architecture field"},
        {replaced(good, "Version: 1.0", "Version: 1.0 beta"),
         "line 2: package ok: invalid Debian version"},
        {replaced(good, "Size: 1234", "Size: 12x"), "line 6: package ok: Size is not a number"},
        {replaced(good, "Size: 1234", "Size: 99999999999999999999999"), "Size is not a number"},
        {replaced(good, kSha, kSha.substr(2)), "SHA256 is not 64"},
        {replaced(good, "Filename: pool/", "Filename: ../../../etc/"), "is not a relative path"},
        {replaced(good, "Filename: pool/", "Filename: /pool/"), "is not a relative path"},
        {replaced(good, "Package: ok", "Package: ../ok"), "is not a package name"},
        {replaced(good, "Architecture: amd64", "Architecture: amd64/../x"),
         "is not an architecture"},
        {replaced(good, "Description", "Source: foo (1.0\nDescription"), "lacks its ')'"},
        {replaced(good, "Description", "Source: foo (1..0 ~)\nDescription"),
         "invalid Debian version"},
        {replaced(good, "Description", "# comment\nDescription"), "comments are not allowed"},
        {std::string("Package: a\nVersion: 1\0\n", 22), "NUL byte"},
    };
    for (const Bad& b : cases) {
        PackagesIndex index;
        const std::string e =
            errorOf([&] { index.addText(b.text, "Packages", "main"); }, ingot::ExitStatus::kUsage);
        EXPECT_NE(e.find("Packages line"), std::string::npos) << e;
        EXPECT_NE(e.find(b.expected), std::string::npos) << e;
    }
}

TEST(PackagesIndex, ChecksCompressedBytesAgainstTheRelease) {
    if (!haveTool("xz")) GTEST_SKIP() << "xz is not installed";
    const std::string text = stanza("hello", "2.10-3") + stanza("hello", "2.10-4");
    const std::string compressed = xz(text);
    const ReleaseFile entry{"main/binary-amd64/Packages.xz", compressed.size(),
                            ingot::toHex(ingot::sha256(compressed))};
    PackagesIndex index;
    index.addCompressed(compressed, entry, "main");
    EXPECT_EQ(index.records().size(), 2u);
    EXPECT_EQ(index.newest("hello", "amd64")->version.text(), "2.10-4");

    std::string flipped = compressed;
    flipped[flipped.size() / 2] ^= 1;
    std::string e = errorOf([&] { PackagesIndex().addCompressed(flipped, entry, "main"); },
                            ingot::ExitStatus::kVerification);
    EXPECT_NE(e.find("main/binary-amd64/Packages.xz has sha256"), std::string::npos) << e;
    EXPECT_NE(e.find("but the signed Release says " + entry.sha256), std::string::npos) << e;
    e = errorOf([&] { PackagesIndex().addCompressed(compressed + "x", entry, "main"); },
                ingot::ExitStatus::kVerification);
    EXPECT_NE(e.find("bytes, but the signed Release says " + std::to_string(compressed.size())),
              std::string::npos)
        << e;
}

TEST(PackagesIndex, DecompressionRefusesWhatIsNotXzAndCapsTheSize) {
    if (!haveTool("xz")) GTEST_SKIP() << "xz is not installed";
    std::string e = errorOf([] { decompressXz("Package: plain text\n", "Packages.xz"); },
                            ingot::ExitStatus::kUsage);
    EXPECT_NE(e.find("Packages.xz"), std::string::npos) << e;

    const std::string compressed = xz(std::string(4u << 20, 'x'));
    EXPECT_LT(compressed.size(), 4096u);
    EXPECT_EQ(decompressXz(compressed, "bomb").size(), 4u << 20);
    e = errorOf([&] { decompressXz(compressed, "bomb", 1u << 20); }, ingot::ExitStatus::kUsage);
    EXPECT_NE(e.find("bomb: decompresses to more than 1048576 bytes"), std::string::npos) << e;

    std::string corrupt = xz(stanza("a", "1") + stanza("b", "2"));
    corrupt[corrupt.size() / 2] ^= 0x55;
    errorOf([&] { decompressXz(corrupt, "corrupt"); }, ingot::ExitStatus::kUsage);
    errorOf([&] { decompressXz(compressed.substr(0, compressed.size() / 2), "cut"); },
            ingot::ExitStatus::kUsage);
    errorOf([] { decompressXz("", "empty"); }, ingot::ExitStatus::kUsage);
}

// A suite with nothing in it for an architecture ships an xz stream of nothing: an empty
// index, not an error (found by the rollout test's first night).
TEST(PackagesIndex, AnEmptyIndexIsEmpty) {
    if (!haveTool("xz")) GTEST_SKIP() << "xz is not installed";
    EXPECT_EQ(decompressXz(xz(""), "Packages.xz"), "");
    const std::string compressed = xz("");
    const ReleaseFile entry{"main/binary-amd64/Packages.xz", compressed.size(),
                            ingot::toHex(ingot::sha256(compressed))};
    PackagesIndex index;
    index.addCompressed(compressed, entry, "main");
    EXPECT_TRUE(index.records().empty());
}

}  // namespace
