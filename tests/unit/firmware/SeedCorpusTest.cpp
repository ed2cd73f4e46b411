// The fuzzers' committed seeds must be valid inputs, or fuzzing starts from rejected garbage
// and never reaches the deep code. The minisign seeds come from the real minisign tool, so this
// is also an interop check that runs without minisign installed.
#include <gtest/gtest.h>

#include <string>

#include "TestSupport.h"
#include "ingot/fw/Base64.h"
#include "ingot/fw/Cpio.h"
#include "ingot/fw/Ed25519.h"
#include "ingot/fw/Gpt.h"
#include "ingot/fw/Json.h"
#include "ingot/fw/Minisign.h"

namespace ingot::fw {
namespace {

using test::Bytes;

const std::filesystem::path kCorpus = INGOT_FUZZ_CORPUS_DIR;

Bytes seed(const char* target, const char* name) {
    return test::read_file(kCorpus / target / name);
}

TEST(SeedCorpusTest, GptSeedsParse) {
    const Bytes disk = seed("gpt", "disk-512");  // the table points into it
    GptTable table;
    ASSERT_EQ(parse_gpt_disk(test::view(disk), 512, &table), GptStatus::kOk);
    EXPECT_EQ(check_protective_mbr(test::view(disk)), GptStatus::kOk);
    GptEntry entry;
    Guid boot;
    ASSERT_TRUE(parse_guid(test::view("9cb833bb-c637-4cc9-8edc-f81d674c8551"), &boot));
    EXPECT_EQ(gpt_find_partition(table, boot, &entry), GptStatus::kOk);

    for (const char* name : {"structured-512", "structured-4096"}) {
        Bytes input = seed("gpt", name);
        ASSERT_GT(input.size(), 9u);
        uint32_t sector_size = (input[8] & 1) ? 4096 : 512;
        GptHeader header;
        ASSERT_EQ(parse_gpt_header(ByteView(input.data() + 9, sector_size), sector_size,
                                   load_le64(input.data()), &header),
                  GptStatus::kOk)
            << name;
        ByteView entries(input.data() + 9 + sector_size, input.size() - 9 - sector_size);
        EXPECT_EQ(parse_gpt_table(header, entries, &table), GptStatus::kOk) << name;
    }
}

TEST(SeedCorpusTest, CpioSeedsAreCompleteArchives) {
    for (const char* name : {"boot-pack.cpio", "empty.cpio"}) {
        Bytes archive = seed("cpio", name);
        CpioReader reader(test::view(archive));
        CpioEntry entry;
        CpioStatus status;
        while ((status = reader.next(&entry)) == CpioStatus::kOk) {
        }
        EXPECT_EQ(status, CpioStatus::kEnd) << name;
    }
    CpioEntry manifest;
    EXPECT_EQ(cpio_find(test::view(seed("cpio", "boot-pack.cpio")), test::view("manifest.json"),
                        &manifest),
              CpioStatus::kOk);
}

TEST(SeedCorpusTest, JsonSeedsParse) {
    for (const char* name :
         {"manifest.json", "escapes.json", "numbers.json", "literals.json", "nested.json"}) {
        JsonValue root;
        EXPECT_EQ(json_parse(test::view(seed("json", name)), &root), JsonStatus::kOk) << name;
    }
}

TEST(SeedCorpusTest, MinisignSeedsFromTheRealToolVerify) {
    MinisignPublicKey key, key_from_line;
    ASSERT_EQ(parse_minisign_public_key(test::view(seed("minisign_public_key", "key.pub")), &key),
              MinisignStatus::kOk);
    ASSERT_EQ(parse_minisign_public_key(test::view(seed("minisign_public_key", "key-line")),
                                        &key_from_line),
              MinisignStatus::kOk);
    EXPECT_TRUE(bytes_equal(&key, &key_from_line, sizeof key));
    const std::string message = "{\"format\": 1}\n";  // what make_seeds.py signed
    for (const char* name : {"prehashed.minisig", "legacy.minisig"}) {
        Bytes text = seed("minisign_signature", name);
        MinisignSignature signature;
        ASSERT_EQ(parse_minisign_signature(test::view(text), &signature), MinisignStatus::kOk);
        EXPECT_EQ(test::as_string(signature.trusted_comment), "name=debian version=12");
        EXPECT_EQ(verify_minisign(signature, key, test::view(message)), MinisignStatus::kOk)
            << name;
    }
}

TEST(SeedCorpusTest, Base64AndEd25519SeedsAreValid) {
    for (const char* name : {"empty", "one", "two", "three", "key"}) {
        Bytes text = seed("base64", name);
        Bytes out(text.size());
        size_t size = 0;
        EXPECT_EQ(base64_decode(test::view(text), out.data(), out.size(), &size), Base64Status::kOk)
            << name;
    }
    for (const char* name : {"rfc8032-test2", "rfc8032-test3"}) {
        Bytes input = seed("ed25519", name);
        ASSERT_GE(input.size(), 96u);
        EXPECT_EQ(ed25519_verify(input.data(), input.data() + 64,
                                 ByteView(input.data() + 96, input.size() - 96)),
                  Ed25519Status::kValid)
            << name;
    }
}

}  // namespace
}  // namespace ingot::fw
