#include "ingot/oci/Layout.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "OciTestSupport.h"

namespace ingot::oci {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::expectError;
using test::readFile;
using test::writeFile;

class LayoutTest : public ::testing::Test {
protected:
    test::TempDir dir;
    std::string layout = dir.file("layout");
    std::string manifestJson = test::testManifestJson();

    std::string writeDisk(const std::string& name, const std::string& bytes) {
        std::string path = dir.file(name);
        writeFile(path, bytes);
        return path;
    }

    PackedImage pack(const std::string& bytes, const std::string& tag = "12",
                     const std::string& layoutDir = "") {
        return writeImageToLayout(layoutDir.empty() ? layout : layoutDir,
                                  writeDisk("disk.img", bytes), manifestJson, test::kTestMinisig,
                                  tag);
    }

    std::vector<std::string> blobs(const std::string& layoutDir) {
        std::vector<std::string> names;
        for (const auto& entry : fs::directory_iterator(layoutDir + "/blobs/sha256"))
            names.push_back(entry.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }

    // Stores `text` as a blob by hand and points `tag` at it, as an attacker with write access
    // to the layout (or a malicious registry) would.
    void plantManifest(const std::string& tag, const std::string& text) {
        std::string digest = sha256Digest(text);
        writeFile(layout + "/blobs/sha256/" + digest.substr(7), text);
        json index = json::parse(readFile(layout + "/index.json"));
        for (json& entry : index["manifests"]) {
            if (entry["annotations"][kAnnotationRefName] == tag) {
                entry["digest"] = digest;
                entry["size"] = text.size();
            }
        }
        writeFile(layout + "/index.json", index.dump());
    }

    json imageManifest(const PackedImage& packed) {
        return json::parse(readFile(layout + "/blobs/sha256/" + packed.digest.substr(7)));
    }

    std::string blobFile(const std::string& digest) {
        return layout + "/blobs/sha256/" + digest.substr(7);
    }
};

TEST_F(LayoutTest, RoundTripGivesTheSameSparseDisk) {
    std::string bytes = test::diskLikeBytes(24 << 20, 1) + test::randomBytes(1000, 2);
    PackedImage packed = pack(bytes);
    EXPECT_EQ(packed.diskSize, bytes.size());
    EXPECT_GT(packed.holes, 0u);
    EXPECT_GT(packed.chunks, 10u);

    EXPECT_EQ(json::parse(readFile(layout + "/oci-layout")),
              json({{"imageLayoutVersion", "1.0.0"}}));
    auto tags = listTags(layout);
    ASSERT_EQ(tags.size(), 2u);
    EXPECT_EQ(tags[0].name, "12");
    EXPECT_EQ(tags[0].manifest.digest, packed.digest);
    EXPECT_EQ(tags[1].name, signatureTag(packed.digest));
    EXPECT_EQ(resolveTag(layout, "12"), packed.manifest);

    json manifest = imageManifest(packed);
    EXPECT_EQ(manifest["mediaType"], kMediaTypeImageManifest);
    EXPECT_EQ(manifest["artifactType"], kArtifactTypeImage);
    EXPECT_EQ(manifest["config"]["mediaType"], kMediaTypeIngotManifest);
    EXPECT_EQ(readFile(blobFile(manifest["config"]["digest"])), manifestJson);
    EXPECT_EQ(manifest["layers"].size(), packed.chunks);
    EXPECT_EQ(manifest["annotations"][kAnnotationDiskSize], std::to_string(bytes.size()));

    for (const std::string& reference : {std::string("12"), packed.digest}) {
        std::string out = dir.file("out.img");
        LayoutImage image = reassembleDisk(layout, reference, out);
        EXPECT_EQ(image.digest, packed.digest);
        EXPECT_EQ(image.manifestJson, manifestJson);
        ASSERT_EQ(readFile(out), bytes);
        struct stat st {};
        ASSERT_EQ(::stat(out.c_str(), &st), 0);
        uint64_t zeros = std::count(bytes.begin(), bytes.end(), '\0');
        // The holes stay unallocated (tmpfs and ext4 both keep files sparse).
        EXPECT_LT(uint64_t(st.st_blocks) * 512, bytes.size() - zeros / 2) << "not sparse";
        fs::remove(out);
    }
    EXPECT_EQ(readSignature(layout, packed.digest), test::kTestMinisig);
    json signature = json::parse(readFile(blobFile(packed.signature.digest)));
    EXPECT_EQ(signature["subject"]["digest"], packed.digest);
    EXPECT_EQ(signature["artifactType"], kArtifactTypeSignature);
}

TEST_F(LayoutTest, EmptyAndTinyDisks) {
    for (const std::string& bytes : {std::string(), std::string("x"), std::string(3 << 20, '\0')}) {
        PackedImage packed = pack(bytes, "t");
        std::string out = dir.file("out.img");
        reassembleDisk(layout, "t", out);
        EXPECT_EQ(readFile(out), bytes);
        fs::remove(out);
    }
}

TEST_F(LayoutTest, SameDiskInTwoLayoutsIsBitIdentical) {
    std::string bytes = test::diskLikeBytes(12 << 20, 3);
    PackedImage a = pack(bytes, "12", dir.file("a"));
    PackedImage b = pack(bytes, "12", dir.file("b"));
    EXPECT_EQ(a.digest, b.digest);
    EXPECT_EQ(a.signature, b.signature);
    EXPECT_EQ(blobs(dir.file("a")), blobs(dir.file("b")));
    EXPECT_EQ(readFile(dir.file("a") + "/index.json"), readFile(dir.file("b") + "/index.json"));
}

TEST_F(LayoutTest, AVersionWithAFewChangesSharesMostBlobs) {
    std::string v1 = test::diskLikeBytes(64 << 20, 4);
    PackedImage first = pack(v1, "v1");
    // A nightly patch: a few files rewritten in place, one grown (shifting what follows), the
    // disk's size unchanged.
    std::string v2 = v1;
    for (size_t at : {size_t(5) << 20, size_t(21) << 20, size_t(40) << 20})
        for (size_t i = 0; i < 20000; ++i) v2[at + i] = static_cast<char>(v2[at + i] ^ 0x5a);
    v2.insert(size_t(30) << 20, test::randomBytes(6000, 5));
    v2.resize(v1.size());
    manifestJson = test::testManifestJson("2");
    PackedImage second = pack(v2, "v2");
    std::printf(
        "dedup: v1 %llu chunks (%llu holes, %.1f MiB stored); v2 %llu chunks, %llu new "
        "blobs (%llu chunk blobs), %.2f MiB new\n",
        (unsigned long long)first.chunks, (unsigned long long)first.holes,
        first.storedBytes / 1048576.0, (unsigned long long)second.chunks,
        (unsigned long long)second.newBlobs, (unsigned long long)second.newBlobs - 4,
        second.newBlobBytes / 1048576.0);
    // Four blobs are new whatever the disk: config, image manifest, signature, its manifest.
    uint64_t newChunks = second.newBlobs - 4;
    EXPECT_LE(newChunks, 12u);
    EXPECT_LT(newChunks * 10, second.chunks);
    for (const char* tag : {"v1", "v2"}) {
        std::string out = dir.file(std::string(tag) + ".img");
        reassembleDisk(layout, tag, out);
        EXPECT_EQ(readFile(out), tag == std::string("v1") ? v1 : v2);
    }
}

TEST_F(LayoutTest, ExistingBlobsAreKeptAndTagsMove) {
    std::string bytes = test::diskLikeBytes(8 << 20, 6);
    PackedImage first = pack(bytes, "12");
    struct stat before {};
    ASSERT_EQ(::stat(blobFile(first.digest).c_str(), &before), 0);
    PackedImage again = pack(bytes, "12");
    EXPECT_EQ(again.newBlobs, 0u);
    struct stat after {};
    ASSERT_EQ(::stat(blobFile(first.digest).c_str(), &after), 0);
    EXPECT_EQ(before.st_ino, after.st_ino);
    EXPECT_EQ(listTags(layout).size(), 2u);

    pack(bytes, "latest");
    manifestJson = test::testManifestJson("2");
    PackedImage moved = pack(bytes, "12");
    EXPECT_NE(moved.digest, first.digest);
    EXPECT_EQ(resolveTag(layout, "12").digest, moved.digest);
    EXPECT_EQ(resolveTag(layout, "latest").digest, first.digest);
    EXPECT_EQ(readSignature(layout, first.digest), test::kTestMinisig);
    EXPECT_EQ(listTags(layout).size(), 4u);  // 12, latest, and one signature tag per digest
    expectError([&] { resolveTag(layout, "13"); }, {"no tag \"13\""});
}

TEST_F(LayoutTest, WriterRefusesBadInput) {
    std::string disk = writeDisk("d.img", "data");
    expectError([&] { writeImageToLayout(layout, disk, "{}", test::kTestMinisig, "1"); },
                {"invalid manifest"});
    expectError([&] { writeImageToLayout(layout, disk, manifestJson, "", "1"); }, {"signature"});
    expectError([&] { writeImageToLayout(layout, disk, manifestJson, test::kTestMinisig, "../x"); },
                {"tag"});
    expectError(
        [&] {
            writeImageToLayout(layout, dir.file("missing"), manifestJson, test::kTestMinisig, "1");
        },
        {"missing"});
    fs::create_directories(dir.file("other"));
    writeFile(dir.file("other/oci-layout"), "{\"imageLayoutVersion\":\"2.0.0\"}");
    expectError(
        [&] { writeImageToLayout(dir.file("other"), disk, manifestJson, test::kTestMinisig, "1"); },
        {"oci-layout", "1.0.0"});
}

// Each hostile case below must end in an ingot::Error naming the part at fault, with no output.
class HostileLayoutTest : public LayoutTest {
protected:
    std::string bytes = test::diskLikeBytes(6 << 20, 7);
    PackedImage packed = pack(bytes, "12");
    std::string out = dir.file("out.img");

