// The manifest's JSON subset: a manifest-shaped document read through the cursor API, then the
// syntax, string, number and depth rules, each with the status it must produce.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "TestSupport.h"
#include "ingot/fw/Json.h"

namespace ingot::fw {
namespace {

JsonStatus parse(std::string_view text, JsonValue* root = nullptr,
                 uint32_t max_depth = kJsonMaxDepth) {
    JsonValue ignored;
    return json_parse(test::view(text), root ? root : &ignored, max_depth);
}

std::string text_of(JsonValue value) {
    return std::string(reinterpret_cast<const char*>(value.begin), value.size);
}

std::string decoded(JsonValue string) {
    uint8_t buffer[256];
    size_t size = 0;
    EXPECT_EQ(json_string_decode(string, buffer, sizeof buffer, &size), JsonStatus::kOk);
    return std::string(reinterpret_cast<const char*>(buffer), size);
}

constexpr const char kManifest[] = R"({
  "format": 1,
  "name": "debian",
  "version": "12.20240101",
  "created": 1704067200,
  "kernel": {"sha256": "ab12", "size": 8126464},
  "initrd": null,
  "cmdline": "console=ttyS0 root=PARTUUID=x ro",
  "partitions": [
    {"role": "boot", "uuid": "11111111-2222-3333-4444-555555555555", "first_lba": 2048},
    {"role": "root", "uuid": "66666666-7777-8888-9999-aaaaaaaaaaaa", "first_lba": 4096},
    {"role": "root-verity", "uuid": "bbbbbbbb-cccc-dddd-eeee-ffffffffffff", "first_lba": 8192}
  ],
  "verity": {"root_hash": "00ff", "data_block_size": 4096, "salt": ""},
  "defaults": {"cpus": 2, "memory_mib": 1024, "ballooning": false},
  "provenance": {"packages": [["linux-image-amd64", "6.1.0"], ["bash", "5.2"]]}
})";

TEST(JsonTest, ReadsManifestShapedDocument) {
    JsonValue root;
    ASSERT_EQ(parse(kManifest, &root), JsonStatus::kOk);
    EXPECT_EQ(root.type, JsonType::kObject);

    JsonValue value;
    uint64_t number = 0;
    ASSERT_EQ(json_find(root, test::view("kernel.size"), &value), JsonStatus::kOk);
    ASSERT_EQ(json_to_uint64(value, &number), JsonStatus::kOk);
    EXPECT_EQ(number, 8126464u);

    ASSERT_EQ(json_find(root, test::view("partitions[2].uuid"), &value), JsonStatus::kOk);
    EXPECT_TRUE(json_string_equals(value, test::view("bbbbbbbb-cccc-dddd-eeee-ffffffffffff")));
    EXPECT_EQ(decoded(value), "bbbbbbbb-cccc-dddd-eeee-ffffffffffff");

    ASSERT_EQ(json_find(root, test::view("provenance.packages[1][0]"), &value), JsonStatus::kOk);
    EXPECT_EQ(decoded(value), "bash");

    ASSERT_EQ(json_find(root, test::view("initrd"), &value), JsonStatus::kOk);
    EXPECT_TRUE(json_is_null(value));
    bool flag = true;
    ASSERT_EQ(json_find(root, test::view("defaults.ballooning"), &value), JsonStatus::kOk);
    ASSERT_EQ(json_to_bool(value, &flag), JsonStatus::kOk);
    EXPECT_FALSE(flag);
    ASSERT_EQ(json_find(root, test::view("verity.salt"), &value), JsonStatus::kOk);
    EXPECT_EQ(decoded(value), "");
    ASSERT_EQ(json_find(root, test::view("verity"), &value), JsonStatus::kOk);
    EXPECT_EQ(text_of(value), R"({"root_hash": "00ff", "data_block_size": 4096, "salt": ""})");

    EXPECT_EQ(json_find(root, test::view("kernel.sha512"), &value), JsonStatus::kNotFound);
    EXPECT_EQ(json_find(root, test::view("partitions[3]"), &value), JsonStatus::kNotFound);
    EXPECT_EQ(json_find(root, test::view("name.first"), &value), JsonStatus::kWrongType);
    EXPECT_EQ(json_find(root, test::view("name[0]"), &value), JsonStatus::kWrongType);
    ASSERT_EQ(json_find(root, test::view(""), &value), JsonStatus::kOk);
    EXPECT_EQ(value.begin, root.begin);

    size_t count = 0;
    ASSERT_EQ(json_find(root, test::view("partitions"), &value), JsonStatus::kOk);
    ASSERT_EQ(json_array_size(value, &count), JsonStatus::kOk);
    EXPECT_EQ(count, 3u);
    JsonArrayReader partitions(value);
    JsonValue partition;
    std::string roles;
    while (partitions.next(&partition) == JsonStatus::kOk) {
        JsonValue role;
        ASSERT_EQ(json_get(partition, test::view("role"), &role), JsonStatus::kOk);
        roles += decoded(role) + ",";
    }
    EXPECT_EQ(roles, "boot,root,root-verity,");

    JsonObjectReader members(root);
    JsonValue key;
    std::string keys;
    while (members.next(&key, &value) == JsonStatus::kOk) keys += decoded(key) + ",";
    EXPECT_EQ(keys,
              "format,name,version,created,kernel,initrd,cmdline,partitions,verity,defaults,"
              "provenance,");
}

