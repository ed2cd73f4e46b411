// Release parsing and InRelease verification through gpgv, with throwaway keys: each way a
// signature or a Release can be wrong is refused with its own message.
#include "ingot/debian/Release.h"

#include <gtest/gtest.h>

#include <memory>

#include "ArchiveTestSupport.h"
#include "ingot/core/Error.h"

using namespace ingot::debian;
using namespace ingot::debian::test;

namespace {

const std::string kHash1(64, 'a');
const std::string kHash2 = std::string(63, '0') + "f";

std::string releaseText(const std::string& extra = "",
                        const std::string& date = "Sat, 10 Aug 2024 09:13:09 UTC") {
    return "Origin: Debian\n"
           "Label: Debian\n"
           "Suite: stable\n"
           "Version: 12.6\n"
           "Codename: bookworm\n"
           "Date: " +
           date + "\n" + extra +
           "Acquire-By-Hash: yes\n"
           "Architectures: all amd64 arm64\n"
           "Components: main contrib non-free-firmware\n"
           "Description: Debian 12.6 Released 29 June 2024\n"
           "MD5Sum:\n"
           " 0123456789abcdef0123456789abcdef 100 main/binary-amd64/Packages.xz\n"
           "SHA256:\n"
           " " +
           kHash1 +
           "   1234 main/binary-amd64/Packages.xz\n"
           " " +
           kHash2 + " 99 contrib/binary-amd64/Packages\n";
}

TEST(Release, ParsesTheFieldsAndTheSha256List) {
    const Release r =
        parseRelease(releaseText("Valid-Until: Sat, 17 Aug 2024 09:13:09 UTC\n"), "InRelease");
    EXPECT_EQ(r.origin, "Debian");
    EXPECT_EQ(r.suite, "stable");
    EXPECT_EQ(r.codename, "bookworm");
    EXPECT_EQ(r.version, "12.6");
    EXPECT_EQ(r.dateSeconds, 1723281189);
    ASSERT_TRUE(r.validUntilSeconds.has_value());
    EXPECT_EQ(*r.validUntilSeconds, 1723281189 + 7 * 86400);
    EXPECT_EQ(r.components, (std::vector<std::string>{"main", "contrib", "non-free-firmware"}));
    EXPECT_EQ(r.architectures, (std::vector<std::string>{"all", "amd64", "arm64"}));
    EXPECT_TRUE(r.acquireByHash);
    ASSERT_EQ(r.sha256.size(), 2u);
    EXPECT_EQ(r.sha256[0].path, "main/binary-amd64/Packages.xz");
    EXPECT_EQ(r.sha256[0].size, 1234u);
    EXPECT_EQ(r.sha256[0].sha256, kHash1);
    ASSERT_NE(r.find("contrib/binary-amd64/Packages"), nullptr);
    EXPECT_EQ(r.find("contrib/binary-amd64/Packages")->size, 99u);
    EXPECT_EQ(r.find("main/binary-amd64/Packages"), nullptr);
}

TEST(Release, ParsesDatesInTheirZones) {
    EXPECT_EQ(parseReleaseDate("Thu, 01 Jan 1970 00:00:00 UTC"), 0);
    EXPECT_EQ(parseReleaseDate("01 Jan 1970 00:00:00 GMT"), 0);
    EXPECT_EQ(parseReleaseDate("Thu, 1 Jan 1970 01:00:00 +0100"), 0);
    EXPECT_EQ(parseReleaseDate("Wed, 31 Dec 1969 23:30:00 -0030"), 0);
    EXPECT_EQ(parseReleaseDate("Tue, 29 Feb 2028 12:00:00 Z"), 1835438400);
    EXPECT_FALSE(parseReleaseDate("").has_value());
    EXPECT_FALSE(parseReleaseDate("2024-08-10T09:13:09Z").has_value());
    EXPECT_FALSE(parseReleaseDate("Sat, 10 Aug 2024 09:13:09 CEST").has_value());
    EXPECT_FALSE(parseReleaseDate("Sat, 10 Foo 2024 09:13:09 UTC").has_value());
    EXPECT_FALSE(parseReleaseDate("Sat, 10 Aug 2024 25:13:09 UTC").has_value());
    EXPECT_FALSE(parseReleaseDate("Sat, 10 Aug 24 09:13:09 UTC").has_value());
}

TEST(Release, RefusesAReleaseWithoutSha256) {
    std::string text = releaseText();
    text = text.substr(0, text.find("SHA256:"));
    const std::string e =
        errorOf([&] { parseRelease(text, "InRelease"); }, ingot::ExitStatus::kVerification);
    EXPECT_NE(e.find("no SHA256 section"), std::string::npos) << e;
    const std::string empty = errorOf([&] { parseRelease(text + "SHA256:\n", "InRelease"); },
                                      ingot::ExitStatus::kVerification);
    EXPECT_NE(empty.find("lists no files"), std::string::npos) << empty;
}

TEST(Release, RefusesMalformedSha256Lines) {
    const std::string base = releaseText().substr(0, releaseText().find("SHA256:"));
    const std::string cases[] = {
        " " + kHash1 + " 12\n",                                    // no path
        " " + kHash1.substr(1) + " 12 main/x\n",                   // short hash
        " " + std::string(64, 'A') + " 12 main/x\n",               // upper case
        " " + kHash1 + " -12 main/x\n",                            // negative size
        " " + kHash1 + " 12 ../../etc/passwd\n",                   // escapes dists/SUITE
        " " + kHash1 + " 12 /etc/passwd\n",                        // absolute
        " " + kHash1 + " 12 main/x\n " + kHash2 + " 13 main/x\n",  // listed twice
    };
    for (const auto& lines : cases) {
        const std::string e = errorOf([&] { parseRelease(base + "SHA256:\n" + lines, "R"); },
                                      ingot::ExitStatus::kVerification);
        // Line 13 is "SHA256:", the bad entry is the first one, or the second when repeated.
        const bool repeated = e.find("twice") != std::string::npos;
        EXPECT_NE(e.find(repeated ? "R line 15: " : "R line 14: "), std::string::npos) << e;
    }
}

TEST(Release, RefusesOtherMalformedReleases) {
    EXPECT_NE(errorOf([] { parseRelease("", "R"); }, ingot::ExitStatus::kUsage).find("empty"),
              std::string::npos);
    EXPECT_NE(errorOf([] { parseRelease(releaseText() + "\nSuite: other\n", "R"); },
                      ingot::ExitStatus::kUsage)
                  .find("one paragraph"),
              std::string::npos);
    EXPECT_NE(
        errorOf([] { parseRelease(releaseText("", "yesterday"), "R"); }, ingot::ExitStatus::kUsage)
            .find("Date 'yesterday' is not an RFC 2822 date"),
        std::string::npos);
    EXPECT_NE(errorOf([] { parseRelease(releaseText("Valid-Until: soon\n"), "R"); },
                      ingot::ExitStatus::kUsage)
                  .find("Valid-Until"),
              std::string::npos);
    std::string noDate = releaseText();
    noDate.erase(noDate.find("Date:"),
                 noDate.find('\n', noDate.find("Date:")) + 1 - noDate.find("Date:"));
    EXPECT_NE(
        errorOf([&] { parseRelease(noDate, "R"); }, ingot::ExitStatus::kUsage).find("no Date"),
        std::string::npos);
    EXPECT_NE(
        errorOf([] { parseRelease("Date: Sat, 10 Aug 2024 09:13:09 UTC\nSHA256:\n x\n", "R"); },
                ingot::ExitStatus::kUsage)
            .find("neither a Suite nor a Codename"),
        std::string::npos);
}

// Signed files: one GnuPG home with the archive's key and a stranger's, a keyring with only the
// archive's key.
class ReleaseSignature : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!haveTool("gpg") || !haveTool("gpgv")) return;
        dir_ = new ScratchDir();
        gnupg_ = new TestGnupg(*dir_ / "gnupg");
        gnupg_->addKey("ingot archive key");
        gnupg_->addKey("ingot stranger");
        gnupg_->exportKeyring("ingot archive key", keyring());
    }
    static void TearDownTestSuite() {
        delete gnupg_;
        delete dir_;
        gnupg_ = nullptr;
        dir_ = nullptr;
    }
    void SetUp() override {
        if (!gnupg_) GTEST_SKIP() << "gpg or gpgv is not installed";
    }
    static std::string keyring() { return *dir_ / "archive.gpg"; }

    // Clearsigns `text` by `signers` and returns the InRelease path.
    std::string signedFile(const std::string& text, const std::vector<std::string>& signers,
                           const std::string& name = "InRelease") {
        writeFile(*dir_ / "Release", text);
        const std::string out = *dir_ / name;
        gnupg_->clearsign(signers, *dir_ / "Release", out);
        return out;
    }

    static ScratchDir* dir_;
    static TestGnupg* gnupg_;
};