    void expectRefused(std::initializer_list<std::string_view> parts,
                       const std::string& ref = "12") {
        expectError([&] { reassembleDisk(layout, ref, out); }, parts);
        EXPECT_FALSE(fs::exists(out));
        for (const std::string& name : dir.list())
            EXPECT_EQ(name.find("out.img.tmp"), std::string::npos);
    }

    // Replaces the first layer's blob by `blob` (stored under its own digest) and its declared
    // uncompressed length and digest by those given.
    void replaceFirstChunk(const std::string& blob, uint64_t length,
                           const std::string& contentHex) {
        json manifest = imageManifest(packed);
        std::string digest = sha256Digest(blob);
        writeFile(blobFile(digest), blob);
        json& layer = manifest["layers"][0];
        layer["digest"] = digest;
        layer["size"] = blob.size();
        layer["annotations"][kAnnotationChunkLength] = std::to_string(length);
        layer["annotations"][kAnnotationChunkDigest] = "sha256:" + contentHex;
        plantManifest("12", manifest.dump());
    }
};

std::string zstd(const std::string& bytes, bool withContentSize = true) {
    ZSTD_CCtx* context = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, withContentSize ? 1 : 0);
    std::string out(ZSTD_compressBound(bytes.size()), '\0');
    size_t n = ZSTD_compress2(context, out.data(), out.size(), bytes.data(), bytes.size());
    ZSTD_freeCCtx(context);
    out.resize(n);
    return out;
}

TEST_F(HostileLayoutTest, TamperedBlobsAreCaught) {
    json manifest = imageManifest(packed);
    std::string chunkDigest = manifest["layers"][1]["digest"];
    std::string blob = readFile(blobFile(chunkDigest));
    blob[blob.size() / 2] ^= 1;
    fs::permissions(blobFile(chunkDigest), fs::perms::owner_write, fs::perm_options::add);
    writeFile(blobFile(chunkDigest), blob);
    expectRefused({"chunk 1", chunkDigest.substr(7), "tampered"});

    std::string manifestText = readFile(blobFile(packed.digest)) + " ";
    fs::permissions(blobFile(packed.digest), fs::perms::owner_write, fs::perm_options::add);
    writeFile(blobFile(packed.digest), manifestText);
    expectRefused({"image manifest", "bytes, but its descriptor says"});
    expectRefused({"image manifest", "tampered"}, packed.digest);
}

TEST_F(HostileLayoutTest, MissingAndSymlinkedBlobs) {
    json manifest = imageManifest(packed);
    std::string chunkDigest = manifest["layers"][0]["digest"];
    fs::rename(blobFile(chunkDigest), dir.file("moved"));
    expectRefused({"chunk 0", "No such file"});
    fs::create_symlink(dir.file("moved"), blobFile(chunkDigest));
    expectRefused({"chunk 0"});
}

TEST_F(HostileLayoutTest, PathTraversalInDigests) {
    json index = json::parse(readFile(layout + "/index.json"));
    index["manifests"][0]["digest"] = "sha256/../../../etc/passwd";
    writeFile(layout + "/index.json", index.dump());
    expectRefused({"index.json", "manifests[0].digest"});
    expectError([&] { listTags(layout); }, {"manifests[0].digest"});
    expectRefused({"not \"sha256:\""}, "sha256:../../x");

    fs::remove_all(layout);
    packed = pack(bytes, "12");
    json manifest = imageManifest(packed);
    manifest["layers"][0]["digest"] = "sha256:../../../../tmp/" + std::string(48, 'a');
    plantManifest("12", manifest.dump());
    expectRefused({"layers[0].digest"});
}

TEST_F(HostileLayoutTest, OverlappingAndOutOfRangeChunks) {
    json manifest = imageManifest(packed);
    manifest["layers"][1]["annotations"][kAnnotationChunkOffset] = "0";
    plantManifest("12", manifest.dump());
    expectRefused({"layers[1].annotations.org.ingot.chunk.offset", "overlap"});

    manifest = imageManifest(packed);
    manifest["annotations"][kAnnotationDiskSize] = "4096";
    plantManifest("12", manifest.dump());
    expectRefused({"beyond the disk's size of 4096"});

    manifest = imageManifest(packed);
    manifest["layers"][0]["annotations"][kAnnotationChunkLength] = "1099511627776";
    plantManifest("12", manifest.dump());
    expectRefused({"org.ingot.chunk.length", "limit"});

    manifest = imageManifest(packed);
    manifest["config"]["size"] = 1ull << 60;
    plantManifest("12", manifest.dump());
    expectRefused({"config.size"});
}

TEST_F(HostileLayoutTest, ZstdBombsStopAtTheDeclaredLength) {
    // 64 MiB of zeros compress to a few KiB; declared as 4 KiB they must not be inflated.
    std::string bomb = zstd(std::string(64 << 20, '\0'));
    replaceFirstChunk(bomb, 4096, toHex(sha256(std::string(4096, '\0'))));
    expectRefused({"chunk 0", "does not decompress to 4096"});

    // A frame that hides its content size.
    replaceFirstChunk(zstd(std::string(64 << 20, '\0'), false), 4096,
                      toHex(sha256(std::string(4096, '\0'))));
    expectRefused({"chunk 0", "does not decompress"});

    // Shorter than declared.
    replaceFirstChunk(zstd(std::string(1000, 'x'), false), 4096,
                      toHex(sha256(std::string(4096, 'x'))));
    expectRefused({"chunk 0", "1000 bytes, not 4096"});

    // Not zstd at all.
    replaceFirstChunk("this is no zstd frame", 4096, std::string(64, '0'));
    expectRefused({"chunk 0", "does not decompress"});
}

TEST_F(HostileLayoutTest, ContentThatDoesNotMatchItsDigest) {
    std::string content = test::randomBytes(70000, 9);
    replaceFirstChunk(zstd(content), content.size(), std::string(64, '0'));
    expectRefused({"chunk 0", "content has digest sha256:" + toHex(sha256(content))});
}

TEST_F(HostileLayoutTest, BrokenIndexAndLayoutMarker) {
    writeFile(layout + "/index.json", "{\"schemaVersion\":2,\"manifests\":[],\"manifests\":[]}");
    expectRefused({"index.json", "twice"});
    writeFile(layout + "/index.json",
              "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"a\",\"digest\":\"sha256:" +
                  std::string(64, 'a') + "\",\"size\":1,\"annotations\":{\"" + kAnnotationRefName +
                  "\":\"12\"}}]}");
    expectRefused({"tag 12", "names a a, not an image manifest"});
    writeFile(layout + "/index.json", std::string(20 << 20, ' '));
    expectRefused({"index.json", "limit"});
    writeFile(layout + "/oci-layout", "{}");
    expectRefused({"oci-layout"});
    fs::remove(layout + "/oci-layout");
    expectRefused({"oci-layout"});
}

TEST_F(HostileLayoutTest, SignatureMustNameItsSubject) {
    // Point this image's signature tag at another image's signature referrer.
    manifestJson = test::testManifestJson("2");
    PackedImage other = pack(bytes, "other");
    json index = json::parse(readFile(layout + "/index.json"));
    for (json& entry : index["manifests"])
        if (entry["annotations"][kAnnotationRefName] == signatureTag(packed.digest)) {
            entry["digest"] = other.signature.digest;
            entry["size"] = other.signature.size;
        }
    writeFile(layout + "/index.json", index.dump());
    expectError([&] { readSignature(layout, packed.digest); }, {"signs " + other.digest});
}

}  // namespace
}  // namespace ingot::oci