TEST(JsonTest, BadPaths) {
    JsonValue root, value;
    ASSERT_EQ(parse(R"({"a": [{"b": 1}]})", &root), JsonStatus::kOk);
    ASSERT_EQ(json_find(root, test::view("a[0].b"), &value), JsonStatus::kOk);
    for (const char* path : {".a", "a.", "a..b", "a[", "a[]", "a[x]", "a[0", "a[0]b", "a]", "[",
                             "a[99999999999999999999999]"}) {
        EXPECT_EQ(json_find(root, test::view(path), &value), JsonStatus::kBadPath) << path;
    }
}

TEST(JsonTest, ScalarsAtTopLevelAndWhitespace) {
    JsonValue root;
    ASSERT_EQ(parse(" \t\r\n 42 \n", &root), JsonStatus::kOk);
    EXPECT_EQ(root.type, JsonType::kNumber);
    EXPECT_EQ(text_of(root), "42");
    ASSERT_EQ(parse("\"x\"", &root), JsonStatus::kOk);
    EXPECT_EQ(root.type, JsonType::kString);
    ASSERT_EQ(parse("true", &root), JsonStatus::kOk);
    EXPECT_EQ(root.type, JsonType::kBool);
    ASSERT_EQ(parse("null", &root), JsonStatus::kOk);
    ASSERT_EQ(parse("[]", &root), JsonStatus::kOk);
    ASSERT_EQ(parse("{ }", &root), JsonStatus::kOk);
    JsonValue element;
    EXPECT_EQ(JsonArrayReader(root).next(&element), JsonStatus::kWrongType);
}

