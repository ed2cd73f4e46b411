// The archive client end to end, without a network: real .debs from dpkg-deb, a Packages file
// from dpkg-scanpackages compressed by xz, a Release with sha256 sums clearsigned into InRelease
// by a throwaway key, all served through file:// URLs. Every link of the chain is tampered with
// once and must be refused with its own message; the cache must then serve offline runs.
#include "ingot/debian/ArchiveClient.h"

#include <gtest/gtest.h>

#include <optional>

#include "ArchiveTestSupport.h"
#include "ingot/core/Error.h"
#include "ingot/core/Sha256.h"

using namespace ingot::debian;
using namespace ingot::debian::test;

namespace {

struct ArchiveSpec {
    std::string suite = "testing";
    std::string codename = "ingot-test";
    std::string signer = "ingot archive key";
    int64_t date = nowSeconds() - 3600;
    std::optional<int64_t> validUntil = nowSeconds() + 7 * 86400;
    bool byHashOnly = false;  // Acquire-By-Hash, and no Packages.xz under its plain name
};

class ArchiveClientTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        for (const char* tool : {"gpg", "gpgv", "gpgconf", "dpkg-deb", "dpkg-scanpackages", "xz"})
            if (!haveTool(tool)) {
                missing_ = tool;
                return;
            }
        dir_ = new ScratchDir();
        gnupg_ = new TestGnupg(*dir_ / "gnupg");
        gnupg_->addKey("ingot archive key");
        gnupg_->addKey("ingot stranger");
        gnupg_->exportKeyring("ingot archive key", *dir_ / "archive.gpg");
        buildDeb("hello", "1.0-1", "amd64", "");
        buildDeb("hello", "1.1-1", "amd64", "Depends: hello-doc\n");
        buildDeb("hello-doc", "1.1-1", "all", "Source: hello (1.1-1)\nMulti-Arch: foreign\n");
    }
    static void TearDownTestSuite() {
        delete gnupg_;
        delete dir_;
        gnupg_ = nullptr;
        dir_ = nullptr;
    }
    void SetUp() override {
        if (!missing_.empty()) GTEST_SKIP() << missing_ << " is not installed";
        scratch_.emplace();
    }

    static void buildDeb(const std::string& name, const std::string& version,
                         const std::string& arch, const std::string& extra) {
        const std::string root = *dir_ / ("build/" + name + "_" + version);
        writeFile(root + "/DEBIAN/control",
                  "Package: " + name + "\nVersion: " + version + "\nArchitecture: " + arch +
                      "\nMaintainer: ingot tests <tests@example.org>\n" + extra +
                      "Description: a package for the archive tests\n");
        writeFile(root + "/usr/share/doc/" + name + "/README", name + " " + version + "\n");
        fs::create_directories(*dir_ / "debs");
        run({"dpkg-deb", "--root-owner-group", "-Zxz", "--build", root,
             *dir_ / ("debs/" + name + "_" + version + "_" + arch + ".deb")});
    }

    // A complete archive under the test's scratch directory; returns its root.
    std::string buildArchive(const std::string& name, const ArchiveSpec& spec = {}) {
        const std::string root = *scratch_ / name;
        const std::string pool = root + "/pool/main/h";
        fs::create_directories(pool + "/hello");
        for (const auto& deb : fs::directory_iterator(*dir_ / "debs"))
            fs::copy_file(deb.path(), pool + "/hello/" + deb.path().filename().string());
        const std::string packages =
            run({"dpkg-scanpackages", "--multiversion", "pool", "/dev/null"}, root);
        const std::string dists = root + "/dists/" + spec.suite;
        const std::string index = dists + "/main/binary-amd64";
        writeFile(index + "/Packages", packages);
        run({"xz", "--keep", index + "/Packages"});
        std::string sums;
        for (const char* file : {"main/binary-amd64/Packages", "main/binary-amd64/Packages.xz"}) {
            const std::string bytes = readFile(dists + "/" + file);
            const std::string hex = ingot::toHex(ingot::sha256(bytes));
            sums += " " + hex + " " + std::to_string(bytes.size()) + " " + file + "\n";
            if (spec.byHashOnly) writeFile(index + "/by-hash/SHA256/" + hex, bytes);
        }
        if (spec.byHashOnly) fs::remove(index + "/Packages.xz");
        std::string release = "Origin: ingot tests\nLabel: ingot tests\nSuite: " + spec.suite +
                              "\nCodename: " + spec.codename + "\nDate: " + releaseDate(spec.date) +
                              "\n";
        if (spec.validUntil) release += "Valid-Until: " + releaseDate(*spec.validUntil) + "\n";
        if (spec.byHashOnly) release += "Acquire-By-Hash: yes\n";
        release += "Architectures: amd64\nComponents: main\nSHA256:\n" + sums;
        writeFile(dists + "/Release", release);
        gnupg_->clearsign({spec.signer}, dists + "/Release", dists + "/InRelease");
        return root;
    }

    ArchiveOptions options(const std::string& root, const std::string& cache = "cache") const {
        ArchiveOptions o;
        o.baseUrl = "file://" + root;
        o.suite = "testing";
        o.components = {"main"};
        o.architecture = "amd64";
        o.keyring = *dir_ / "archive.gpg";
        o.cacheDirectory = *scratch_ / cache;
        return o;
    }


    static void flipByte(const std::string& path) {
        std::string bytes = readFile(path);
        bytes[bytes.size() / 2] ^= 0x20;
        writeFile(path, bytes);
    }

    // Leftover temporary files would mean a failed download reached the cache's directory.
    static size_t filesIn(const std::string& directory) {
        size_t n = 0;
        for ([[maybe_unused]] const auto& e : fs::directory_iterator(directory)) ++n;
        return n;
    }

    static std::string missing_;
    static ScratchDir* dir_;
    static TestGnupg* gnupg_;
    std::optional<ScratchDir> scratch_;
};

