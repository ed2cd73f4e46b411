// ingot's registry client against ingot's own server, in process over loopback: the Bearer
// token flow with per-user rights end to end, and 32 clients pushing and pulling overlapping
// images at once, every pulled image verified down to its disk bytes.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "../../support/TempDir.h"
#include "../oci/OciTestSupport.h"
#include "RegistrySession.h"
#include "Transfer.h"
#include "TrustPolicy.h"
#include "ingot/core/Error.h"
#include "ingot/core/Sha256.h"
#include "ingot/oci/Layout.h"
#include "ingot/sign/Minisign.h"
#include "server/Access.h"
#include "server/RegistryService.h"

namespace ingot::registry {
namespace {

using nlohmann::json;

constexpr int kImages = 4;

// Images 0..3 share most chunks: each is the same disk with its own 64 KiB changed, so
// concurrent pushes race on the shared blobs.
std::string diskBytes(int image) {
    std::string bytes = test::diskLikeBytes(3u << 20, 11);
    if (image > 0)
        for (size_t i = 0; i < 65536; ++i)
            bytes[static_cast<size_t>(image) * (512u << 10) + i] ^= static_cast<char>(0x30 + image);
    return bytes;
}

class ClientAndServer : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new test::TempDir;
        ::setenv("XDG_CONFIG_HOME", dir_->file("config").c_str(), 1);
        ::setenv("XDG_STATE_HOME", dir_->file("state").c_str(), 1);
        key_ = new sign::MinisignSecretKey(sign::generateMinisignKey());
        for (int i = 0; i < kImages; ++i) {
            const std::string disk = dir_->file("disk" + std::to_string(i) + ".img");
            test::writeFile(disk, diskBytes(i));
            const std::string manifest = test::testManifestJson(std::to_string(i + 1));
            oci::writeImageToLayout(dir_->file("source"), disk, manifest,
                                    sign::signMinisign(*key_, manifest, "image " + std::to_string(i),
                                                       "test"),
                                    "v" + std::to_string(i));
            diskSha_[i] = toHex(sha256(diskBytes(i)));
        }
    }
    static void TearDownTestSuite() {
        delete key_;
        delete dir_;
    }

    void start(const std::string& authJson) {
        ServiceOptions options;
        options.root = dir_->file("registry-" + std::to_string(counter_++));
        options.http.port = 0;
        options.http.threads = 8;
        options.gcInterval = std::chrono::seconds(0);
        if (!authJson.empty()) {
            options.authFile = options.root + "-auth.json";
            test::writeFile(options.authFile, authJson);
        }
        service_ = std::make_unique<RegistryService>(options);
        service_->start();
        host_ = "127.0.0.1:" + std::to_string(service_->port());
    }

    Reference ref(const std::string& repoAndTag) const {
        return parseReference(host_ + "/" + repoAndTag);
    }
    TrustPolicy trust() {
        const std::string path = dir_->file("trust-" + std::to_string(counter_++) + ".yaml");
        TrustPolicy policy = TrustPolicy::load(path);
        policy.add(host_ + "/gold/*", key_->publicPart());
        return TrustPolicy::load(path);
    }
    static TransferOptions options() {
        TransferOptions o;
        o.progress = false;
        o.session.firstBackoff = std::chrono::milliseconds(20);
        return o;
    }
    std::string freshDir(const std::string& what) {
        return dir_->file(what + "-" + std::to_string(counter_++));
    }
    static std::string diskShaOf(const std::string& layout, const std::string& tag) {
        const std::string out = layout + "-" + tag + ".img";
        oci::reassembleDisk(layout, tag, out);
        return toHex(sha256File(out, "disk").sha256);
    }

    static test::TempDir* dir_;
    static sign::MinisignSecretKey* key_;
    static std::map<int, std::string> diskSha_;
    static std::atomic<int> counter_;
    std::unique_ptr<RegistryService> service_;
    std::string host_;
};

test::TempDir* ClientAndServer::dir_ = nullptr;
sign::MinisignSecretKey* ClientAndServer::key_ = nullptr;
std::map<int, std::string> ClientAndServer::diskSha_;
std::atomic<int> ClientAndServer::counter_{0};

