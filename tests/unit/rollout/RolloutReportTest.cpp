// The night's report in its three renderings, from one hand-built night: an image published
// with three package changes, one with nothing to do, one whose smoke boot failed, and one
// freshness document signed, one not.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "Contains.h"
#include "ingot/rollout/RolloutReport.h"

namespace ingot::rollout {
namespace {

using nlohmann::json;

const std::string kNewDigest = "sha256:" + std::string(64, 'b');
const std::string kOldDigest = "sha256:" + std::string(64, 'a');

RunReport night() {
    RunReport r;
    r.registry = "registry.example:5000";
    r.started = 1763949600;  // 2025-11-24T02:00:00Z
    r.seconds = 754.0;
    r.runDirectory = "/var/lib/ingot/rollout/runs/20251124T020000Z";

    ImageOutcome published;
    published.repository = "gold/debian";
    published.channel = "stable";
    published.result = "published";
    published.previousVersion = "12.20251101";
    published.previousDigest = kOldDigest;
    published.version = "12.20251124";
    published.digest = kNewDigest;
    published.changes = {
        {"openssl", "3.0.15-1~deb12u1", "3.0.17-1~deb12u2", {"CVE-2025-9230", "CVE-2025-9232"}},
        {"libc6", "2.36-9+deb12u10", "2.36-9+deb12u13", {"CVE-2025-4802", "CVE-2025-9230"}},
        {"linux|image", "", "6.1.158-1", {}},
    };
    published.downloadBytes = 12ull << 20;
    published.imageBytes = 512ull << 20;
    published.pushedBytes = 13ull << 20;
    published.smoke = {"passed", "", 21.5,
                       "/var/lib/ingot/rollout/runs/x/gold+debian/smoke-console.log"};
    published.candidate = "/var/lib/ingot/rollout/images/gold+debian/candidate";
    r.images.push_back(published);

    ImageOutcome unchanged;
    unchanged.repository = "gold/minimal";
    unchanged.channel = "stable";
    unchanged.result = "unchanged";
    unchanged.previousVersion = "1.0";
    unchanged.previousDigest = "sha256:" + std::string(64, 'c');
    r.images.push_back(unchanged);

    ImageOutcome failed;
    failed.repository = "gold/tools";
    failed.channel = "edge";
    failed.result = "failed";
    failed.previousVersion = "2.20251101";
    failed.version = "2.20251124";
    failed.digest = "sha256:" + std::string(64, 'd');
    failed.changes = {{"curl", "7.88.1-10+deb12u12", "7.88.1-10+deb12u14", {"CVE-2025-0725"}}};
    failed.smoke = {"failed", "'false' exited 1", 33.0,
                    "/var/lib/ingot/rollout/runs/x/gold+tools/smoke-console.log"};
    failed.candidate = "/var/lib/ingot/rollout/images/gold+tools/candidate";
    failed.error = "smoke boot failed: 'false' exited 1";
    r.images.push_back(failed);

    r.timestamps = {{"registry.example:5000/gold/debian", 42, 1764554400, ""},
                    {"registry.example:5000/gold/minimal", 0, 0, "HTTP 503 from the registry"}};
    return r;
}

// The report of a night where nothing went wrong.
RunReport quietNight() {
    RunReport r = night();
    r.images.pop_back();
    r.timestamps.pop_back();
    return r;
}

std::vector<std::string> linesOf(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

TEST(RolloutRunReport, FailedWhenAnImageFailedOrAFreshnessDocumentWasNotSigned) {
    EXPECT_TRUE(night().failed());
    EXPECT_FALSE(quietNight().failed());

    RunReport unsigned_ = quietNight();
    unsigned_.timestamps[0].error = "refused";
    EXPECT_TRUE(unsigned_.failed());

    RunReport imageFailed = quietNight();
    imageFailed.images[1].result = "failed";
    EXPECT_TRUE(imageFailed.failed());

    EXPECT_FALSE(RunReport{}.failed());
}

TEST(RolloutReport, Json) {
    const json j = reportToJson(night());
    EXPECT_EQ(j["registry"], "registry.example:5000");
    EXPECT_EQ(j["started"], "2025-11-24T02:00:00Z");
    EXPECT_EQ(j["seconds"], 754.0);
    EXPECT_EQ(j["runDirectory"], "/var/lib/ingot/rollout/runs/20251124T020000Z");
    EXPECT_EQ(j["failed"], true);
    ASSERT_EQ(j["images"].size(), 3u);

    const json& p = j["images"][0];
    EXPECT_EQ(p["repository"], "gold/debian");
    EXPECT_EQ(p["channel"], "stable");
    EXPECT_EQ(p["result"], "published");
    EXPECT_EQ(p["previous"]["version"], "12.20251101");
    EXPECT_EQ(p["previous"]["digest"], kOldDigest);
    EXPECT_EQ(p["version"], "12.20251124");
    EXPECT_EQ(p["digest"], kNewDigest);
    // Every CVE the night fixed in the image, once each, sorted.
    EXPECT_EQ(p["cves"], json({"CVE-2025-4802", "CVE-2025-9230", "CVE-2025-9232"}));
    ASSERT_EQ(p["packages"].size(), 3u);
    EXPECT_EQ(p["packages"][0]["package"], "openssl");
    EXPECT_EQ(p["packages"][0]["from"], "3.0.15-1~deb12u1");
    EXPECT_EQ(p["packages"][0]["to"], "3.0.17-1~deb12u2");
    EXPECT_EQ(p["packages"][0]["cves"], json({"CVE-2025-9230", "CVE-2025-9232"}));
    EXPECT_EQ(p["packages"][2]["package"], "linux|image");
    EXPECT_EQ(p["packages"][2]["from"], "");
    EXPECT_TRUE(p["packages"][2]["cves"].is_array());
    EXPECT_TRUE(p["packages"][2]["cves"].empty());
    EXPECT_EQ(p["downloadBytes"], 12u << 20);
    EXPECT_EQ(p["imageBytes"], 512u << 20);
    EXPECT_EQ(p["pushedBytes"], 13u << 20);
    EXPECT_EQ(p["smoke"]["result"], "passed");
    EXPECT_EQ(p["smoke"]["seconds"], 21.5);
    EXPECT_EQ(p["error"], "");

    const json& u = j["images"][1];
    EXPECT_EQ(u["result"], "unchanged");
    EXPECT_EQ(u["previous"]["version"], "1.0");
    EXPECT_EQ(u["version"], "");
    EXPECT_TRUE(u["cves"].is_array());
    EXPECT_TRUE(u["cves"].empty());
    EXPECT_EQ(u["smoke"]["result"], "skipped");

    const json& f = j["images"][2];
    EXPECT_EQ(f["result"], "failed");
    EXPECT_EQ(f["smoke"]["result"], "failed");
    EXPECT_EQ(f["smoke"]["reason"], "'false' exited 1");
    EXPECT_EQ(f["error"], "smoke boot failed: 'false' exited 1");
    EXPECT_EQ(f["candidate"], "/var/lib/ingot/rollout/images/gold+tools/candidate");

    ASSERT_EQ(j["timestamps"].size(), 2u);
    EXPECT_EQ(j["timestamps"][0]["repository"], "registry.example:5000/gold/debian");
    EXPECT_EQ(j["timestamps"][0]["version"], 42);
    EXPECT_EQ(j["timestamps"][0]["expires"], 1764554400);
    EXPECT_EQ(j["timestamps"][0]["error"], "");
    EXPECT_EQ(j["timestamps"][1]["error"], "HTTP 503 from the registry");

    EXPECT_EQ(reportToJson(quietNight())["failed"], false);
    // What report.json holds survives a round trip through its text.
    EXPECT_EQ(json::parse(j.dump(2)), j);
}

TEST(RolloutReport, Text) {
    const std::string text = reportToText(night());
    const std::vector<std::string> lines = linesOf(text);
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines[0], "rollout 2025-11-24T02:00:00Z to registry.example:5000: 754.0 s, FAILED");
    EXPECT_CONTAINS(text,
                    "  gold/debian:stable  published  12.20251101 → 12.20251124 (bbbbbbbbbbbb)\n");
    EXPECT_CONTAINS(
        text, "    3 package(s), 3 CVE(s); clients download 12 MiB of 512 MiB; pushed 13 MiB\n");
    EXPECT_CONTAINS(
        text, "    openssl 3.0.15-1~deb12u1 → 3.0.17-1~deb12u2 (CVE-2025-9230, CVE-2025-9232)\n");
    EXPECT_CONTAINS(text, "    linux|image (new) → 6.1.158-1\n");
    EXPECT_CONTAINS(text, "    smoke: passed in 21.5 s\n");
    // An image that stayed names its version only, with no arrow.
    EXPECT_CONTAINS(text, "  gold/minimal:stable  unchanged  1.0\n");
    EXPECT_CONTAINS(text, "  gold/tools:edge  failed  2.20251101 → 2.20251124 (dddddddddddd)\n");
    EXPECT_CONTAINS(text, "    1 package(s), 1 CVE(s)\n");  // no download line: nothing moved
    EXPECT_CONTAINS(text, "    smoke: failed in 33.0 s: 'false' exited 1\n");
    EXPECT_CONTAINS(text, "    error: smoke boot failed: 'false' exited 1\n");
    EXPECT_CONTAINS(text,
                    "    candidate kept: /var/lib/ingot/rollout/images/gold+tools/candidate\n");
    EXPECT_CONTAINS(text,
                    "  registry.example:5000/gold/debian  freshness version 42, expires "
                    "2025-12-01T02:00:00Z\n");
    EXPECT_CONTAINS(
        text,
        "  registry.example:5000/gold/minimal  freshness NOT signed: HTTP 503 from the registry\n");
    // Only a failed image keeps its candidate.
    EXPECT_EQ(text.find("candidate kept: /var/lib/ingot/rollout/images/gold+debian"),
              std::string::npos);

    const std::string quiet = reportToText(quietNight());
    EXPECT_LACKS(quiet, "FAILED");
    EXPECT_LACKS(quiet, "candidate kept");
}

TEST(RolloutReport, Markdown) {
    const std::string md = reportToMarkdown(night());
    EXPECT_CONTAINS(md, "# Rollout 2025-11-24T02:00:00Z\n");
    EXPECT_CONTAINS(md, "Registry `registry.example:5000`, 754.0 s, **failed**.");

    // One table row per image, in the summary table.
    std::vector<std::string> rows;
    for (const std::string& line : linesOf(md))
        if (line.rfind("| `", 0) == 0) rows.push_back(line);
    ASSERT_EQ(rows.size(), 3u) << md;
    EXPECT_EQ(rows[0],
              "| `gold/debian:stable` | published | 12.20251101 → 12.20251124 | 3 | 3 | 12 MiB | "
              "passed |");
    EXPECT_EQ(rows[1], "| `gold/minimal:stable` | unchanged | 1.0 | 0 | 0 | - | skipped |");
    EXPECT_EQ(rows[2],
              "| `gold/tools:edge` | failed | 2.20251101 → 2.20251124 | 1 | 1 | - | failed |");

    // Package rows: a '|' in a cell is escaped so the table keeps its columns.
    EXPECT_CONTAINS(
        md, "| openssl | 3.0.15-1~deb12u1 | 3.0.17-1~deb12u2 | CVE-2025-9230, CVE-2025-9232 |\n");
    EXPECT_CONTAINS(md, "| linux\\|image | (new) | 6.1.158-1 |  |\n");
    EXPECT_LACKS(md, "| linux|image");
    EXPECT_CONTAINS(md, "## gold/tools\n");
    EXPECT_CONTAINS(md, "Error: smoke boot failed: 'false' exited 1\n");
    EXPECT_CONTAINS(md,
                    "Smoke failed: 'false' exited 1 (console: "
                    "`/var/lib/ingot/rollout/runs/x/gold+tools/smoke-console.log`)");
    EXPECT_LACKS(md, "## gold/minimal");  // nothing to say beyond its row
    EXPECT_CONTAINS(
        md, "- `registry.example:5000/gold/debian`: version 42, expires 2025-12-01T02:00:00Z\n");
    EXPECT_CONTAINS(
        md, "- `registry.example:5000/gold/minimal`: **not signed**: HTTP 503 from the registry\n");

    RunReport piped = night();
    piped.images[2].error = "a | b\nc";
    EXPECT_CONTAINS(reportToMarkdown(piped), "Error: a \\| b c\n");

    EXPECT_CONTAINS(reportToMarkdown(quietNight()), "succeeded.");
}

}  // namespace
}  // namespace ingot::rollout