std::string ArchiveClientTest::missing_;
ScratchDir* ArchiveClientTest::dir_ = nullptr;
TestGnupg* ArchiveClientTest::gnupg_ = nullptr;

TEST_F(ArchiveClientTest, FetchesVerifiesAndCaches) {
    const std::string root = buildArchive("archive");
    ArchiveClient client(options(root + "/"));
    client.update();
    EXPECT_EQ(client.release().suite, "testing");
    EXPECT_EQ(client.release().codename, "ingot-test");
    EXPECT_EQ(client.packages().records().size(), 3u);
    const PackageRecord* hello = client.packages().newest("hello", "amd64");
    ASSERT_NE(hello, nullptr);
    EXPECT_EQ(hello->version.text(), "1.1-1");
    EXPECT_EQ(hello->depends, "hello-doc");
    EXPECT_EQ(hello->filename, "pool/main/h/hello/hello_1.1-1_amd64.deb");
    const PackageRecord* doc = client.packages().newestFor("hello-doc", "amd64");
    ASSERT_NE(doc, nullptr);
    EXPECT_EQ(doc->architecture, "all");
    EXPECT_EQ(doc->source, "hello");
    EXPECT_EQ(doc->multiArch, "foreign");

    const std::string path = client.fetchDeb(*hello);
    EXPECT_EQ(path, client.cachePath(hello->sha256));
    EXPECT_EQ(path, *scratch_ / ("cache/by-hash/sha256/" + hello->sha256));
    EXPECT_EQ(readFile(path), readFile(root + "/" + hello->filename));
    // The index is cached under its hash too, and nothing temporary is left behind.
    const ReleaseFile* entry = client.release().find("main/binary-amd64/Packages.xz");
    ASSERT_NE(entry, nullptr);
    EXPECT_TRUE(fs::exists(client.cachePath(entry->sha256)));
    EXPECT_EQ(filesIn(*scratch_ / "cache/by-hash/sha256"), 2u);
    EXPECT_EQ(filesIn(*scratch_ / "cache/inrelease"), 1u);

    // A cached .deb is served from the cache, whatever the mirror does now.
    fs::remove(root + "/" + hello->filename);
    EXPECT_EQ(client.fetchDeb(*hello), path);
}

