// `ingot images`, `ingot ps` and `ingot run` as users run them, against ingot's own registry in
// process: after a rollout moves `stable` to a new version and re-signs the freshness document,
// the image and its clone are marked with the newer release, `ingot run` warns and still uses
// the image in the store, and a damaged cache or an unreachable registry is a note, not a
// failure.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "ChannelNews.h"
#include "CliTestSupport.h"
#include "Freshness.h"
#include "RegistrySession.h"
#include "Transfer.h"
#include "TrustPolicy.h"
#include "ingot/image/DiskImage.h"
#include "ingot/oci/Layout.h"
#include "ingot/store/Store.h"
#include "server/RegistryService.h"

#ifndef INGOT_CLI
#error "INGOT_CLI must name the ingot binary (tests/unit/cli/CMakeLists.txt)"
#endif

namespace ingot::test {
namespace {

using nlohmann::json;

class ReleaseNewsCli : public ::testing::Test {
protected:
    void SetUp() override {
        writeText(dir_.file("vmlinuz"), randomBytes(300001, 1));
        for (int i = 0; i < 2; ++i) {
            image::DiskImageInput input;
            input.name = "gold/debian";
            input.version = "12." + std::to_string(i + 1);
            input.created = 1700000000;
            input.cmdline = "console=ttyS0";
            input.kernelPath = dir_.file("vmlinuz");
            const std::string disk = dir_.file("disk" + std::to_string(i) + ".img");
            image::DiskImage written = image::writeDiskImage(input, key_, disk);
            oci::writeImageToLayout(dir_.file("source"), disk, written.manifestText,
                                    written.signature, "v" + std::to_string(i));
        }
        registry::ServiceOptions options;
        options.root = dir_.file("registry");
        options.http.port = 0;
        options.http.threads = 2;
        options.gcInterval = std::chrono::seconds(0);
        service_ = std::make_unique<registry::RegistryService>(options);
        service_->start();
        host_ = "127.0.0.1:" + std::to_string(service_->port());
        registry::TrustPolicy::load(dir_.file("trust.yaml"))
            .add(host_ + "/gold/*", key_.publicPart());
        stable_ = host_ + "/gold/debian:stable";
    }

    CommandResult ingot(const std::string& arguments) {
        return runCommand(dir_.path(), "XDG_DATA_HOME=" + shellQuote(dir_.file("data")) +
                                           " XDG_STATE_HOME=" + shellQuote(dir_.file("state")) +
                                           " XDG_CONFIG_HOME=" + shellQuote(dir_.file("config")) +
                                           " " + shellQuote(INGOT_CLI) + " " + arguments);
    }
    // What `ingot rollout` publishes: the image under a version tag, `stable` moved to it, the
    // freshness document re-signed.
    std::string release(const std::string& sourceTag, const std::string& version) {
        registry::TransferOptions o;
        o.progress = false;
        const std::string digest =
            registry::pushImage(dir_.file("source"), sourceTag,
                                registry::parseReference(host_ + "/gold/debian:" + version),
                                std::nullopt, o)
                .digest;
        registry::pushImage(dir_.file("source"), sourceTag, registry::parseReference(stable_),
                            std::nullopt, o);
        registry::RegistrySession session(registry::parseReference(stable_), std::nullopt);
        registry::publishTimestamp(session, key_, std::chrono::hours(24));
        return digest;
    }
    json imagesJson(const std::string& extra = "") {
        CommandResult r = ingot("images --json " + extra);
        EXPECT_EQ(r.status, 0) << r.err;
        return json::parse(r.out);
    }

