// News of newer releases (registry/client/ChannelNews.h): which release a moved channel tag names,
// the cache of verified freshness documents (never going back, a damaged file ignored and
// replaced), and end to end against ingot's own registry in process: a pull records the
// document, a rollout moves `stable` and re-signs, a refresh sees the newer release, and the
// pulled image stays what it was.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "../../support/TempDir.h"
#include "../oci/OciTestSupport.h"
#include "ChannelNews.h"
#include "Freshness.h"
#include "RegistrySession.h"
#include "Transfer.h"
#include "TrustPolicy.h"
#include "ingot/core/Error.h"
#include "ingot/oci/Layout.h"
#include "ingot/sign/Minisign.h"
#include "server/RegistryService.h"

namespace ingot::registry {
namespace {

using nlohmann::json;

const std::string kOld = "sha256:" + std::string(64, 'a');
const std::string kNew = "sha256:" + std::string(64, 'b');
const std::string kRepo = "127.0.0.1:5000/gold/debian";

TimestampDocument document(uint64_t version, const std::string& stable) {
    TimestampDocument d;
    d.repository = kRepo;
    d.version = version;
    d.expires = 1900000000;
    d.tags = {{"stable", stable}, {"12.20261123.1", kOld}};
    if (stable == kNew) {
        d.tags["12.20261124.1"] = kNew;
        d.tags["12.20261124"] = kNew;
    }
    return d;
}

// newerRelease ------------------------------------------------------------------------------

TEST(NewerRelease, NamesTheDigestTheTagMovedToAndItsVersionTagsSorted) {
    auto newer = newerRelease(document(2, kNew), "stable", kOld);
    ASSERT_TRUE(newer);
    EXPECT_EQ(newer->digest, kNew);
    EXPECT_EQ(newer->tags, (std::vector<std::string>{"12.20261124", "12.20261124.1"}));
}

TEST(NewerRelease, NoneWhenTheTagStillNamesTheDigestOrIsNotInTheDocument) {
    EXPECT_FALSE(newerRelease(document(1, kOld), "stable", kOld));
    EXPECT_FALSE(newerRelease(document(2, kNew), "testing", kOld));
    // An immutable version tag never moves, so an image pulled by it has no news.
    EXPECT_FALSE(newerRelease(document(2, kNew), "12.20261123.1", kOld));
}

TEST(NewerRelease, ATagMovedToADigestNoOtherTagNamesHasNoVersionTags) {
    TimestampDocument d = document(3, kOld);
    d.tags["stable"] = kNew;
    auto newer = newerRelease(d, "stable", kOld);
    ASSERT_TRUE(newer);
    EXPECT_EQ(*newer, (NewerRelease{kNew, {}}));
}

TEST(NewerRelease, ByStoreNameOnlyForTagsNotDigestPinnedOrMalformedNames) {
    const std::map<std::string, TimestampDocument> documents{{kRepo, document(2, kNew)}};
    auto newer = newerReleaseOf(documents, kRepo + ":stable", kOld);
    ASSERT_TRUE(newer);
    EXPECT_EQ(newer->digest, kNew);
    EXPECT_FALSE(newerReleaseOf(documents, kRepo + ":stable", kNew));
    EXPECT_FALSE(newerReleaseOf(documents, kRepo + ":stable@" + kOld, kOld));
    EXPECT_FALSE(newerReleaseOf(documents, "127.0.0.1:5000/gold/other:stable", kOld));
    EXPECT_FALSE(newerReleaseOf(documents, "not a reference", kOld));
    EXPECT_EQ(channelOf(kRepo + ":stable"), (std::optional<Channel>(Channel{kRepo, "stable"})))
        << "channelOf";
}

// TimestampCache -----------------------------------------------------------------------------

class TimestampCacheTest : public ::testing::Test {
protected:
    std::string path() const { return dir_.file("state/deeper/timestamps.json"); }
    test::TempDir dir_;
};

TEST_F(TimestampCacheTest, RecordsANewerVersionAndNeverGoesBack) {
    TimestampCache cache(path());
    EXPECT_TRUE(cache.documents().empty());
    EXPECT_TRUE(cache.problem().empty());

    EXPECT_TRUE(cache.record(document(2, kNew)));
    struct stat st {};
    ASSERT_EQ(::stat(path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(TimestampCache(path()).find(kRepo), document(2, kNew));

    // Older and equal versions are refused and leave the file as it was.
    const std::string before = test::readFile(path());
    EXPECT_FALSE(cache.record(document(1, kOld)));
    EXPECT_FALSE(cache.record(document(2, kOld)));
    EXPECT_EQ(test::readFile(path()), before);
    EXPECT_EQ(cache.find(kRepo), document(2, kNew));

    TimestampDocument later = document(3, kOld);
    EXPECT_TRUE(cache.record(later));
    EXPECT_EQ(cache.find(kRepo), later);

    // Another repository sits beside it.
    TimestampDocument other = document(1, kOld);
    other.repository = "registry.example:443/gold/alpine";
    EXPECT_TRUE(cache.record(other));
    EXPECT_EQ(cache.documents().size(), 2u);
    EXPECT_EQ(cache.find(kRepo), later);
    EXPECT_EQ(cache.find(other.repository), other);
    EXPECT_FALSE(cache.find("127.0.0.1:5000/gold/none"));

    // No temporary file is left behind; the lock file stays beside the cache.
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir_.file("state/deeper")))
        names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"timestamps.json", "timestamps.json.lock"}));
}