TEST_F(ArchiveClientTest, RefusesATamperedPackagesIndex) {
    const std::string root = buildArchive("archive");
    flipByte(root + "/dists/testing/main/binary-amd64/Packages.xz");
    ArchiveClient client(options(root));
    const std::string e = errorOf([&] { client.update(); }, ingot::ExitStatus::kVerification);
    EXPECT_NE(e.find("main/binary-amd64/Packages.xz (main) has"), std::string::npos) << e;
    EXPECT_NE(e.find("but the signed Release says"), std::string::npos) << e;
    EXPECT_EQ(filesIn(*scratch_ / "cache/by-hash/sha256"), 0u);
}

TEST_F(ArchiveClientTest, RefusesATamperedInRelease) {
    const std::string root = buildArchive("archive");
    const std::string inRelease = root + "/dists/testing/InRelease";
    std::string text = readFile(inRelease);
    text.replace(text.find("Label: ingot tests"), 18, "Label: ingot_tests");
    writeFile(inRelease, text);
    ArchiveClient client(options(root));
    const std::string e = errorOf([&] { client.update(); }, ingot::ExitStatus::kVerification);
    EXPECT_NE(e.find("bad signature"), std::string::npos) << e;
    EXPECT_EQ(filesIn(*scratch_ / "cache/inrelease"), 0u);
}

TEST_F(ArchiveClientTest, RefusesAKeyNotInTheKeyring) {
    ArchiveSpec spec;
    spec.signer = "ingot stranger";
    const std::string root = buildArchive("archive", spec);
    ArchiveClient client(options(root));
    const std::string e = errorOf([&] { client.update(); }, ingot::ExitStatus::kVerification);
    EXPECT_NE(e.find("which is not in keyring"), std::string::npos) << e;
}

TEST_F(ArchiveClientTest, RefusesAnExpiredReleaseUnlessAllowed) {
    ArchiveSpec spec;
    spec.date = nowSeconds() - 10 * 86400;
    spec.validUntil = nowSeconds() - 3 * 86400;
    const std::string root = buildArchive("archive", spec);
    ArchiveClient client(options(root));
    const std::string e = errorOf([&] { client.update(); }, ingot::ExitStatus::kVerification);
    EXPECT_NE(e.find("expired at"), std::string::npos) << e;

    ArchiveOptions allowed = options(root);
    allowed.allowExpiredRelease = true;
    ArchiveClient lenient(allowed);
    lenient.update();
    EXPECT_NE(lenient.packages().newest("hello", "amd64"), nullptr);
}

TEST_F(ArchiveClientTest, RefusesATamperedDebAndKeepsItOutOfTheCache) {
    const std::string root = buildArchive("archive");
    ArchiveClient client(options(root));
    client.update();
    const PackageRecord* hello = client.packages().newest("hello", "amd64");
    ASSERT_NE(hello, nullptr);
    flipByte(root + "/" + hello->filename);
    const std::string e =
        errorOf([&] { client.fetchDeb(*hello); }, ingot::ExitStatus::kVerification);
    EXPECT_NE(e.find("but the Packages index says"), std::string::npos) << e;
    EXPECT_NE(e.find("the download was deleted"), std::string::npos) << e;
    EXPECT_FALSE(fs::exists(client.cachePath(hello->sha256)));
    EXPECT_EQ(filesIn(*scratch_ / "cache/by-hash/sha256"), 1u);  // only the index

    // A longer file fails as soon as it passes the expected size.
    writeFile(root + "/" + hello->filename, readFile(root + "/" + hello->filename) + "more");
    errorOf([&] { client.fetchDeb(*hello); }, ingot::ExitStatus::kVerification);
    EXPECT_FALSE(fs::exists(client.cachePath(hello->sha256)));

    fs::remove(root + "/" + hello->filename);
    const std::string gone = errorOf([&] { client.fetchDeb(*hello); }, ingot::ExitStatus::kUsage);
    EXPECT_NE(gone.find("not found"), std::string::npos) << gone;
}

