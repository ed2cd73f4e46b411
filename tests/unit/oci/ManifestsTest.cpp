#include "ingot/oci/Manifests.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "OciTestSupport.h"

namespace ingot::oci {
namespace {

using nlohmann::json;
using test::expectError;

std::string digestOf(char c) {
    return "sha256:" + std::string(64, c);
}

ImageManifest sampleImage() {
    ImageManifest m;
    m.config.mediaType = kMediaTypeIngotManifest;
    m.config.digest = digestOf('c');
    m.config.size = 500;
    m.diskSize = 10 << 20;
    for (uint64_t i = 0; i < 3; ++i) {
        ImageChunk c;
        c.offset = i * (2 << 20);
        c.length = 300000;
        c.sha256 = std::string(64, static_cast<char>('0' + i));
        c.blob.mediaType = kMediaTypeChunk;
        c.blob.digest = digestOf(static_cast<char>('a' + i));
        c.blob.size = 1000;
        m.chunks.push_back(c);
    }
    return m;
}

// The image manifest as JSON, for tests that break one field.
json sampleJson() {
    return json::parse(serializeImageManifest(sampleImage()));
}

void expectManifestError(const json& document, std::initializer_list<std::string_view> parts) {
    expectError([&] { parseImageManifest(document.dump(), "test manifest"); }, parts);
}

TEST(Manifests, ImageManifestRoundTripsAndIsCanonical) {
    ImageManifest m = sampleImage();
    std::string text = serializeImageManifest(m);
    ImageManifest parsed = parseImageManifest(text);
    // The parser fills in the annotations the serialiser adds; compare what matters.
    ASSERT_EQ(parsed.chunks.size(), 3u);
    EXPECT_EQ(parsed.diskSize, m.diskSize);
    EXPECT_EQ(parsed.config.digest, m.config.digest);
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(parsed.chunks[i].offset, m.chunks[i].offset);
        EXPECT_EQ(parsed.chunks[i].length, m.chunks[i].length);
        EXPECT_EQ(parsed.chunks[i].sha256, m.chunks[i].sha256);
        EXPECT_EQ(parsed.chunks[i].blob.digest, m.chunks[i].blob.digest);
    }
    EXPECT_EQ(serializeImageManifest(parsed), text);
    json document = json::parse(text);
    EXPECT_EQ(document["artifactType"], kArtifactTypeImage);
    EXPECT_EQ(document["schemaVersion"], 2);
    EXPECT_EQ(document["layers"][1]["annotations"][kAnnotationChunkOffset], "2097152");
    EXPECT_EQ(document["annotations"][kAnnotationDiskSize], "10485760");
    EXPECT_EQ(text.find_first_of(" \n"), std::string::npos);
}

TEST(Manifests, AnAllZeroDiskHasTheEmptyLayer) {
    ImageManifest m = sampleImage();
    m.chunks.clear();
    std::string text = serializeImageManifest(m);
    EXPECT_EQ(json::parse(text)["layers"][0]["mediaType"], kMediaTypeEmpty);
    EXPECT_TRUE(parseImageManifest(text).chunks.empty());
}

TEST(Manifests, RefusesDigestsThatAreNotLowerCaseSha256Hex) {
    for (std::string bad : std::vector<std::string>{
             "sha256/../../x", "sha256:../../../etc/passwd", "sha512:" + std::string(128, 'a'),
             "sha256:" + std::string(64, 'A'), "sha256:" + std::string(63, 'a'),
             "sha256:" + std::string(63, 'a') + "/",
             std::string("sha256:") + std::string(64, 'a') + "\n"}) {
        json document = sampleJson();
        document["layers"][0]["digest"] = bad;
        expectManifestError(document, {"test manifest", "layers[0].digest"});
        document = sampleJson();
        document["config"]["digest"] = bad;
        expectManifestError(document, {"config.digest"});
        json index = {{"schemaVersion", 2},
                      {"manifests",
                       {{{"mediaType", kMediaTypeImageManifest}, {"digest", bad}, {"size", 1}}}}};
        expectError([&] { parseIndex(index.dump()); }, {"index.json", "manifests[0].digest"});
        EXPECT_FALSE(isSha256Digest(bad));
        expectError([&] { digestHex(bad, "somewhere"); }, {"somewhere"});
    }
}

TEST(Manifests, RefusesOverlappingOrOutOfRangeChunks) {
    json document = sampleJson();
    document["layers"][1]["annotations"][kAnnotationChunkOffset] = "100";
    expectManifestError(document, {"layers[1].annotations.org.ingot.chunk.offset", "overlap"});

    document = sampleJson();
    document["layers"][2]["annotations"][kAnnotationChunkOffset] =
        std::to_string((10 << 20) - 1000);
    expectManifestError(document, {"layers[2]", "beyond the disk's size"});

    document = sampleJson();
    document["layers"][0]["annotations"][kAnnotationChunkLength] = "18446744073709551615";
    expectManifestError(document, {"layers[0].annotations.org.ingot.chunk.length", "limit"});

    document = sampleJson();
    document["layers"][0]["annotations"][kAnnotationChunkLength] = "18446744073709551616";
    expectManifestError(document, {"org.ingot.chunk.length", "too large"});

    document = sampleJson();
    document["layers"][2]["annotations"][kAnnotationChunkOffset] = "18446744073709551000";
    expectManifestError(document, {"layers[2].annotations.org.ingot.chunk.offset"});

    document = sampleJson();
    document["annotations"][kAnnotationDiskSize] = "99999999999999999";
    expectManifestError(document, {"annotations.org.ingot.disk.size", "limit"});

    for (const char* bad : {"", "01", "-1", "1e6", " 5", "0x10"}) {
        document = sampleJson();
        document["layers"][0]["annotations"][kAnnotationChunkLength] = bad;
        expectManifestError(document, {"org.ingot.chunk.length"});
    }
    document = sampleJson();
    document["layers"][0]["annotations"][kAnnotationChunkLength] = "0";
    expectManifestError(document, {"must not be 0"});

    document = sampleJson();
    document["layers"][0]["size"] = 1ull << 40;
    expectManifestError(document, {"layers[0].size", "impossible"});

    document = sampleJson();
    document["layers"][0]["annotations"].erase(kAnnotationChunkDigest);
    expectManifestError(document, {"org.ingot.chunk.digest", "missing"});
}

TEST(Manifests, RefusesOtherTypesAndShapes) {
    json document = sampleJson();
    document["artifactType"] = "application/vnd.other";
    expectManifestError(document, {"artifactType"});
    document = sampleJson();
    document["config"]["mediaType"] = "application/vnd.oci.image.config.v1+json";
    expectManifestError(document, {"config.mediaType"});
    document = sampleJson();
    document["layers"][0]["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip";
    expectManifestError(document, {"layers[0].mediaType"});
    document = sampleJson();
    document["schemaVersion"] = 1;
    expectManifestError(document, {"schemaVersion"});
    document = sampleJson();
    document["layers"] = json::object();
    expectManifestError(document, {"layers", "array"});
    document = sampleJson();
    document["layers"][0]["size"] = -5;
    expectManifestError(document, {"layers[0].size"});
    document = sampleJson();
    document["layers"][0]["annotations"]["x"] = 5;
    expectManifestError(document, {"layers[0].annotations.x", "string"});

    expectError([] { parseImageManifest("[1,2]"); }, {"not a JSON object"});
    expectError([] { parseImageManifest("{\"schemaVersion\":2,"); }, {"not valid JSON"});
    expectError([] { parseImageManifest(std::string(5 << 20, ' ')); }, {"limit"});
    std::string text = serializeImageManifest(sampleImage());
    text.insert(1, "\"schemaVersion\":2,");
    expectError([&] { parseImageManifest(text); }, {"schemaVersion", "twice"});
}

TEST(Manifests, IndexRoundTripsAndRefusesDuplicateTags) {
    Index index;
    Descriptor d;
    d.mediaType = kMediaTypeImageManifest;
    d.digest = digestOf('1');
    d.size = 10;
    d.artifactType = kArtifactTypeImage;
    d.annotations[kAnnotationRefName] = "12";
    index.manifests.push_back(d);
    EXPECT_EQ(parseIndex(serializeIndex(index)), index);
    index.manifests.push_back(d);
    expectError([&] { parseIndex(serializeIndex(index)); },
                {"manifests[1]", "\"12\" a second time"});
    expectError([] { parseIndex("{\"schemaVersion\":2,\"mediaType\":\"x\",\"manifests\":[]}"); },
                {"mediaType"});
    expectError([] { parseIndex("{\"schemaVersion\":2}"); }, {"manifests", "missing"});
}

TEST(Manifests, SignatureManifestRoundTrips) {
    SignatureManifest s;
    s.subject.mediaType = kMediaTypeImageManifest;
    s.subject.digest = digestOf('e');
    s.subject.size = 999;
    s.signature.mediaType = kMediaTypeMinisign;
    s.signature.digest = digestOf('f');
    s.signature.size = 300;
    std::string text = serializeSignatureManifest(s);
    EXPECT_EQ(parseSignatureManifest(text), s);
    json document = json::parse(text);
    EXPECT_EQ(document["artifactType"], kArtifactTypeSignature);
    EXPECT_EQ(document["config"]["mediaType"], kMediaTypeEmpty);
    EXPECT_EQ(document["subject"]["digest"], s.subject.digest);
    document["layers"][0]["size"] = 1 << 20;
    expectError([&] { parseSignatureManifest(document.dump()); }, {"layers[0].size"});
}

TEST(Manifests, TagsFollowTheDistributionRule) {
    for (const char* good : {"12", "latest", "2026.11.24", "a_b-c.d", "sha256-0123.sig", "_x"})
        checkTag(good);
    for (std::string bad :
         {std::string(""), std::string("-x"), std::string(".x"), std::string("a/b"),
          std::string("a:b"), std::string("../x"), std::string(129, 'a'), std::string("a b")})
        expectError([&] { checkTag(bad); }, {"tag"});
    // Layout tags may be whole references (the store's), after the image-spec's ref grammar.
    for (const char* good : {"12", "_x", "sha256-0123.sig", "127.0.0.1:5000/gold/debian:12",
                             "gold/a--b/c@x+y"})
        checkRefName(good);
    for (std::string bad : {std::string(""), std::string("/x"), std::string("x/"),
                            std::string("a//b"), std::string("../x"), std::string("a/./b"),
                            std::string("a:/b"), std::string("a---b"), std::string(256, 'a'),
                            std::string("a b"), std::string("a\nb"), std::string("a\0b", 3)})
        expectError([&] { checkRefName(bad); }, {"layout tag"});
    EXPECT_EQ(signatureTag(digestOf('9')), "sha256-" + std::string(64, '9') + ".sig");
}

}  // namespace
}  // namespace ingot::oci
