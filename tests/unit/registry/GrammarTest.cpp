// The grammars that stand between a request and a path on disk, hostile inputs first.
#include <gtest/gtest.h>

#include <string>

#include "server/Grammar.h"
#include "server/RegistryError.h"
#include "server/Target.h"

namespace ingot::registry {
namespace {

TEST(RegistryGrammar, AcceptsSpecNames) {
    for (const char* name : {"a", "library/ubuntu", "gold/debian", "a.b_c__d---e/f0", "x/y/z", "0"})
        EXPECT_TRUE(isValidRepositoryName(name)) << name;
    EXPECT_TRUE(isValidRepositoryName(std::string(255, 'a')));
}

TEST(RegistryGrammar, RefusesHostileNames) {
    for (const char* name : {"",        "..",   "a/..",     "../a", "a/../b", ".a", "a.", "a..b",
                             "a___b",   "_a",   "a/_blobs", "A",    "a//b",   "/a", "a/", "a b",
                             "a%2e%2e", "a\\b", "a/./b",    "-a",   "a-",     "é"})
        EXPECT_FALSE(isValidRepositoryName(name)) << name;
    EXPECT_FALSE(isValidRepositoryName(std::string("a\0b", 3)));
    EXPECT_FALSE(isValidRepositoryName(std::string(256, 'a')));
}

TEST(RegistryGrammar, Tags) {
    for (const char* tag : {"latest", "v1.2.3", "_x", "A-b_c.d", "sha256-abc.sig"})
        EXPECT_TRUE(isValidTag(tag)) << tag;
    EXPECT_TRUE(isValidTag(std::string(128, 'a')));
    for (const char* tag : {"", ".", "..", ".a", "-a", "a/b", "a:b", "a b", "a%2e"})
        EXPECT_FALSE(isValidTag(tag)) << tag;
    EXPECT_FALSE(isValidTag(std::string(129, 'a')));
    EXPECT_FALSE(isValidTag(std::string("a\0", 2)));
}

TEST(RegistryGrammar, Digests) {
    std::string hex(64, 'a');
    EXPECT_TRUE(isValidDigest("sha256:" + hex));
    EXPECT_FALSE(isValidDigest("sha256:" + std::string(64, 'A')));
    EXPECT_FALSE(isValidDigest("sha256:" + std::string(63, 'a')));
    EXPECT_FALSE(isValidDigest("sha256:" + std::string(65, 'a')));
    EXPECT_FALSE(isValidDigest("sha256:../" + std::string(61, 'a')));
    EXPECT_FALSE(isValidDigest("sha512:" + std::string(128, 'a')));
    EXPECT_TRUE(looksLikeDigest("sha512:" + std::string(128, 'a')));
    EXPECT_FALSE(looksLikeDigest("sha256:a/b"));
    EXPECT_FALSE(looksLikeDigest(":abc"));
}

TEST(RegistryTarget, RefusesEncodedAndControlCharacters) {
    for (const char* target :
         {"/v2/a%2e%2e/blobs/x", "/v2/a/%2F", "relative", "/v2/a\x01", "/v2/a b"})
        EXPECT_THROW(parseTarget(target), RegistryError) << target;
    EXPECT_THROW(parseTarget("/v2/" + std::string(5000, 'a')), RegistryError);
    EXPECT_THROW(parseTarget("/v2/?n=%00"), RegistryError);
    EXPECT_THROW(parseTarget("/v2/?n=%4"), RegistryError);
}

TEST(RegistryTarget, DecodesQueryValues) {
    Target t = parseTarget("/v2/a/blobs/uploads/?digest=sha256%3Aab&from=x&n");
    EXPECT_EQ(t.path, "/v2/a/blobs/uploads/");
    EXPECT_EQ(t.get("digest").value(), "sha256:ab");
    EXPECT_EQ(t.get("from").value(), "x");
    EXPECT_EQ(t.get("n").value(), "");
    EXPECT_FALSE(t.get("mount"));
}

}  // namespace
}  // namespace ingot::registry