TEST_F(TimestampCacheTest, ADamagedFileIsReportedWithItsPathTreatedAsEmptyAndReplaced) {
    std::filesystem::create_directories(dir_.file("state/deeper"));
    const std::map<std::string, std::string> damaged{
        {"not JSON", "{\"127.0.0.1:5000/gold/debian\": {"},
        {"not a JSON object", "[1, 2]"},
        {"\"version\"",
         R"({"r/x": {"repository": "r/x", "version": "2", "expires": 1, "tags": {}}})"},
        {"does not name a sha256 digest",
         R"({"r/x": {"repository": "r/x", "version": 2, "expires": 1, "tags": {"stable": "md5:1"}}})"},
        {"not the entry's name",
         R"({"r/x": {"repository": "r/y", "version": 2, "expires": 1, "tags": {}}})"},
        {"unknown field",
         R"({"r/x": {"repository": "r/x", "version": 2, "expires": 1, "tags": {}, "x": 1}})"},
    };
    for (const auto& [why, text] : damaged) {
        SCOPED_TRACE(why);
        test::writeFile(path(), text);
        TimestampCache cache(path());
        EXPECT_TRUE(cache.documents().empty());
        EXPECT_NE(cache.problem().find(path()), std::string::npos) << cache.problem();
        EXPECT_NE(cache.problem().find(why), std::string::npos) << cache.problem();
        EXPECT_FALSE(cache.find(kRepo));

        EXPECT_TRUE(cache.record(document(1, kOld)));
        EXPECT_NE(cache.problem().find("replaced it"), std::string::npos)
            << "the record says it replaced a damaged file: " << cache.problem();
        TimestampCache again(path());
        EXPECT_EQ(again.find(kRepo), document(1, kOld));
        EXPECT_TRUE(again.problem().empty()) << again.problem();
    }
}

TEST_F(TimestampCacheTest, RecordingForAPullNeverThrows) {
    // A directory where the cache file should be: it can be neither read nor replaced.
    std::filesystem::create_directories(path());
    const std::string problem = recordTimestamp(document(1, kOld), path());
    EXPECT_NE(problem.find(kRepo), std::string::npos) << problem;
    EXPECT_NE(problem.find(path()), std::string::npos) << problem;
    EXPECT_EQ(recordTimestamp(document(1, kOld), dir_.file("fine.json")), "");
    EXPECT_EQ(TimestampCache(dir_.file("fine.json")).find(kRepo), document(1, kOld));
}

// End to end against the registry ------------------------------------------------------------

class ChannelNewsAgainstRegistry : public ::testing::Test {
protected:
    void SetUp() override {
        ::setenv("XDG_CONFIG_HOME", dir_.file("config").c_str(), 1);
        ::setenv("XDG_STATE_HOME", dir_.file("state").c_str(), 1);
        for (int i = 0; i < 2; ++i) {
            const std::string disk = dir_.file("disk" + std::to_string(i) + ".img");
            std::string bytes = test::diskLikeBytes(1u << 20, 7);
            bytes[4096] = static_cast<char>(i + 1);  // a security release changes a little
            test::writeFile(disk, bytes);
            const std::string manifest = test::testManifestJson("12." + std::to_string(i + 1));
            oci::writeImageToLayout(dir_.file("source"), disk, manifest,
                                    sign::signMinisign(key_, manifest, "image", "test"),
                                    "v" + std::to_string(i));
        }
        ServiceOptions options;
        options.root = dir_.file("registry");
        options.http.port = 0;
        options.http.threads = 2;
        options.gcInterval = std::chrono::seconds(0);
        service_ = std::make_unique<RegistryService>(options);
        service_->start();
        host_ = "127.0.0.1:" + std::to_string(service_->port());
        TrustPolicy::load(dir_.file("trust.yaml")).add(host_ + "/gold/*", key_.publicPart());
    }