    TempDir dir_;
    sign::MinisignSecretKey key_ = sign::generateMinisignKey();
    std::unique_ptr<registry::RegistryService> service_;
    std::string host_, stable_;
};

TEST_F(ReleaseNewsCli, ImagesPsAndRunMarkAChannelThatMovedOn) {
    const std::string first = release("v0", "12.1");
    CommandResult pull = ingot("pull " + stable_ + " --trust trust.yaml");
    ASSERT_EQ(pull.status, 0) << pull.err;
    EXPECT_TRUE(std::filesystem::exists(dir_.file("state/ingot/timestamps.json")))
        << "the pull records the document it verified";

    json images = imagesJson();
    ASSERT_EQ(images.size(), 1u) << images;
    EXPECT_EQ(images[0]["digest"], first);
    EXPECT_TRUE(images[0]["newerRelease"].is_null()) << images;
    CommandResult table = ingot("images");
    EXPECT_NE(table.out.find("NEWER"), std::string::npos) << table.out;

    // A clone of it, made as `ingot run` makes one (no monitor needed for `ps -a`).
    store::Store(dir_.file("data/ingot")).createVm("qa-7", stable_, 1, 64 << 20);

    const std::string second = release("v1", "12.2");
    ASSERT_NE(second, first);
    EXPECT_TRUE(imagesJson()[0]["newerRelease"].is_null()) << "not refreshed yet";

    images = imagesJson("--refresh --trust trust.yaml");
    EXPECT_EQ(images[0]["newerRelease"], (json{{"digest", second}, {"tags", {"12.2"}}})) << images;
    EXPECT_EQ(images[0]["digest"], first) << "a refresh replaces nothing";
    table = ingot("images");
    ASSERT_EQ(table.status, 0) << table.err;
    EXPECT_NE(table.out.find(first.substr(7, 12) + "   "), std::string::npos) << table.out;
    EXPECT_NE(table.out.find(" 12.2 "), std::string::npos) << table.out;

    CommandResult ps = ingot("ps -a --json");
    ASSERT_EQ(ps.status, 0) << ps.err;
    json clones = json::parse(ps.out);
    ASSERT_EQ(clones.size(), 1u) << clones;
    EXPECT_EQ(clones[0]["newerRelease"], (json{{"digest", second}, {"tags", {"12.2"}}})) << clones;
    ps = ingot("ps -a");
    EXPECT_NE(ps.out.find("NEWER"), std::string::npos) << ps.out;
    EXPECT_NE(ps.out.find("stopped  -        -        12.2 "), std::string::npos) << ps.out;

    // `ingot run` of the store's image warns once and goes on with that image (here as far as
    // the clone name, which is taken: nothing boots in a unit test).
    CommandResult run = ingot("run " + stable_ + " --name qa-7 --trust trust.yaml");
    EXPECT_EQ(run.status, 2) << run.err;
    const std::string warning =
        "ingot: " + stable_ + ": a newer release is published: stable now names 12.2 (" +
        second.substr(0, 19) + "…); this clone runs the image in the store (" +
        first.substr(0, 19) + "…); `ingot pull " + stable_ + "` fetches it\n";
    EXPECT_NE(run.err.find(warning), std::string::npos) << run.err;
    EXPECT_EQ(imagesJson()[0]["digest"], first);

    // With the registry gone, run says so in one line and goes by the recorded document.
    service_->stop();
    run = ingot("run " + stable_ + " --name qa-7 --trust trust.yaml");
    EXPECT_EQ(run.status, 2) << run.err;
    EXPECT_NE(run.err.find("ingot: " + host_ + "/gold/debian: cannot check for newer releases"),
              std::string::npos)
        << run.err;
    EXPECT_NE(run.err.find(warning), std::string::npos) << run.err;
    CommandResult offline = ingot("images --refresh --trust trust.yaml");
    EXPECT_EQ(offline.status, 0) << offline.err;
    EXPECT_NE(offline.out.find(" 12.2 "), std::string::npos) << offline.out;
}

TEST_F(ReleaseNewsCli, ADamagedCacheIsANoteAndLocalImagesAreNeverMarked) {
    const std::string first = release("v0", "12.1");
    ASSERT_EQ(ingot("pull " + stable_ + " --trust trust.yaml").status, 0);
    // An image imported from a local layout, and a document that (impossibly) speaks for
    // "local/gold/debian": a local image still gets no mark.
    oci::writeImageToLayout(
        dir_.file("data/ingot"), dir_.file("disk1.img"),
        oci::readImage(dir_.file("source"), "v1").manifestJson,
        oci::readSignature(dir_.file("source"), oci::resolveTag(dir_.file("source"), "v1").digest),
        "local/gold/debian:stable");
    registry::TimestampDocument local{"local/gold/debian", 1, 1900000000, {{"stable", first}}};
    registry::TimestampCache(dir_.file("state/ingot/timestamps.json")).record(local);
    json images = imagesJson();
    ASSERT_EQ(images.size(), 2u) << images;
    for (const json& image : images) EXPECT_TRUE(image["newerRelease"].is_null()) << image;

    writeText(dir_.file("state/ingot/timestamps.json"), "{\"truncated\": ");
    for (const char* verb : {"images", "ps -a"}) {
        CommandResult r = ingot(verb);
        EXPECT_EQ(r.status, 0) << verb << ": " << r.err;
        EXPECT_NE(r.err.find(dir_.file("state/ingot/timestamps.json") +
                             ": not JSON: parse error at line 1"),
                  std::string::npos)
            << verb << ": " << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
    // The next refresh replaces it, and says so.
    CommandResult refresh = ingot("images --refresh --trust trust.yaml");
    ASSERT_EQ(refresh.status, 0) << refresh.err;
    EXPECT_NE(refresh.err.find("replaced it"), std::string::npos) << refresh.err;
    CommandResult again = ingot("images");
    EXPECT_EQ(again.err, "");
}

}  // namespace
}  // namespace ingot::test