ScratchDir* ReleaseSignature::dir_ = nullptr;
TestGnupg* ReleaseSignature::gnupg_ = nullptr;

TEST_F(ReleaseSignature, AcceptsAGoodSignatureAndParsesOnlyWhatGpgvVerified) {
    const std::string path = signedFile(releaseText(), {"ingot archive key"});
    const Release r = verifyInRelease(path, {keyring(), false, 0});
    EXPECT_EQ(r.codename, "bookworm");
    EXPECT_EQ(r.sha256.size(), 2u);
    EXPECT_EQ(verifyClearsigned(path, keyring()), releaseText());
}

TEST_F(ReleaseSignature, RefusesATamperedFile) {
    std::string bytes = readFile(signedFile(releaseText(), {"ingot archive key"}));
    bytes.replace(bytes.find("   1234 "), 8, "   1235 ");
    writeFile(*dir_ / "Tampered", bytes);
    const std::string e = errorOf(
        [&] {
            verifyInRelease(*dir_ / "Tampered", {keyring(), false, 0});
        },
        ingot::ExitStatus::kVerification);
    EXPECT_NE(e.find("bad signature"), std::string::npos) << e;
}

TEST_F(ReleaseSignature, RefusesAKeyNotInTheKeyring) {
    const std::string path = signedFile(releaseText(), {"ingot stranger"});
    const std::string e = errorOf(
        [&] {
            verifyInRelease(path, {keyring(), false, 0});
        },
        ingot::ExitStatus::kVerification);
    EXPECT_NE(e.find("which is not in keyring " + keyring()), std::string::npos) << e;
}

