// skopeo moves images through our registry with no ingot code on its side: an OCI layout pushed
// with `skopeo copy oci:… docker://…` reads back with `skopeo inspect --raw` as the same bytes
// and copies back into a layout with every digest kept; an ingot-style artifact (custom config
// media type, artifactType) and its signature tag travel the same way.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "../../support/ShellTools.h"
#include "../../support/TempDir.h"
#include "ingot/core/Sha256.h"
#include "server/Access.h"
#include "server/RegistryService.h"

namespace ingot {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::quote;

std::string& skopeo() {
    static std::string path;
    return path;
}

std::string readText(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string digestOf(const std::string& bytes) {
    return "sha256:" + toHex(sha256(bytes));
}

// A one-manifest OCI image layout at `dir`, tagged `tag`; returns the manifest bytes.
std::string writeLayout(const std::string& dir, const std::string& tag, const std::string& config,
                        const std::string& configType, const std::string& layer,
                        const std::string& artifactType) {
    fs::create_directories(dir + "/blobs/sha256");
    auto put = [&](const std::string& bytes) {
        std::ofstream(dir + "/blobs/sha256/" + toHex(sha256(bytes)), std::ios::binary) << bytes;
    };
    put(config);
    put(layer);
    json manifest = {
        {"schemaVersion", 2},
        {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
        {"config",
         {{"mediaType", configType}, {"digest", digestOf(config)}, {"size", config.size()}}},
        {"layers", json::array({{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                                 {"digest", digestOf(layer)},
                                 {"size", layer.size()}}})}};
    if (!artifactType.empty()) manifest["artifactType"] = artifactType;
    std::string bytes = manifest.dump();
    put(bytes);
    json index = {{"schemaVersion", 2},
                  {"manifests",
                   json::array({{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                 {"digest", digestOf(bytes)},
                                 {"size", bytes.size()},
                                 {"annotations", {{"org.opencontainers.image.ref.name", tag}}}}})}};
    std::ofstream(dir + "/index.json") << index.dump();
    std::ofstream(dir + "/oci-layout") << R"({"imageLayoutVersion":"1.0.0"})";
    return bytes;
}

class SkopeoRegistry : public ::testing::Test {
protected:
    void SetUp() override { start(""); }

    void start(const std::string& authFile) {
        service.reset();
        registry::ServiceOptions options;
        options.authFile = authFile;
        options.root = dir / "root";
        options.http.port = 0;
        options.gcInterval = std::chrono::seconds(0);
        service = std::make_unique<registry::RegistryService>(options);
        service->start();
        host = "127.0.0.1:" + std::to_string(service->port());
        std::ofstream(dir / "policy.json") << R"({"default":[{"type":"insecureAcceptAnything"}]})";
        tool = skopeo() + " --policy " + quote(dir / "policy.json");
    }

    test::ShellResult run(const std::string& arguments) {
        test::ShellResult r = test::runShell(tool + " " + arguments);
        if (r.status != 0) ADD_FAILURE() << "skopeo " << arguments << "\n" << r.output;
        return r;
    }

    test::TempDir dir;
    std::unique_ptr<registry::RegistryService> service;
    std::string host, tool;
};

TEST_F(SkopeoRegistry, CopiesALayoutThroughTheRegistryAndBack) {
    std::string config =
        R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})";
    std::string manifest =
        writeLayout(dir / "src", "v1", config, "application/vnd.oci.image.config.v1+json",
                    std::string(300000, 'z'), "");
    std::string remote = "docker://" + host + "/gold/test:v1";
    run("copy --preserve-digests --dest-tls-verify=false " + quote("oci:" + (dir / "src") + ":v1") +
        " " + quote(remote));
    test::ShellResult raw = run("inspect --raw --tls-verify=false " + quote(remote));
    EXPECT_EQ(raw.output, manifest);
    run("copy --preserve-digests --src-tls-verify=false " + quote(remote) + " " +
        quote("oci:" + (dir / "dst") + ":v1"));
    json index = json::parse(readText(dir / "dst/index.json"));
    ASSERT_EQ(index["manifests"].size(), 1u);
    EXPECT_EQ(index["manifests"][0]["digest"], digestOf(manifest));
    EXPECT_EQ(readText(dir / ("dst/blobs/sha256/" + toHex(sha256(manifest)))), manifest);
    EXPECT_EQ(readText(dir / ("dst/blobs/sha256/" + toHex(sha256(config)))), config);
}

TEST_F(SkopeoRegistry, CopiesAnIngotArtifactAndItsSignatureTag) {
    std::string manifest = writeLayout(dir / "art", "12", R"({"name":"gold/debian"})",
                                       "application/vnd.ingot.manifest.v1+json", "chunk bytes",
                                       "application/vnd.ingot.image.v1");
    std::string remote = "docker://" + host + "/gold/debian";
    run("copy --preserve-digests --dest-tls-verify=false " + quote("oci:" + (dir / "art") + ":12") +
        " " + quote(remote + ":12"));
    std::string sigTag = "sha256-" + toHex(sha256(manifest)) + ".sig";
    std::string signature =
        writeLayout(dir / "sig", sigTag, "{}", "application/vnd.oci.empty.v1+json",
                    "untrusted comment: x\n", "application/vnd.ingot.signature.v1");
    run("copy --preserve-digests --dest-tls-verify=false " +
        quote("oci:" + (dir / "sig") + ":" + sigTag) + " " + quote(remote + ":" + sigTag));
    EXPECT_EQ(run("inspect --raw --tls-verify=false " + quote(remote + ":12")).output, manifest);
    EXPECT_EQ(run("inspect --raw --tls-verify=false " + quote(remote + ":" + sigTag)).output,
              signature);
    test::ShellResult tags = run("list-tags --tls-verify=false " + quote(remote));
    EXPECT_NE(tags.output.find(sigTag), std::string::npos) << tags.output;
    run("copy --preserve-digests --src-tls-verify=false " + quote(remote + ":12") + " " +
        quote("oci:" + (dir / "back") + ":12"));
    EXPECT_EQ(readText(dir / ("back/blobs/sha256/" + toHex(sha256(manifest)))), manifest);
}

// skopeo, like docker, follows our Bearer challenge to our token endpoint with its credentials:
// a pushing user pushes, a pull-only user pulls and is refused a push.
TEST_F(SkopeoRegistry, LogsInThroughTheTokenFlow) {
    json auth = {{"challenge", "bearer"},
                 {"users", {{"ci", registry::hashPassword("ci-pw", 1000)},
                            {"qa", registry::hashPassword("qa-pw", 1000)}}},
                 {"rules", json::array({{{"repository", "gold/*"},
                                         {"users", {"ci"}},
                                         {"rights", {"pull", "push"}}},
                                        {{"repository", "gold/*"},
                                         {"users", {"qa"}},
                                         {"rights", {"pull"}}}})}};
    std::ofstream(dir / "auth.json") << auth.dump();
    start(dir / "auth.json");
    std::string manifest = writeLayout(dir / "src", "v1", "{}", "application/vnd.oci.image.config.v1+json",
                                       std::string(5000, 'q'), "");
    std::string remote = "docker://" + host + "/gold/locked:v1";
    std::string source = quote("oci:" + (dir / "src") + ":v1");
    test::ShellResult anonymous =
        test::runShell(tool + " copy --dest-tls-verify=false " + source + " " + quote(remote));
    EXPECT_NE(anonymous.status, 0) << anonymous.output;
    test::ShellResult reader = test::runShell(tool + " copy --dest-tls-verify=false --dest-creds qa:qa-pw " +
                                              source + " " + quote(remote));
    EXPECT_NE(reader.status, 0) << reader.output;
    run("copy --preserve-digests --dest-tls-verify=false --dest-creds ci:ci-pw " + source + " " +
        quote(remote));
    EXPECT_EQ(run("inspect --raw --tls-verify=false --creds qa:qa-pw " + quote(remote)).output,
              manifest);
}

}  // namespace
}  // namespace ingot

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ingot::skopeo() = ingot::test::findProgram("skopeo");
    if (ingot::skopeo().empty()) {
        std::fprintf(stderr, "skopeo not found; skipping\n");
        return 77;
    }
    return RUN_ALL_TESTS();
}