TEST_F(ClientAndServer, BearerTokensCarryEachUsersRights) {
    json auth = {
        {"challenge", "bearer"},
        {"users", {{"ci", hashPassword("ci-secret", 1000)}, {"qa", hashPassword("qa-secret", 1000)}}},
        {"rules", json::array({
                      {{"repository", "gold/*"}, {"users", {"ci"}}, {"rights", {"pull", "push"}}},
                      {{"repository", "gold/*"}, {"users", {"qa"}}, {"rights", {"pull"}}},
                  })}};
    start(auth.dump());
    const Credential ci{"ci", "ci-secret"}, qa{"qa", "qa-secret"};

    // What `ingot login` checks: a wrong password is refused with the fix in the message.
    RegistrySession(ref("gold/app:v0"), ci).ping();
    try {
        RegistrySession(ref("gold/app:v0"), Credential{"ci", "wrong"}).ping();
        FAIL() << "a wrong password was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("ingot login " + host_), std::string::npos) << e.what();
    }

    auto pushed = pushImage(dir_->file("source"), "v0", ref("gold/app:v0"), ci, options());
    EXPECT_EQ(pushed.blobsSkipped, 0u);
    const std::string layout = freshDir("pulled");
    auto pulled = pullImage(ref("gold/app:v0"), layout, "v0", trust(), qa, options());
    EXPECT_EQ(pulled.digest, pushed.digest);
    EXPECT_EQ(diskShaOf(layout, "v0"), diskSha_[0]);

    // qa may pull but not push: its token never holds push, and the refusal says so.
    try {
        pushImage(dir_->file("source"), "v1", ref("gold/app:v1"), qa, options());
        FAIL() << "a pull-only user pushed";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("403"), std::string::npos) << e.what();
    }
    // Anonymous gets nothing at all.
    EXPECT_THROW(pullImage(ref("gold/app:v0"), freshDir("anonymous"), "v0", trust(), std::nullopt,
                           options()),
                 Error);
}

TEST_F(ClientAndServer, ThirtyTwoClientsPushAndPullOverlappingImagesAtOnce) {
    start("");
    constexpr int kClients = 32;
    std::vector<std::thread> clients;
    std::mutex failuresMutex;
    std::vector<std::string> failures;
    std::atomic<int> verified{0};
    std::atomic<bool> pushed[2][kImages] = {};
    for (int c = 0; c < kClients; ++c) {
        clients.emplace_back([&, c] {
            try {
                // Eight clients per image push the same content into two repositories at once,
                // then each pulls an image another client pushed.
                const int image = c % kImages;
                const std::string repo = "gold/shared-" + std::to_string(c / kImages % 2);
                TransferOptions o = options();
                o.parallel = 2;
                pushImage(dir_->file("source"), "v" + std::to_string(image),
                          ref(repo + ":v" + std::to_string(image)), std::nullopt, o);
                const int other = (image + 1) % kImages;
                pushed[c / kImages % 2][image] = true;
                // Pull once some client has pushed the other image here; its other pushers and
                // the other clients' pulls are still running.
                while (!pushed[c / kImages % 2][other])
                    std::this_thread::sleep_for(std::chrono::milliseconds(10));
                const std::string layout = freshDir("client");
                pullImage(ref(repo + ":v" + std::to_string(other)), layout, "x", trust(),
                          std::nullopt, o);
                if (diskShaOf(layout, "x") != diskSha_[other])
                    throw std::runtime_error("disk of image " + std::to_string(other) + " differs");
                ++verified;
            } catch (const std::exception& e) {
                std::lock_guard lock(failuresMutex);
                failures.push_back("client " + std::to_string(c) + ": " + e.what());
            }
        });
    }
    for (std::thread& t : clients) t.join();
    for (const std::string& f : failures) ADD_FAILURE() << f;
    EXPECT_EQ(verified.load(), kClients);
}

}  // namespace
}  // namespace ingot::registry
