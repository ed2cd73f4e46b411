// The manifest model: canonical bytes, round trips, the firmware's JSON reader agreeing, and a
// clear refusal (naming the field) for every malformed document.
#include <gtest/gtest.h>

#include <functional>

#include "CoreTestSupport.h"
#include "ingot/fw/Json.h"
#include "ingot/image/Manifest.h"

namespace ingot::image {
namespace {

using nlohmann::json;

const std::string kSha = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

Manifest sampleManifest() {
    Manifest m;
    m.name = "gold/debian";
    m.version = "2026.11.24";
    m.created = 1700000000;
    m.cmdline = "console=ttyS0 quiet";
    m.defaults = {2, 1024};
    m.kernel = {kSha, 8123456};
    m.initrd = ManifestFile{kSha, 31457280};
    m.partitions = {{2048, 83967, "ingot-boot", "boot", "9cb833bb-c637-4cc9-8edc-f81d674c8551",
                     "0d0a2e4c-5a55-4b2a-9c43-7f1f6b1e0a01"}};
    m.provenance = {{"recipe", "sha256:abc"}};
    return m;
}

TEST(Manifest, CanonicalBytes) {
    EXPECT_EQ(serializeManifest(sampleManifest()),
              R"({"boot":{"cmdline":"console=ttyS0 quiet","protocol":"linux-x86_64"},)"
              R"("created":1700000000,"defaults":{"cpus":2,"memoryMiB":1024},"format":1,)"
              R"("initrd":{"sha256":")" +
                  kSha +
                  R"(","size":31457280},)"
                  R"("kernel":{"sha256":")" +
                  kSha +
                  R"(","size":8123456},"name":"gold/debian",)"
                  R"("partitions":[{"firstLba":2048,"lastLba":83967,"name":"ingot-boot",)"
                  R"("role":"boot","type":"9cb833bb-c637-4cc9-8edc-f81d674c8551",)"
                  R"("uuid":"0d0a2e4c-5a55-4b2a-9c43-7f1f6b1e0a01"}],)"
                  R"("provenance":{"recipe":"sha256:abc"},"verity":null,"version":"2026.11.24"})");
}

TEST(Manifest, RoundTripsAndIsDeterministic) {
    Manifest m = sampleManifest();
    std::string text = serializeManifest(m);
    EXPECT_EQ(serializeManifest(m), text);
    EXPECT_EQ(parseManifest(text), m);
    EXPECT_EQ(serializeManifest(parseManifest(text)), text);

    m.initrd.reset();
    m.partitions.push_back({83968, 200000, "ingot-root", "root",
                            "4f68bce3-e8cd-4db1-96e7-fbcaf984b709",
                            "1d0a2e4c-5a55-4b2a-9c43-7f1f6b1e0a01"});
    m.partitions.push_back({200704, 202751, "ingot-root-verity", "root-verity",
                            "2c7357ed-ebd2-46d9-aec1-23d437ec2bf5",
                            "2d0a2e4c-5a55-4b2a-9c43-7f1f6b1e0a01"});
    m.verity = ManifestVerity{
        "sha256", 4096, 14520, 4096, kSha, "abcd", 1, 4096, "2d0a2e4c-5a55-4b2a-9c43-7f1f6b1e0a01"};
    text = serializeManifest(m);
    EXPECT_NE(text.find(R"("initrd":null)"), std::string::npos);
    EXPECT_NE(text.find(R"("verity":{"algorithm":"sha256","dataBlockSize":4096,"dataBlocks":14520,)"
                        R"("format":1,"hashBlockSize":4096,"hashOffset":4096,"rootHash":")" +
                        kSha + R"(","salt":"abcd","uuid":"2d0a2e4c-5a55-4b2a-9c43-7f1f6b1e0a01"})"),
              std::string::npos)
        << text;
    EXPECT_EQ(parseManifest(text), m);
}

TEST(Manifest, FirmwareReaderAgrees) {
    std::string text = serializeManifest(sampleManifest());
    fw::JsonValue root, value;
    ASSERT_EQ(fw::json_parse(test::view(text), &root), fw::JsonStatus::kOk);
    ASSERT_EQ(fw::json_find(root, test::view(std::string_view("kernel.size")), &value),
              fw::JsonStatus::kOk);
    uint64_t size = 0;
    ASSERT_EQ(fw::json_to_uint64(value, &size), fw::JsonStatus::kOk);
    EXPECT_EQ(size, 8123456u);
    ASSERT_EQ(fw::json_find(root, test::view(std::string_view("partitions[0].uuid")), &value),
              fw::JsonStatus::kOk);
    EXPECT_TRUE(fw::json_string_equals(
        value, test::view(std::string_view("0d0a2e4c-5a55-4b2a-9c43-7f1f6b1e0a01"))));
    EXPECT_EQ(std::count(text.begin(), text.end(), ' '), 1) << "no whitespace outside strings";
    EXPECT_EQ(text.find('\n'), std::string::npos);
    EXPECT_NE(text.back(), '\n');
}