TEST_F(ReleaseSignature, AcceptsOneGoodSignatureBesideAnUnknownOne) {
    const std::string path = signedFile(releaseText(), {"ingot stranger", "ingot archive key"});
    EXPECT_EQ(verifyInRelease(path, {keyring(), false, 0}).suite, "stable");
}

TEST_F(ReleaseSignature, RefusesWhatIsNotAClearsignedFile) {
    writeFile(*dir_ / "Plain", releaseText());
    std::string e = errorOf(
        [&] {
            verifyInRelease(*dir_ / "Plain", {keyring(), false, 0});
        },
        ingot::ExitStatus::kVerification);
    EXPECT_NE(e.find("is not a clearsigned file"), std::string::npos) << e;

    const std::string good = readFile(signedFile(releaseText(), {"ingot archive key"}));
    writeFile(*dir_ / "Before", "Suite: evil\n" + good);
    e = errorOf(
        [&] {
            verifyInRelease(*dir_ / "Before", {keyring(), false, 0});
        },
        ingot::ExitStatus::kVerification);
    EXPECT_NE(e.find("is not a clearsigned file"), std::string::npos) << e;

    writeFile(*dir_ / "After", good + "\nSuite: evil\n");
    e = errorOf(
        [&] {
            verifyInRelease(*dir_ / "After", {keyring(), false, 0});
        },
        ingot::ExitStatus::kVerification);
    EXPECT_NE(e.find("has text after its signature"), std::string::npos) << e;

    // The armour lines without a real signature inside reach gpgv, which finds nothing.
    writeFile(*dir_ / "Empty",
              "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nSuite: x\n"
              "-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n");
    e = errorOf(
        [&] {
            verifyInRelease(*dir_ / "Empty", {keyring(), false, 0});
        },
        ingot::ExitStatus::kVerification);
    EXPECT_FALSE(e.empty());
}

TEST_F(ReleaseSignature, RefusesAnExpiredReleaseUnlessAllowed) {
    const int64_t now = nowSeconds();
    const std::string path = signedFile(
        releaseText("Valid-Until: " + releaseDate(now - 3600) + "\n", releaseDate(now - 8 * 86400)),
        {"ingot archive key"});
    const std::string e = errorOf(
        [&] {
            verifyInRelease(path, {keyring(), false, 0});
        },
        ingot::ExitStatus::kVerification);
    EXPECT_NE(e.find("expired at"), std::string::npos) << e;
    EXPECT_NE(e.find("Allow an expired Release explicitly"), std::string::npos) << e;
    EXPECT_EQ(verifyInRelease(path, {keyring(), true, 0}).suite, "stable");
    // The clock can be given: an hour and a half earlier it was still valid.
    EXPECT_EQ(verifyInRelease(path, {keyring(), false, now - 5400}).suite, "stable");
}

TEST_F(ReleaseSignature, RefusesAMissingKeyring) {
    const std::string path = signedFile(releaseText(), {"ingot archive key"});
    const std::string e = errorOf(
        [&] {
            verifyInRelease(path, {*dir_ / "nope.gpg", false, 0});
        },
        ingot::ExitStatus::kUsage);
    EXPECT_NE(e.find("nope.gpg"), std::string::npos) << e;
}

}  // namespace
