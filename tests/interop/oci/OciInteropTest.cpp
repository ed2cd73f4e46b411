// skopeo reads and copies ingot images in OCI layouts with no ingot code involved: `skopeo
// inspect --raw` returns our image manifest byte for byte and `skopeo copy` between two layouts
// keeps every digest, so what the local store holds is what any OCI tool moves. Exits 77
// (skipped) when skopeo is missing.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "../../support/ShellTools.h"
#include "../../support/TempDir.h"
#include "ingot/image/Manifest.h"
#include "ingot/oci/Layout.h"

namespace ingot {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::quote;

std::string& skopeo() {
    static std::string path;
    return path;
}

using Result = test::ShellResult;

Result run(const std::string& command) {
    return test::runShell(command, {}, /*mergeStderr=*/false);
}

std::string readText(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Random data between zero runs, so the image has holes and several chunks.
std::string diskBytes() {
    std::mt19937_64 generator(42);
    std::string bytes;
    for (int part = 0; part < 6; ++part) {
        for (size_t i = 0; i < (1u << 20) + 12345 * part; ++i)
            bytes += static_cast<char>(generator());
        bytes.append((part % 2 ? 2u : 0u) << 20, '\0');
    }
    return bytes;
}

std::string manifestJson() {
    image::Manifest m;
    m.name = "gold/interop";
    m.version = "1";
    m.created = 1700000000;
    m.kernel.sha256 = std::string(64, 'b');
    m.kernel.size = 42;
    image::ManifestPartition boot;
    boot.firstLba = 2048;
    boot.lastLba = 4095;
    boot.name = "ingot-boot";
    boot.role = "boot";
    boot.type = "9cb833bb-c637-4cc9-8edc-f81d674c8551";
    boot.uuid = "76543210-89ab-cdef-0123-456789abcdef";
    m.partitions.push_back(boot);
    return image::serializeManifest(m);
}

class OciInterop : public ::testing::Test {
protected:
    test::TempDir dir;
    std::string layout = dir.file("layout");
    std::string disk = dir.file("disk.img");
    std::string bytes = diskBytes();
    oci::PackedImage packed;

    void SetUp() override {
        std::ofstream(disk, std::ios::binary) << bytes;
        packed = oci::writeImageToLayout(layout, disk, manifestJson(),
                                         "untrusted comment: x\nRWQ\n", "12");
    }
};

TEST_F(OciInterop, SkopeoInspectReturnsOurManifest) {
    Result r = run(skopeo() + " inspect --raw " + quote("oci:" + layout + ":12"));
    ASSERT_EQ(r.status, 0);
    EXPECT_EQ(r.output, readText(layout + "/blobs/sha256/" + packed.digest.substr(7)));
    EXPECT_EQ(oci::sha256Digest(r.output), packed.digest);
    EXPECT_EQ(json::parse(r.output)["artifactType"], oci::kArtifactTypeImage);

    // The signature referrer is reachable through its tag alone.
    std::string sigTag = oci::signatureTag(packed.digest);
    r = run(skopeo() + " inspect --raw " + quote("oci:" + layout + ":" + sigTag));
    ASSERT_EQ(r.status, 0);
    EXPECT_EQ(json::parse(r.output)["subject"]["digest"], packed.digest);
}

TEST_F(OciInterop, SkopeoCopiesTheArtifactAndWeReassembleIt) {
    std::string copy = dir.file("copy");
    // --preserve-digests: skopeo must copy as is (no manifest edits, no recompression) or fail.
    Result r = run(skopeo() + " copy --preserve-digests " + quote("oci:" + layout + ":12") + " " +
                   quote("oci:" + copy + ":12"));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(oci::resolveTag(copy, "12").digest, packed.digest);
    std::string out = dir.file("out.img");
    oci::reassembleDisk(copy, "12", out);
    EXPECT_EQ(readText(out), bytes);

    // The signature referrer copies the same way, with its subject's digest intact.
    std::string sigTag = oci::signatureTag(packed.digest);
    r = run(skopeo() + " copy --preserve-digests " + quote("oci:" + layout + ":" + sigTag) + " " +
            quote("oci:" + copy + ":" + sigTag));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(oci::readSignature(copy, packed.digest), "untrusted comment: x\nRWQ\n");
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