TEST_F(ArchiveClientTest, WorksOfflineFromTheCache) {
    const std::string root = buildArchive("archive");
    {
        ArchiveClient online(options(root));
        online.update();
        online.fetchDeb(*online.packages().newest("hello", "amd64"));
    }
    fs::remove_all(root);  // no mirror at all from here on

    ArchiveOptions o = options(root);
    o.offline = true;
    ArchiveClient offline(o);
    offline.update();
    EXPECT_EQ(offline.release().codename, "ingot-test");
    const PackageRecord* hello = offline.packages().newest("hello", "amd64");
    ASSERT_NE(hello, nullptr);
    EXPECT_EQ(offline.fetchDeb(*hello), offline.cachePath(hello->sha256));

    const PackageRecord* doc = offline.packages().newestFor("hello-doc", "amd64");
    ASSERT_NE(doc, nullptr);
    std::string e = errorOf([&] { offline.fetchDeb(*doc); }, ingot::ExitStatus::kUsage);
    EXPECT_NE(e.find("offline: hello-doc 1.1-1 (pool/main/h/hello/hello-doc_1.1-1_all.deb) is not "
                     "in the cache"),
              std::string::npos)
        << e;

    // A damaged cached file is removed and reported, never used.
    flipByte(offline.cachePath(hello->sha256));
    e = errorOf([&] { offline.fetchDeb(*hello); }, ingot::ExitStatus::kUsage);
    EXPECT_NE(e.find("was damaged and has been removed"), std::string::npos) << e;
    EXPECT_FALSE(fs::exists(offline.cachePath(hello->sha256)));

    // Without the index in the cache, offline says which one is missing.
    fs::remove(offline.cachePath(offline.release().find("main/binary-amd64/Packages.xz")->sha256));
    e = errorOf([&] { offline.update(); }, ingot::ExitStatus::kUsage);
    EXPECT_NE(e.find("offline: main/binary-amd64/Packages.xz of file://"), std::string::npos) << e;
    EXPECT_NE(e.find("is not in the cache"), std::string::npos) << e;

    // Another suite, or an empty cache, has no InRelease to start from.
    ArchiveOptions other = o;
    other.suite = "unstable";
    e = errorOf([&] { ArchiveClient(other).update(); }, ingot::ExitStatus::kUsage);
    EXPECT_NE(e.find("holds no verified InRelease for file://" + root + " unstable"),
              std::string::npos)
        << e;
    ArchiveOptions empty = options(root, "empty-cache");
    empty.offline = true;
    e = errorOf([&] { ArchiveClient(empty).update(); }, ingot::ExitStatus::kUsage);
    EXPECT_NE(e.find("run once online first"), std::string::npos) << e;
}

TEST_F(ArchiveClientTest, OfflineStillChecksExpiry) {
    ArchiveSpec spec;
    spec.validUntil = nowSeconds() + 86400;
    const std::string root = buildArchive("archive", spec);
    ArchiveClient(options(root)).update();
    ArchiveOptions o = options(root);
    o.offline = true;
    o.now = nowSeconds() + 2 * 86400;
    const std::string e =
        errorOf([&] { ArchiveClient(o).update(); }, ingot::ExitStatus::kVerification);
    EXPECT_NE(e.find("expired at"), std::string::npos) << e;
}

