// ingot's registry client (registry/client) against distribution's docker-registry, Debian's
// build of the reference registry: push and pull give back the same disk, a second push sends
// nothing, a new version pulls only the chunks that changed, an interrupted download resumes,
// an untrusted key and a tampered blob are refused before anything is tagged.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "../../support/ShellTools.h"
#include "../../support/TempDir.h"
#include "../../unit/oci/OciTestSupport.h"
#include "Freshness.h"
#include "HttpClient.h"
#include "Transfer.h"
#include "TrustPolicy.h"
#include "server/Grammar.h"
#include "ingot/core/Error.h"
#include "ingot/core/Sha256.h"
#include "ingot/image/Manifest.h"
#include "ingot/oci/Layout.h"
#include "ingot/sign/Minisign.h"

namespace ingot::registry {
namespace {

namespace fs = std::filesystem;

int freePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

// Random data between zero runs: several chunks and holes. `edit` changes 4 KiB in the middle.
std::string diskBytes(bool edit) {
    std::mt19937_64 generator(7);
    std::string bytes;
    for (int part = 0; part < 6; ++part) {
        for (size_t i = 0; i < (1u << 20) + 4099 * part; ++i) bytes += static_cast<char>(generator());
        bytes.append((part % 2 ? 1u : 0u) << 20, '\0');
    }
    if (edit)
        for (size_t i = 0; i < 4096; ++i) bytes[3 * (1u << 20) + i] ^= 0x5a;
    return bytes;
}

class Distribution {
public:
    explicit Distribution(const std::string& dir) : storage_(dir + "/storage") {
        port_ = freePort();
        const std::string config = dir + "/config.yml";
        std::ofstream(config) << "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                              << "    rootdirectory: " << storage_ << "\n  delete:\n"
                              << "    enabled: true\nhttp:\n  addr: 127.0.0.1:" << port_ << "\n";
        pid_ = ::fork();
        if (pid_ == 0) {
            int log = ::open((dir + "/registry.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            ::dup2(log, 1);
            ::dup2(log, 2);
            ::execl("/usr/bin/docker-registry", "docker-registry", "serve", config.c_str(),
                    static_cast<char*>(nullptr));
            ::_exit(127);
        }
        HttpClient http;
        for (int i = 0; i < 100; ++i) {
            try {
                HttpRequest r;
                r.url = "http://127.0.0.1:" + std::to_string(port_) + "/v2/";
                if (http.perform(r).status == 200) {
                    up_ = true;
                    return;
                }
            } catch (const Error&) {
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    ~Distribution() {
        ::kill(pid_, SIGTERM);
        ::waitpid(pid_, nullptr, 0);
    }
    bool up() const { return up_; }
    std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
    // The file distribution keeps blob `digest` in.
    std::string blobData(const std::string& digest) const {
        const std::string hex = digest.substr(7);
        return storage_ + "/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data";
    }

private:
    std::string storage_;
    int port_ = 0;
    pid_t pid_ = -1;
    bool up_ = false;
};

class RegistryClient : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (test::findProgram("docker-registry").empty()) GTEST_SKIP() << "docker-registry missing";
        dir_ = new test::TempDir;
        ::setenv("XDG_CONFIG_HOME", dir_->file("config").c_str(), 1);
        registry_ = new Distribution(dir_->path().string());
        key_ = new sign::MinisignSecretKey(sign::generateMinisignKey());
        for (int v = 1; v <= 2; ++v) {
            const std::string disk = dir_->file("disk" + std::to_string(v) + ".img");
            std::ofstream(disk, std::ios::binary) << diskBytes(v == 2);
            const std::string json = test::testManifestJson(std::to_string(v));
            oci::writeImageToLayout(dir_->file("source"), disk, json,
                                    sign::signMinisign(*key_, json, "ingot image gold/test " + std::to_string(v), "test"),
                                    "v" + std::to_string(v));
        }
    }
    static void TearDownTestSuite() {
        delete registry_;
        delete key_;
        delete dir_;
    }
    void SetUp() override {
        if (!registry_ || !registry_->up()) GTEST_SKIP() << "docker-registry did not start";
    }

    Reference ref(const std::string& repoAndTag) const {
        return parseReference(registry_->host() + "/" + repoAndTag);
    }
    TrustPolicy trusting(const sign::MinisignPublicKey& key, const std::string& pattern) {
        const std::string path = dir_->file("trust-" + std::to_string(counter_++) + ".yaml");
        TrustPolicy policy = TrustPolicy::load(path);
        policy.add(pattern, key);
        return TrustPolicy::load(path);
    }
    TrustPolicy ourTrust() { return trusting(key_->publicPart(), registry_->host() + "/gold/*"); }
    std::string freshLayout() { return dir_->file("pulled-" + std::to_string(counter_++)); }
    static std::string diskSha(const std::string& layout, const std::string& tag) {
        const std::string out = layout + "-" + tag + ".img";
        oci::reassembleDisk(layout, tag, out);
        return toHex(sha256File(out, "disk").sha256);
    }
    TransferOptions options() const {
        TransferOptions o;
        o.progress = false;
        o.session.firstBackoff = std::chrono::milliseconds(10);
        return o;
    }

    static test::TempDir* dir_;
    static Distribution* registry_;
    static sign::MinisignSecretKey* key_;
    static int counter_;  // across tests: every layout and trust file is new
};

test::TempDir* RegistryClient::dir_ = nullptr;
Distribution* RegistryClient::registry_ = nullptr;
sign::MinisignSecretKey* RegistryClient::key_ = nullptr;
int RegistryClient::counter_ = 0;

TEST_F(RegistryClient, PushThenPullGivesBackTheSameDisk) {
    auto pushed = pushImage(dir_->file("source"), "v1", ref("gold/round-trip:v1"), {}, options());
    EXPECT_EQ(pushed.blobsSkipped, 0u);
    EXPECT_GT(pushed.bytesUploaded, 0u);
    const std::string layout = freshLayout();
    auto pulled = pullImage(ref("gold/round-trip:v1"), layout, "v1", ourTrust(), {}, options());
    EXPECT_EQ(pulled.digest, pushed.digest);
    EXPECT_EQ(pulled.keyId, sign::formatKeyId(key_->keyId));
    EXPECT_EQ(pulled.trustedComment, "ingot image gold/test 1");
    EXPECT_EQ(pulled.blobsPresent, 0u);
    EXPECT_EQ(diskSha(layout, "v1"), diskSha(dir_->file("source"), "v1"));
    // The signature travelled as the tag fallback (distribution has no referrers API).
    EXPECT_EQ(oci::readSignature(layout, pulled.digest), oci::readSignature(dir_->file("source"), pushed.digest));
    // And by digest.
    auto byDigest = pullImage(parseReference(registry_->host() + "/gold/round-trip@" + pushed.digest),
                              layout, "pinned", ourTrust(), {}, options());
    EXPECT_EQ(byDigest.bytesDownloaded, 0u);
    EXPECT_EQ(byDigest.blobsPresent, byDigest.blobs);
}

TEST_F(RegistryClient, ASecondPushSendsNoBlobs) {
    pushImage(dir_->file("source"), "v1", ref("gold/again:v1"), {}, options());
    auto again = pushImage(dir_->file("source"), "v1", ref("gold/again:v1"), {}, options());
    EXPECT_EQ(again.blobsSkipped, again.blobs);
    EXPECT_EQ(again.bytesUploaded, 0u);
}

TEST_F(RegistryClient, ANewVersionPullsOnlyTheChangedChunks) {
    pushImage(dir_->file("source"), "v1", ref("gold/versions:v1"), {}, options());
    auto v2 = pushImage(dir_->file("source"), "v2", ref("gold/versions:v2"), {}, options());
    EXPECT_GT(v2.blobsSkipped, 0u) << "v2 shares chunks with v1 in the registry";
    const std::string layout = freshLayout();
    auto first = pullImage(ref("gold/versions:v1"), layout, "v1", ourTrust(), {}, options());
    auto second = pullImage(ref("gold/versions:v2"), layout, "v2", ourTrust(), {}, options());
    EXPECT_GT(second.blobsPresent, 0u);
    EXPECT_LT(second.bytesDownloaded * 4, first.bytesDownloaded)
        << second.bytesDownloaded << " of " << first.bytesDownloaded;
    EXPECT_EQ(diskSha(layout, "v2"), diskSha(dir_->file("source"), "v2"));
}

TEST_F(RegistryClient, AnInterruptedDownloadResumesFromItsPartialFile) {
    auto pushed = pushImage(dir_->file("source"), "v1", ref("gold/resume:v1"), {}, options());
    const std::string layout = freshLayout();
    oci::initLayout(layout);
    // Half of the first chunk arrived before the "interruption".
    auto image = oci::readImage(dir_->file("source"), "v1");
    const oci::Descriptor blob = image.manifest.chunks.front().blob;
    std::ifstream in(oci::blobFilePath(dir_->file("source"), blob.digest), std::ios::binary);
    std::string half(blob.size / 2, '\0');
    in.read(half.data(), static_cast<std::streamsize>(half.size()));
    std::ofstream(oci::partialBlobPath(layout, blob.digest), std::ios::binary) << half;
    uint64_t total = 0;
    for (const auto& c : image.manifest.chunks) total += c.blob.size;
    auto pulled = pullImage(ref("gold/resume:v1"), layout, "v1", ourTrust(), {}, options());
    EXPECT_EQ(pulled.bytesDownloaded, total - half.size());
    EXPECT_FALSE(fs::exists(oci::partialBlobPath(layout, blob.digest)));
    EXPECT_EQ(diskSha(layout, "v1"), diskSha(dir_->file("source"), "v1"));
    EXPECT_EQ(pulled.digest, pushed.digest);
}

TEST_F(RegistryClient, AnUntrustedKeyIsRefusedNamingTheKeyAndTheFix) {
    pushImage(dir_->file("source"), "v1", ref("gold/untrusted:v1"), {}, options());
    const std::string layout = freshLayout();
    auto other = sign::generateMinisignKey();
    try {
        pullImage(ref("gold/untrusted:v1"), layout, "v1",
                  trusting(other.publicPart(), registry_->host() + "/gold/*"), {}, options());
        FAIL() << "pulled with an untrusted key";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), ExitStatus::kVerification);
        const std::string m = e.what();
        EXPECT_NE(m.find("not signed by a trusted key"), std::string::npos) << m;
        EXPECT_NE(m.find(sign::formatKeyId(key_->keyId)), std::string::npos) << m;
        EXPECT_NE(m.find("ingot trust add"), std::string::npos) << m;
    }
    // A key trusted for another place does not count here either.
    EXPECT_THROW(pullImage(ref("gold/untrusted:v1"), layout, "v1",
                           trusting(key_->publicPart(), "elsewhere.example/*"), {}, options()),
                 Error);
    EXPECT_FALSE(fs::exists(layout + "/index.json")) << "nothing tagged";
}

TEST_F(RegistryClient, ATamperedBlobIsCaughtBeforeAnythingIsTagged) {
    pushImage(dir_->file("source"), "v1", ref("gold/tampered:v1"), {}, options());
    auto image = oci::readImage(dir_->file("source"), "v1");
    const oci::Descriptor blob = image.manifest.chunks.back().blob;
    // The registry's copy of one chunk changes under it (same length, other bytes).
    const std::string data = registry_->blobData(blob.digest);
    ASSERT_TRUE(fs::exists(data)) << data;
    std::string bytes;
    {
        std::ifstream in(data, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    const std::string original = bytes;
    bytes[bytes.size() / 2] ^= 1;
    std::ofstream(data, std::ios::binary | std::ios::trunc) << bytes;
    // Blobs are shared between repositories: put it back whatever happens.
    struct Restore {
        std::string path, bytes;
        ~Restore() { std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes; }
    } restore{data, original};
    const std::string layout = freshLayout();
    try {
        pullImage(ref("gold/tampered:v1"), layout, "v1", ourTrust(), {}, options());
        FAIL() << "pulled a tampered blob";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), ExitStatus::kVerification);
        EXPECT_NE(std::string(e.what()).find(blob.digest), std::string::npos) << e.what();
    }
    EXPECT_FALSE(oci::hasBlob(layout, blob.digest, blob.size));
    EXPECT_FALSE(fs::exists(oci::partialBlobPath(layout, blob.digest)));
    EXPECT_FALSE(fs::exists(layout + "/index.json")) << "nothing tagged";
}

// --- freshness ---

TEST_F(RegistryClient, FreshnessRefusesRollbackFreezeAndAMovedTag) {
    auto v1 = pushImage(dir_->file("source"), "v1", ref("gold/fresh:v1"), {}, options());
    RegistrySession session(ref("gold/fresh:v1"), {}, options().session);
    auto first = publishTimestamp(session, *key_, std::chrono::hours(1));
    EXPECT_EQ(first.version, 1u);
    EXPECT_EQ(first.repository, registry_->host() + "/gold/fresh");
    ASSERT_EQ(first.tags.size(), 1u) << "signature tags are not listed";
    EXPECT_EQ(first.tags.at("v1"), v1.digest);
    EXPECT_EQ(publishTimestamp(session, *key_, std::chrono::hours(1)).version, 2u);

    TransferOptions o = options();
    o.freshnessState = dir_->file("freshness-" + std::to_string(counter_++) + ".json");
    auto pulled = pullImage(ref("gold/fresh:v1"), freshLayout(), "v1", ourTrust(), {}, o);
    ASSERT_TRUE(pulled.timestamp);
    EXPECT_EQ(pulled.timestamp->version, 2u);
    EXPECT_EQ(FreshnessState(o.freshnessState).highest(registry_->host() + "/gold/fresh"), 2u);

    auto refusal = [&](const TransferOptions& with) -> std::string {
        try {
            pullImage(ref("gold/fresh:v1"), freshLayout(), "v1", ourTrust(), {}, with);
        } catch (const Error& e) {
            EXPECT_EQ(e.status(), ExitStatus::kVerification);
            return e.what();
        }
        return "";
    };
    // Rollback: the registry serves an older document than this client saw.
    publishTimestamp(session, *key_, std::chrono::hours(1), 1);
    EXPECT_NE(refusal(o).find("rollback refused"), std::string::npos);
    TransferOptions allow = o;
    allow.freshness.allowRollback = true;
    EXPECT_EQ(refusal(allow), "");
    // Freeze: a document past its expiry.
    publishTimestamp(session, *key_, std::chrono::seconds(1), 3);
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    EXPECT_NE(refusal(o).find("freeze refused"), std::string::npos);
    allow.freshness = {false, true};
    EXPECT_EQ(refusal(allow), "");
    // A tag moved after the document was signed.
    publishTimestamp(session, *key_, std::chrono::hours(1), 4);
    pushImage(dir_->file("source"), "v2", ref("gold/fresh:v1"), {}, options());
    EXPECT_NE(refusal(o).find("says " + v1.digest), std::string::npos);
    // A document signed by an untrusted key is refused, not ignored.
    auto other = sign::generateMinisignKey();
    publishTimestamp(session, other, std::chrono::hours(1), 5);
    EXPECT_NE(refusal(o).find("does not trust"), std::string::npos);
}

TEST(Timestamp, RoundTripsAndRefusesMalformedDocuments) {
    TimestampDocument d{"r.example/gold/debian", 7, 1800000000, {{"12", "sha256:" + std::string(64, 'c')}}};
    EXPECT_EQ(parseTimestamp(serializeTimestamp(d), "test"), d);
    for (const char* bad :
         {"[]", "{}", R"({"repository":"r","version":-1,"expires":1,"tags":{}})",
          R"({"repository":"r","version":1,"expires":1,"tags":{"a":"md5:x"}})",
          R"({"repository":"r","version":1,"expires":1,"tags":{},"extra":1})"})
        EXPECT_THROW(parseTimestamp(bad, "test"), Error) << bad;
}

TEST(Reference, ParsesRegistryRepositoryTagAndDigest) {
    auto r = parseReference("localhost:5000/gold/debian:12");
    EXPECT_EQ(r.registry, "localhost:5000");
    EXPECT_EQ(r.repository, "gold/debian");
    EXPECT_EQ(r.tag, "12");
    EXPECT_EQ(parseReference("reg.example/a").tag, "latest");
    const std::string digest = "sha256:" + std::string(64, 'a');
    auto d = parseReference("reg.example/a/b@" + digest);
    EXPECT_EQ(d.digest, digest);
    EXPECT_TRUE(d.tag.empty());
    EXPECT_EQ(d.manifestReference(), digest);
    for (const char* bad : {"debian", "/gold/debian", "reg.example/Gold", "reg.example/a..b",
                            "reg.example/a/../b", "reg.example/a:b:c/d", "reg.example/a@sha256:xyz",
                            "reg.example/a:-bad", "reg.example/a%2e%2e", "reg.example/a//b"})
        EXPECT_THROW(parseReference(bad), Error) << bad;
    EXPECT_TRUE(isValidRepositoryName("a/b-c/d__e.f"));
    EXPECT_FALSE(isValidRepositoryName(std::string(256, 'a')));
}

TEST(AuthChallenge, ReadsBearerAndBasicChallenges) {
    auto c = parseAuthChallenge(
        R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:gold/debian:pull")");
    EXPECT_EQ(c.scheme, "bearer");
    EXPECT_EQ(c.params["realm"], "https://auth.example/token");
    EXPECT_EQ(c.params["service"], "registry.example");
    EXPECT_EQ(c.params["scope"], "repository:gold/debian:pull");
    auto b = parseAuthChallenge(R"(Basic realm="a \"quoted\" realm")");
    EXPECT_EQ(b.scheme, "basic");
    EXPECT_EQ(b.params["realm"], "a \"quoted\" realm");
    EXPECT_TRUE(parseAuthChallenge("").scheme.empty());
}

TEST(TrustPolicy, MatchesPatternsAndRefusesMalformedFiles) {
    EXPECT_TRUE(matchesPattern("*", "localhost:5000/gold/debian"));
    EXPECT_TRUE(matchesPattern("localhost:5000/gold/*", "localhost:5000/gold/debian"));
    EXPECT_FALSE(matchesPattern("localhost:5000/gold/*", "localhost:5001/gold/debian"));
    EXPECT_TRUE(matchesPattern("*/gold/*ian", "r/gold/debian"));
    test::TempDir dir;
    std::ofstream(dir.file("bad.yaml")) << "trust:\n  - for: x\n";
    EXPECT_THROW(TrustPolicy::load(dir.file("bad.yaml")), Error);
    std::ofstream(dir.file("unknown.yaml")) << "trust:\n  - for: x\n    key: y\n    extra: 1\n";
    EXPECT_THROW(TrustPolicy::load(dir.file("unknown.yaml")), Error);
    EXPECT_TRUE(TrustPolicy::load(dir.file("missing.yaml")).entries().empty());
}

TEST(Credentials, StoreFindEraseInDockerForm) {
    test::TempDir dir;
    Credentials c(dir.file("auth.json"));
    EXPECT_FALSE(c.find("r.example"));
    c.store("r.example", {"alice", "s:e:cret"});
    auto found = c.find("r.example");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->username, "alice");
    EXPECT_EQ(found->password, "s:e:cret");
    EXPECT_EQ(fs::status(dir.file("auth.json")).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_TRUE(c.erase("r.example"));
    EXPECT_FALSE(c.find("r.example"));
    EXPECT_EQ(*base64Decode(base64Encode("user:pw")), "user:pw");
}

}  // namespace
}  // namespace ingot::registry