TEST(JsonTest, SyntaxErrors) {
    const std::pair<const char*, JsonStatus> cases[] = {
        {"", JsonStatus::kEmpty},
        {"  \n", JsonStatus::kEmpty},
        {"{", JsonStatus::kUnexpectedEnd},
        {"[1,", JsonStatus::kUnexpectedEnd},
        {"{\"a\"", JsonStatus::kUnexpectedEnd},
        {"{\"a\":", JsonStatus::kUnexpectedEnd},
        {"\"abc", JsonStatus::kUnexpectedEnd},
        {"[1,]", JsonStatus::kUnexpectedCharacter},
        {"{\"a\":1,}", JsonStatus::kUnexpectedCharacter},
        {"{,}", JsonStatus::kUnexpectedCharacter},
        {"{a:1}", JsonStatus::kUnexpectedCharacter},
        {"{\"a\" 1}", JsonStatus::kUnexpectedCharacter},
        {"[1 2]", JsonStatus::kUnexpectedCharacter},
        {"[1}", JsonStatus::kUnexpectedCharacter},
        {"{\"a\":1]", JsonStatus::kUnexpectedCharacter},
        {"'a'", JsonStatus::kUnexpectedCharacter},
        {"tru", JsonStatus::kUnexpectedEnd},
        {"trUe", JsonStatus::kUnexpectedCharacter},
        {"nul", JsonStatus::kUnexpectedEnd},
        {"truex", JsonStatus::kTrailingData},
        {"1 2", JsonStatus::kTrailingData},
        {"{} {}", JsonStatus::kTrailingData},
        {"[] x", JsonStatus::kTrailingData},
        {"+1", JsonStatus::kUnexpectedCharacter},
        {"-", JsonStatus::kUnexpectedEnd},
        {"-a", JsonStatus::kUnexpectedCharacter},
        {"01", JsonStatus::kLeadingZero},
        {"-01", JsonStatus::kLeadingZero},
        {"1.5", JsonStatus::kFloatNotSupported},
        {"1e3", JsonStatus::kFloatNotSupported},
        {"1E3", JsonStatus::kFloatNotSupported},
        {"0.0", JsonStatus::kFloatNotSupported},
        {"[1.0]", JsonStatus::kFloatNotSupported},
        {"\xEF\xBB\xBF{}", JsonStatus::kUnexpectedCharacter},  // byte order mark
    };
    for (const auto& [text, expected] : cases) {
        EXPECT_EQ(parse(text), expected) << "'" << text << "' gave " << to_string(parse(text));
    }
    EXPECT_EQ(parse(std::string_view("[1]\0", 4)), JsonStatus::kTrailingData);
}

TEST(JsonTest, IntegerLimits) {
    JsonValue root;
    uint64_t unsigned_value = 0;
    int64_t signed_value = 0;

    ASSERT_EQ(parse("18446744073709551615", &root), JsonStatus::kOk);
    ASSERT_EQ(json_to_uint64(root, &unsigned_value), JsonStatus::kOk);
    EXPECT_EQ(unsigned_value, UINT64_MAX);
    EXPECT_EQ(json_to_int64(root, &signed_value), JsonStatus::kNumberOutOfRange);
    EXPECT_EQ(parse("18446744073709551616"), JsonStatus::kNumberOverflow);
    EXPECT_EQ(parse("99999999999999999999999999"), JsonStatus::kNumberOverflow);

    ASSERT_EQ(parse("9223372036854775807", &root), JsonStatus::kOk);
    ASSERT_EQ(json_to_int64(root, &signed_value), JsonStatus::kOk);
    EXPECT_EQ(signed_value, INT64_MAX);
    ASSERT_EQ(parse("-9223372036854775808", &root), JsonStatus::kOk);
    ASSERT_EQ(json_to_int64(root, &signed_value), JsonStatus::kOk);
    EXPECT_EQ(signed_value, INT64_MIN);
    EXPECT_EQ(json_to_uint64(root, &unsigned_value), JsonStatus::kNumberOutOfRange);
    EXPECT_EQ(parse("-9223372036854775809"), JsonStatus::kNumberOverflow);

    ASSERT_EQ(parse("-0", &root), JsonStatus::kOk);
    ASSERT_EQ(json_to_uint64(root, &unsigned_value), JsonStatus::kOk);
    EXPECT_EQ(unsigned_value, 0u);
    ASSERT_EQ(parse("-42", &root), JsonStatus::kOk);
    ASSERT_EQ(json_to_int64(root, &signed_value), JsonStatus::kOk);
    EXPECT_EQ(signed_value, -42);

    ASSERT_EQ(parse("\"12\"", &root), JsonStatus::kOk);
    EXPECT_EQ(json_to_uint64(root, &unsigned_value), JsonStatus::kWrongType);
    bool flag;
    EXPECT_EQ(json_to_bool(root, &flag), JsonStatus::kWrongType);
}