TEST(Manifest, AcceptsUnknownKeys) {
    json document = json::parse(serializeManifest(sampleManifest()));
    document["laterField"] = {{"x", 1}};
    document["kernel"]["compression"] = "zstd";
    EXPECT_EQ(parseManifest(document.dump()), sampleManifest());
}

// Each case edits the sample document and names the field the error must mention.
struct BadCase {
    std::string field;
    std::function<void(json&)> edit;
};

TEST(Manifest, RejectsBadDocumentsNamingTheField) {
    const std::vector<BadCase> cases = {
        {"'format'", [](json& d) { d.erase("format"); }},
        {"'format'", [](json& d) { d["format"] = 2; }},
        {"'format'", [](json& d) { d["format"] = "1"; }},
        {"'name'", [](json& d) { d["name"] = ""; }},
        {"'name'", [](json& d) { d["name"] = "gold debian"; }},
        {"'version'", [](json& d) { d["version"] = "1\n2"; }},
        {"'created'", [](json& d) { d["created"] = -1; }},
        {"'created'", [](json& d) { d["created"] = 1.5; }},
        {"'boot'", [](json& d) { d["boot"] = "console=ttyS0"; }},
        {"'boot.cmdline'", [](json& d) { d["boot"].erase("cmdline"); }},
        {"'boot.cmdline'", [](json& d) { d["boot"]["cmdline"] = "a\tb"; }},
        {"'boot.protocol'", [](json& d) { d["boot"]["protocol"] = "efi"; }},
        {"'defaults.cpus'", [](json& d) { d["defaults"]["cpus"] = 0; }},
        {"'defaults.memoryMiB'", [](json& d) { d["defaults"].erase("memoryMiB"); }},
        {"'kernel'", [](json& d) { d["kernel"] = nullptr; }},
        {"'kernel.sha256'", [](json& d) { d["kernel"]["sha256"] = std::string(64, 'A'); }},
        {"'kernel.sha256'", [](json& d) { d["kernel"]["sha256"] = "abc"; }},
        {"'kernel.size'", [](json& d) { d["kernel"]["size"] = 0; }},
        {"'initrd'", [](json& d) { d.erase("initrd"); }},
        {"'initrd.size'", [](json& d) { d["initrd"]["size"] = "1"; }},
        {"'partitions'", [](json& d) { d["partitions"] = json::array(); }},
        {"'partitions[0].role'", [](json& d) { d["partitions"][0]["role"] = "root"; }},
        {"'partitions[0].type'",
         [](json& d) { d["partitions"][0]["type"] = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709"; }},
        {"'partitions[0].name'", [](json& d) { d["partitions"][0]["name"] = "boot"; }},
        {"'partitions[0].uuid'", [](json& d) { d["partitions"][0]["uuid"] = "nope"; }},
        {"'partitions[0].firstLba'", [](json& d) { d["partitions"][0]["firstLba"] = 2049; }},
        {"'partitions[0].lastLba'", [](json& d) { d["partitions"][0]["lastLba"] = 2047; }},
        {"'partitions[1].role'", [](json& d) { d["partitions"].push_back(d["partitions"][0]); }},
        {"'partitions[1].firstLba'",
         [](json& d) {
             json root = d["partitions"][0];
             root["role"] = "root";
             root["name"] = "ingot-root";
             root["type"] = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709";
             root["uuid"] = "1d0a2e4c-5a55-4b2a-9c43-7f1f6b1e0a01";
             d["partitions"].push_back(root);
         }},
        {"'provenance'", [](json& d) { d["provenance"] = json::array(); }},
        {"'verity'",
         [](json& d) {
             d["verity"] = {{"algorithm", "sha256"},
                            {"dataBlockSize", 4096},
                            {"dataBlocks", 1},
                            {"hashBlockSize", 4096},
                            {"rootHash", kSha},
                            {"salt", ""},
                            {"format", 1},
                            {"hashOffset", 4096},
                            {"uuid", "2d0a2e4c-5a55-4b2a-9c43-7f1f6b1e0a01"}};
         }},
        {"'verity.dataBlockSize'",
         [](json& d) {
             d["verity"] = {{"algorithm", "sha256"}};
         }},
    };
    json sample = json::parse(serializeManifest(sampleManifest()));
    for (const BadCase& c : cases) {
        json document = sample;
        c.edit(document);
        SCOPED_TRACE(document.dump());
        try {
            parseManifest(document.dump(), "manifest.json in test.img");
            ADD_FAILURE() << "accepted a document with a bad " << c.field;
        } catch (const Error& e) {
            std::string message = e.what();
            EXPECT_NE(message.find(c.field), std::string::npos) << message;
            EXPECT_NE(message.find("manifest.json in test.img"), std::string::npos) << message;
            EXPECT_EQ(e.status(), ExitStatus::kVerification);
        }
    }
}

// A manifest with root and root-verity partitions, as the writer makes it.
json verityDocument() {
    Manifest m = sampleManifest();
    m.partitions.push_back({83968, 200000, "ingot-root", "root",
                            "4f68bce3-e8cd-4db1-96e7-fbcaf984b709",
                            "1d0a2e4c-5a55-4b2a-9c43-7f1f6b1e0a01"});
    m.partitions.push_back({200704, 202751, "ingot-root-verity", "root-verity",
                            "2c7357ed-ebd2-46d9-aec1-23d437ec2bf5",
                            "2d0a2e4c-5a55-4b2a-9c43-7f1f6b1e0a01"});
    m.verity = ManifestVerity{
        "sha256", 4096, 14520, 4096, kSha, "abcd", 1, 4096, "2d0a2e4c-5a55-4b2a-9c43-7f1f6b1e0a01"};
    return json::parse(serializeManifest(m));
}

TEST(Manifest, RejectsBadVerityFieldsNamingThem) {
    const std::vector<BadCase> cases = {
        {"'verity.hashOffset'", [](json& d) { d["verity"].erase("hashOffset"); }},
        {"'verity.hashOffset'", [](json& d) { d["verity"]["hashOffset"] = 8192; }},
        {"'verity.uuid'", [](json& d) { d["verity"].erase("uuid"); }},
        {"'verity.uuid'",
         [](json& d) { d["verity"]["uuid"] = "2D0A2E4C-5A55-4B2A-9C43-7F1F6B1E0A01"; }},
        {"'verity.salt'", [](json& d) { d["verity"]["salt"] = std::string(514, 'a'); }},
        {"'verity.salt'", [](json& d) { d["verity"]["salt"] = "abc"; }},
        {"'verity.dataBlocks'", [](json& d) { d["verity"]["dataBlocks"] = 0; }},
        {"'verity.rootHash'", [](json& d) { d["verity"]["rootHash"] = "00"; }},
        {"'verity.algorithm'", [](json& d) { d["verity"]["algorithm"] = "sha1"; }},
        {"'verity.hashBlockSize'", [](json& d) { d["verity"]["hashBlockSize"] = 3000; }},
        {"'verity.format'", [](json& d) { d["verity"]["format"] = 0; }},
        {"'verity'", [](json& d) { d["verity"] = nullptr; }},
    };
    json sample = verityDocument();
    EXPECT_NO_THROW(parseManifest(sample.dump()));
    json later = sample;
    later["verity"]["fecRoots"] = 2;  // a later revision's key is ignored
    EXPECT_NO_THROW(parseManifest(later.dump()));
    for (const BadCase& c : cases) {
        json document = sample;
        c.edit(document);
        SCOPED_TRACE(document["verity"].dump());
        test::expectError([&] { parseManifest(document.dump(), "m.json"); }, {c.field, "m.json"});
    }
}

TEST(Manifest, RejectsBrokenJson) {
    std::string text = serializeManifest(sampleManifest());
    test::expectError([&] { parseManifest(text.substr(0, text.size() - 1)); }, {"not valid JSON"});
    test::expectError([] { parseManifest("[]"); }, {"not a JSON object"});
    // Readers disagree on which duplicate wins; the firmware refuses them, so do we.
    std::string duplicate = text;
    duplicate.insert(1, R"("name":"evil/image",)");
    test::expectError([&] { parseManifest(duplicate); }, {"'name'", "twice"});
}

TEST(Manifest, RefusesToSerialiseAnInvalidModel) {
    Manifest m = sampleManifest();
    m.name = "has space";
    try {
        serializeManifest(m);
        ADD_FAILURE() << "serialised an invalid manifest";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("'name'"), std::string::npos) << e.what();
        EXPECT_EQ(e.status(), ExitStatus::kUsage);
    }
    m = sampleManifest();
    m.cmdline = "bad utf-8 \xff";
    test::expectError([&] { serializeManifest(m); }, {"cannot serialise the manifest"});
}

}  // namespace
}  // namespace ingot::image