TEST_F(ArchiveClientTest, RefusesAnotherSuitesInRelease) {
    const std::string root = buildArchive("archive");
    fs::create_directories(root + "/dists/unstable");
    fs::copy_file(root + "/dists/testing/InRelease", root + "/dists/unstable/InRelease");
    ArchiveOptions o = options(root);
    o.suite = "unstable";
    const std::string e =
        errorOf([&] { ArchiveClient(o).update(); }, ingot::ExitStatus::kVerification);
    EXPECT_NE(
        e.find(
            "the signed InRelease is for suite 'testing' (codename 'ingot-test'), not 'unstable'"),
        std::string::npos)
        << e;
    // The codename names the suite as well as its alias does.
    fs::create_directories(root + "/dists/ingot-test");
    fs::copy_file(root + "/dists/testing/InRelease", root + "/dists/ingot-test/InRelease");
    fs::copy(root + "/dists/testing/main", root + "/dists/ingot-test/main",
             fs::copy_options::recursive);
    o.suite = "ingot-test";
    ArchiveClient(o).update();
}

TEST_F(ArchiveClientTest, RefusesToGoBackInTime) {
    const std::string newer = buildArchive("newer");
    ArchiveSpec old;
    old.date = nowSeconds() - 2 * 86400;
    const std::string older = buildArchive("older", old);
    ArchiveOptions o = options(newer);
    ArchiveClient(o).update();
    // The same mirror URL now serves a validly signed but older InRelease.
    fs::rename(newer, *scratch_ / "newer-saved");
    fs::rename(older, newer);
    const std::string e =
        errorOf([&] { ArchiveClient(o).update(); }, ingot::ExitStatus::kVerification);
    EXPECT_NE(e.find("the mirror is going back in time"), std::string::npos) << e;
}

TEST_F(ArchiveClientTest, FetchesIndexesByHash) {
    ArchiveSpec spec;
    spec.byHashOnly = true;
    const std::string root = buildArchive("archive", spec);
    ArchiveClient client(options(root));
    client.update();
    EXPECT_TRUE(client.release().acquireByHash);
    EXPECT_EQ(client.packages().records().size(), 3u);
}

TEST_F(ArchiveClientTest, RefusesWhatTheSuiteDoesNotHave) {
    const std::string root = buildArchive("archive");
    ArchiveOptions o = options(root);
    o.components = {"contrib"};
    std::string e = errorOf([&] { ArchiveClient(o).update(); }, ingot::ExitStatus::kUsage);
    EXPECT_NE(e.find("has no component 'contrib'"), std::string::npos) << e;
    o = options(root);
    o.architecture = "arm64";
    e = errorOf([&] { ArchiveClient(o).update(); }, ingot::ExitStatus::kUsage);
    EXPECT_NE(e.find("the signed Release lists no main/binary-arm64/Packages.xz"),
              std::string::npos)
        << e;
    o = options(root);
    o.suite = "nosuch";
    e = errorOf([&] { ArchiveClient(o).update(); }, ingot::ExitStatus::kUsage);
    EXPECT_NE(e.find("not found"), std::string::npos) << e;
}

TEST_F(ArchiveClientTest, RefusesBadOptions) {
    ArchiveOptions o = options("/nowhere");
    o.baseUrl = "ftp://example.org/debian";
    EXPECT_THROW(ArchiveClient{o}, ingot::Error);
    o = options("/nowhere");
    o.suite = "../../etc";
    EXPECT_THROW(ArchiveClient{o}, ingot::Error);
    o = options("/nowhere");
    o.architecture = "amd64/../x";
    EXPECT_THROW(ArchiveClient{o}, ingot::Error);
    o = options("/nowhere");
    o.keyring = "";
    EXPECT_THROW(ArchiveClient{o}, ingot::Error);
    ArchiveClient client(options("/nowhere"));
    EXPECT_THROW(client.release(), ingot::Error);
}

}  // namespace