    Reference ref(const std::string& tag) const {
        return parseReference(host_ + "/gold/debian:" + tag);
    }
    TransferOptions options() const {
        TransferOptions o;
        o.progress = false;
        o.session.firstBackoff = std::chrono::milliseconds(20);
        o.freshnessState = dir_.file("freshness.json");
        o.timestampCache = dir_.file("timestamps.json");
        return o;
    }
    std::string push(const std::string& sourceTag, const std::string& tag) {
        return pushImage(dir_.file("source"), sourceTag, ref(tag), std::nullopt, options()).digest;
    }
    TimestampDocument signTimestamp(std::optional<uint64_t> version = std::nullopt) {
        RegistrySession session(ref("stable"), std::nullopt);
        return publishTimestamp(session, key_, std::chrono::hours(24), version);
    }
    std::optional<TimestampDocument> refresh(TimestampCache& cache) {
        FreshnessState state(dir_.file("freshness.json"));
        return refreshTimestamp(ref("stable"), TrustPolicy::load(dir_.file("trust.yaml")),
                                std::nullopt, quickSessionOptions(), {}, cache, state);
    }

    test::TempDir dir_;
    sign::MinisignSecretKey key_ = sign::generateMinisignKey();
    std::unique_ptr<RegistryService> service_;
    std::string host_;
};

TEST_F(ChannelNewsAgainstRegistry, APullRecordsTheDocumentAndARefreshSeesTheNewerRelease) {
    const std::string first = push("v0", "12.1");
    EXPECT_EQ(push("v0", "stable"), first);
    EXPECT_EQ(signTimestamp().version, 1u);

    const std::string layout = dir_.file("store");
    const std::string name = ref("stable").str();
    auto pulled = pullImage(ref("stable"), layout, name, TrustPolicy::load(dir_.file("trust.yaml")),
                            std::nullopt, options());
    EXPECT_EQ(pulled.digest, first);
    EXPECT_TRUE(pulled.notes.empty());
    TimestampCache cache(dir_.file("timestamps.json"));
    ASSERT_TRUE(cache.find(host_ + "/gold/debian"));
    EXPECT_EQ(cache.find(host_ + "/gold/debian")->version, 1u);
    EXPECT_FALSE(newerReleaseOf(cache.documents(), name, first));

    // The nightly rollout: a new version tag, `stable` moved to it, the document re-signed.
    const std::string second = push("v1", "12.2");
    ASSERT_NE(second, first);
    EXPECT_EQ(push("v1", "stable"), second);
    EXPECT_EQ(signTimestamp().version, 2u);
    EXPECT_FALSE(newerReleaseOf(cache.documents(), name, first)) << "nothing fetched yet";

    auto refreshed = refresh(cache);
    ASSERT_TRUE(refreshed);
    EXPECT_EQ(refreshed->version, 2u);
    EXPECT_EQ(cache.find(host_ + "/gold/debian")->version, 2u);
    EXPECT_EQ(FreshnessState(dir_.file("freshness.json")).highest(host_ + "/gold/debian"), 2u);
    auto newer = newerReleaseOf(cache.documents(), name, first);
    ASSERT_TRUE(newer);
    EXPECT_EQ(*newer, (NewerRelease{second, {"12.2"}}));
    // Only news: the store's image is the one pulled.
    EXPECT_EQ(oci::resolveTag(layout, name).digest, first);

    // A document the registry rolls back to is refused and recorded nowhere.
    signTimestamp(1);
    try {
        refresh(cache);
        ADD_FAILURE() << "a rolled-back document was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), ExitStatus::kVerification);
        EXPECT_NE(std::string(e.what()).find("rollback refused"), std::string::npos) << e.what();
    }
    EXPECT_EQ(cache.find(host_ + "/gold/debian")->version, 2u);
}

TEST_F(ChannelNewsAgainstRegistry, ARefreshRefusesADocumentSignedByAnUntrustedKey) {
    push("v0", "stable");
    RegistrySession session(ref("stable"), std::nullopt);
    publishTimestamp(session, sign::generateMinisignKey(), std::chrono::hours(1));
    TimestampCache cache(dir_.file("timestamps.json"));
    test::expectError([&] { refresh(cache); }, {"does not trust", host_ + "/gold/debian"});
    EXPECT_TRUE(cache.documents().empty());
}

TEST_F(ChannelNewsAgainstRegistry, AnUnreachableRegistryFailsQuicklyAndLeavesTheCache) {
    push("v0", "stable");
    signTimestamp();
    TimestampCache cache(dir_.file("timestamps.json"));
    ASSERT_TRUE(refresh(cache));
    service_->stop();
    service_.reset();
    const auto start = std::chrono::steady_clock::now();
    EXPECT_THROW(refresh(cache), Error);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
    EXPECT_EQ(cache.find(host_ + "/gold/debian")->version, 1u);
}

TEST_F(ChannelNewsAgainstRegistry, ARepositoryWithoutADocumentHasNoNews) {
    push("v0", "stable");
    TimestampCache cache(dir_.file("timestamps.json"));
    EXPECT_FALSE(refresh(cache));
    EXPECT_TRUE(cache.documents().empty());
}

}  // namespace
}  // namespace ingot::registry