TEST(JsonTest, StringEscapesDecodeToUtf8) {
    JsonValue root;
    ASSERT_EQ(
        parse(R"(["a\"b\\c\/d", "\b\f\n\r\t", "\u00e9\u20AC", "\ud83d\ude00", "\u0000x"])", &root),
        JsonStatus::kOk);
    JsonValue value;
    ASSERT_EQ(json_at(root, 0, &value), JsonStatus::kOk);
    EXPECT_EQ(decoded(value), "a\"b\\c/d");
    ASSERT_EQ(json_at(root, 1, &value), JsonStatus::kOk);
    EXPECT_EQ(decoded(value), "\b\f\n\r\t");
    ASSERT_EQ(json_at(root, 2, &value), JsonStatus::kOk);
    EXPECT_EQ(decoded(value), "\xC3\xA9\xE2\x82\xAC");  // é €
    EXPECT_TRUE(json_string_equals(value, test::view("\xC3\xA9\xE2\x82\xAC")));
    EXPECT_FALSE(json_string_equals(value, test::view("\xC3\xA9")));
    EXPECT_FALSE(json_string_equals(value, test::view("\xC3\xA9\xE2\x82\xAC!")));
    ASSERT_EQ(json_at(root, 3, &value), JsonStatus::kOk);
    EXPECT_EQ(decoded(value), "\xF0\x9F\x98\x80");  // U+1F600 from a surrogate pair
    ASSERT_EQ(json_at(root, 4, &value), JsonStatus::kOk);
    EXPECT_EQ(decoded(value), std::string("\0x", 2));

    uint8_t small[3];
    size_t size;
    ASSERT_EQ(json_at(root, 0, &value), JsonStatus::kOk);
    EXPECT_EQ(json_string_decode(value, small, sizeof small, &size), JsonStatus::kBufferTooSmall);
    EXPECT_EQ(json_at(root, 5, &value), JsonStatus::kNotFound);
}

TEST(JsonTest, KeysAreComparedAfterUnescaping) {
    JsonValue root, value;
    ASSERT_EQ(parse(R"({"n\u0061me": 1, "caf\u00e9": 2})", &root), JsonStatus::kOk);
    uint64_t number = 0;
    ASSERT_EQ(json_get(root, test::view("name"), &value), JsonStatus::kOk);
    ASSERT_EQ(json_to_uint64(value, &number), JsonStatus::kOk);
    EXPECT_EQ(number, 1u);
    ASSERT_EQ(json_get(root, test::view("caf\xC3\xA9"), &value), JsonStatus::kOk);
    EXPECT_EQ(json_get(root, test::view("nam"), &value), JsonStatus::kNotFound);
    EXPECT_EQ(json_get(root, ByteView("name\0", 5), &value), JsonStatus::kNotFound);
}

TEST(JsonTest, DuplicateKeysAreAmbiguous) {
    JsonValue root, value;
    // Parsers disagree on which duplicate wins, so a lookup refuses rather than choose.
    ASSERT_EQ(parse(R"({"kernel": 1, "other": 2, "ker\u006eel": 3})", &root), JsonStatus::kOk);
    EXPECT_EQ(json_get(root, test::view("kernel"), &value), JsonStatus::kDuplicateKey);
    EXPECT_EQ(json_find(root, test::view("kernel"), &value), JsonStatus::kDuplicateKey);
    EXPECT_EQ(json_get(root, test::view("other"), &value), JsonStatus::kOk);
}

TEST(JsonTest, StringRules) {
    const std::pair<const char*, JsonStatus> cases[] = {
        {"\"\\x\"", JsonStatus::kBadEscape},
        {"\"\\u12\"", JsonStatus::kBadEscape},
        {"\"\\u12g4\"", JsonStatus::kBadEscape},
        {"\"\\", JsonStatus::kUnexpectedEnd},
        {"\"\\ud800\"", JsonStatus::kBadUnicodeEscape},         // lone high surrogate
        {"\"\\ud800\\u0041\"", JsonStatus::kBadUnicodeEscape},  // high + non-surrogate
        {"\"\\udc00\"", JsonStatus::kBadUnicodeEscape},         // lone low surrogate
        {"\"\\ud800\\ud800\"", JsonStatus::kBadUnicodeEscape},
        {"\"a\nb\"", JsonStatus::kControlCharacter},
        {"\"\t\"", JsonStatus::kControlCharacter},
        {"\"\x80\"", JsonStatus::kBadUtf8},              // continuation byte first
        {"\"\xC0\xAF\"", JsonStatus::kBadUtf8},          // overlong '/'
        {"\"\xE0\x80\xAF\"", JsonStatus::kBadUtf8},      // overlong
        {"\"\xED\xA0\x80\"", JsonStatus::kBadUtf8},      // encoded surrogate
        {"\"\xF4\x90\x80\x80\"", JsonStatus::kBadUtf8},  // above U+10FFFF
        {"\"\xF5\x80\x80\x80\"", JsonStatus::kBadUtf8},
        {"\"\xC3\"", JsonStatus::kBadUtf8},  // truncated sequence
        {"\"\xE2\x82\"", JsonStatus::kBadUtf8},
        {"\"\xFF\"", JsonStatus::kBadUtf8},
    };
    for (const auto& [text, expected] : cases) {
        EXPECT_EQ(parse(text), expected)
            << test::to_hex(reinterpret_cast<const uint8_t*>(text), std::strlen(text));
    }
    EXPECT_EQ(parse("\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF\""), JsonStatus::kOk);
    EXPECT_EQ(parse("\"\x7F\""), JsonStatus::kOk);  // DEL is not a control character in JSON
}

TEST(JsonTest, DepthLimit) {
    auto nested = [](size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); };
    EXPECT_EQ(parse(nested(64)), JsonStatus::kOk);
    EXPECT_EQ(parse(nested(65)), JsonStatus::kTooDeep);
    EXPECT_EQ(parse(nested(3), nullptr, 3), JsonStatus::kOk);
    EXPECT_EQ(parse(nested(4), nullptr, 3), JsonStatus::kTooDeep);
    EXPECT_EQ(parse("1", nullptr, 0), JsonStatus::kOk);
    EXPECT_EQ(parse("[]", nullptr, 0), JsonStatus::kTooDeep);
    EXPECT_EQ(parse(nested(65), nullptr, 1000), JsonStatus::kTooDeep);  // clamped to 64

    // A depth bomb fails fast and without recursion, however deep it claims to go.
    std::string bomb(10'000'000, '[');
    EXPECT_EQ(parse(bomb), JsonStatus::kTooDeep);
    std::string object_bomb;
    for (int i = 0; i < 100000; ++i) object_bomb += "{\"a\":";
    EXPECT_EQ(parse(object_bomb), JsonStatus::kTooDeep);

    // Mixed nesting keeps track of which container each closer belongs to.
    std::string mixed;
    for (int i = 0; i < 32; ++i) mixed += "{\"k\":[";
    mixed += "1";
    for (int i = 0; i < 32; ++i) mixed += "]}";
    JsonValue root, value;
    ASSERT_EQ(parse(mixed, &root), JsonStatus::kOk);
    std::string path = "k";
    for (int i = 1; i < 32; ++i) path += "[0].k";
    path += "[0]";
    ASSERT_EQ(json_find(root, test::view(path), &value), JsonStatus::kOk);
    EXPECT_EQ(text_of(value), "1");
    std::string swapped = mixed;
    swapped[swapped.size() - 1] = ']';
    swapped[swapped.size() - 2] = '}';
    EXPECT_EQ(parse(swapped), JsonStatus::kUnexpectedCharacter);
}

TEST(JsonTest, ReadersOnValuesThatAreNotFromTheParserStayInBounds) {
    // Hand-made values are outside the contract, but must not make readers loop or overrun.
    const char text[] = "[}]";
    JsonValue bogus{reinterpret_cast<const uint8_t*>(text), 3, JsonType::kArray};
    JsonArrayReader reader(bogus);
    JsonValue element;
    EXPECT_EQ(reader.next(&element), JsonStatus::kEnd);
    size_t size = 99;
    EXPECT_EQ(json_array_size(bogus, &size), JsonStatus::kOk);
    JsonValue empty_object{reinterpret_cast<const uint8_t*>("{:}"), 3, JsonType::kObject};
    JsonValue key, value;
    EXPECT_EQ(JsonObjectReader(empty_object).next(&key, &value), JsonStatus::kEnd);
    JsonValue nothing;
    EXPECT_EQ(json_get(nothing, test::view("a"), &value), JsonStatus::kWrongType);
    EXPECT_FALSE(json_string_equals(nothing, test::view("")));
}

}  // namespace
}  // namespace ingot::fw
