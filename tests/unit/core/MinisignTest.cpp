// minisign through OpenSSL, checked against the firmware's independent verifier and against the
// file formats as minisign writes them.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include "CoreTestSupport.h"
#include "ingot/fw/Minisign.h"
#include "ingot/sign/Minisign.h"

namespace ingot::sign {
namespace {

std::vector<uint8_t> decodeBase64(const std::string& text) {
    std::vector<uint8_t> out(text.size());
    int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                            static_cast<int>(text.size()));
    out.resize(static_cast<size_t>(n) - std::count(text.begin(), text.end(), '='));
    return out;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        out.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

class MinisignTest : public ::testing::Test {
protected:
    MinisignSecretKey key_ = generateMinisignKey();
    std::string message_ = test::randomBytes(10000, 7);
};

TEST_F(MinisignTest, CanonicalSignatureText) {
    std::string text =
        signMinisign(key_, message_, "ingot image gold/debian 12", "ingot image signature");
    ASSERT_EQ(text.back(), '\n');
    std::vector<std::string> l = lines(text);
    ASSERT_EQ(l.size(), 4u);
    EXPECT_EQ(l[0], "untrusted comment: ingot image signature");
    EXPECT_EQ(l[2], "trusted comment: ingot image gold/debian 12");
    std::vector<uint8_t> blob = decodeBase64(l[1]);
    ASSERT_EQ(blob.size(), 74u);
    EXPECT_EQ(blob[0], 'E');
    EXPECT_EQ(blob[1], 'D') << "prehashed";
    EXPECT_TRUE(std::equal(key_.keyId.begin(), key_.keyId.end(), blob.begin() + 2));
    EXPECT_EQ(decodeBase64(l[3]).size(), 64u);
    // Ed25519 is deterministic: the same key, message and comment give the same file.
    EXPECT_EQ(signMinisign(key_, message_, "ingot image gold/debian 12", "ingot image signature"),
              text);
}

TEST_F(MinisignTest, SignVerifyRoundTrip) {
    std::string text = signMinisign(key_, message_, "trusted words", "x");
    EXPECT_EQ(verifyMinisign(key_.publicPart(), message_, text), "trusted words");
    EXPECT_EQ(verifyMinisign(key_.publicPart(), "", signMinisign(key_, "", "t", "u")), "t");
}

TEST_F(MinisignTest, FirmwareVerifierAccepts) {
    std::string publicText = formatPublicKey(key_.publicPart());
    std::string signature = signMinisign(key_, message_, "ingot image a 1", "u");
    fw::MinisignPublicKey publicKey;
    ASSERT_EQ(fw::parse_minisign_public_key(test::view(publicText), &publicKey),
              fw::MinisignStatus::kOk);
    fw::MinisignSignature parsed;
    ASSERT_EQ(fw::parse_minisign_signature(test::view(signature), &parsed),
              fw::MinisignStatus::kOk);
    EXPECT_EQ(parsed.algorithm, fw::MinisignAlgorithm::kPrehashed);
    EXPECT_EQ(fw::verify_minisign(parsed, publicKey, test::view(message_),
                                  fw::MinisignLegacyPolicy::kReject),
              fw::MinisignStatus::kOk);
}

TEST_F(MinisignTest, RejectsTampering) {
    std::string text = signMinisign(key_, message_, "version=1", "u");
    auto rejected = [&](const std::string& message, const std::string& signature,
                        std::string_view why) {
        try {
            verifyMinisign(key_.publicPart(), message, signature, "manifest.json.minisig");
            ADD_FAILURE() << "accepted; expected: " << why;
        } catch (const Error& e) {
            EXPECT_EQ(e.status(), ExitStatus::kVerification);
            EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("manifest.json.minisig"), std::string::npos);
        }
    };
    std::string changed = message_;
    changed[5000] ^= 1;
    rejected(changed, text, "does not match the signed file");
    rejected(message_ + "x", text, "does not match the signed file");

    std::string comment = text;
    comment.replace(comment.find("version=1"), 9, "version=2");
    rejected(message_, comment, "trusted comment's signature");

    std::vector<std::string> l = lines(text);
    std::vector<uint8_t> blob = decodeBase64(l[1]);
    blob[40] ^= 0x10;
    {
        std::string encoded(200, '\0');
        encoded.resize(static_cast<size_t>(
            EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()), blob.data(), 74)));
        rejected(message_, l[0] + "\n" + encoded + "\n" + l[2] + "\n" + l[3] + "\n",
                 "does not match the signed file");
    }

    MinisignSecretKey other = generateMinisignKey();
    rejected(message_, signMinisign(other, message_, "version=1", "u"), "not by the trusted key");
    rejected(message_, l[0] + "\n" + l[1] + "\n" + l[2] + "\n", "expected 4 lines");
    rejected(message_, l[0] + "\n" + l[1] + "x\n" + l[2] + "\n" + l[3] + "\n", "base64");
}

TEST_F(MinisignTest, PublicKeyFileFormat) {
    MinisignPublicKey publicKey = key_.publicPart();
    std::string text = formatPublicKey(publicKey);
    std::vector<std::string> l = lines(text);
    ASSERT_EQ(l.size(), 2u);
    EXPECT_EQ(l[0], "untrusted comment: minisign public key " + formatKeyId(key_.keyId));
    std::string id = formatKeyId({0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xAB});
    EXPECT_EQ(id, "AB07060504030201") << "little-endian, upper case, as minisign prints it";
    EXPECT_EQ(parsePublicKey(text, "k"), publicKey);
    EXPECT_EQ(parsePublicKey(l[1], "k"), publicKey) << "bare key line, as minisign -P takes it";
    test::expectError([&] { parsePublicKey("untrusted comment: x\nnot base64!\n", "key.pub"); },
                      {"key.pub", "base64"});
    test::expectError([&] { parsePublicKey(l[1].substr(4), "key.pub"); }, {"key.pub"});

    test::TempDir dir;
    writePublicKeyFile(dir.file("key.pub"), publicKey);
    EXPECT_EQ(readPublicKeyFile(dir.file("key.pub")), publicKey);
}

TEST_F(MinisignTest, SecretKeyFileIsPrivateAndUnencrypted) {
    test::TempDir dir;
    std::string path = dir.file("key.sec");
    test::writeFile(path, "old contents");
    ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
    mode_t previous = ::umask(0);
    writeSecretKeyFile(path, key_);
    ::umask(previous);

    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(dir.list(), std::vector<std::string>{"key.sec"}) << "no temporary file left";

    std::string text(reinterpret_cast<const char*>(test::readFile(path).data()), st.st_size);
    std::vector<std::string> l = lines(text);
    ASSERT_EQ(l.size(), 2u);
    EXPECT_EQ(l[0].rfind("untrusted comment: ", 0), 0u);
    std::vector<uint8_t> blob = decodeBase64(l[1]);
    ASSERT_EQ(blob.size(), 158u);
    EXPECT_EQ(std::string(blob.begin(), blob.begin() + 6), std::string("Ed\0\0B2", 6));
    EXPECT_TRUE(std::all_of(blob.begin() + 6, blob.begin() + 54, [](uint8_t b) { return !b; }))
        << "no KDF: salt and limits zero";
    EXPECT_TRUE(std::equal(key_.keyId.begin(), key_.keyId.end(), blob.begin() + 54));

    MinisignSecretKey loaded = readSecretKeyFile(path);
    EXPECT_EQ(loaded.keyId, key_.keyId);
    EXPECT_EQ(loaded.seed, key_.seed);
    EXPECT_EQ(loaded.publicKey, key_.publicKey);
    std::string signature = signMinisign(loaded, "m", "t", "u");
    EXPECT_EQ(verifyMinisign(key_.publicPart(), "m", signature), "t");
}

TEST_F(MinisignTest, SecretKeyRejections) {
    std::string text = formatSecretKey(key_);
    std::vector<std::string> l = lines(text);
    std::vector<uint8_t> blob = decodeBase64(l[1]);
    auto encode = [&](std::vector<uint8_t> b) {
        std::string out(400, '\0');
        out.resize(static_cast<size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                                       b.data(), static_cast<int>(b.size()))));
        return l[0] + "\n" + out + "\n";
    };
    auto encrypted = blob;
    encrypted[2] = 'S';
    encrypted[3] = 'c';
    test::expectError([&] { parseSecretKey(encode(encrypted), "key.sec"); },
                      {"key.sec", "encrypted", "minisign -G -W"});
    auto corrupted = blob;
    corrupted[100] ^= 1;  // inside the stored public key
    test::expectError([&] { parseSecretKey(encode(corrupted), "key.sec"); }, {"does not belong"});
    test::expectError(
        [&] {
            parseSecretKey(encode({blob.begin(), blob.end() - 1}), "key.sec");
        },
        {"157 bytes"});
    test::expectError([&] { parseSecretKey("garbage", "key.sec"); }, {"key.sec"});
    test::expectError([&] { readSecretKeyFile("/nonexistent/key.sec"); },
                      {"cannot read secret key /nonexistent/key.sec"});
}

TEST_F(MinisignTest, CommentsMustBeOneLine) {
    test::expectError([&] { signMinisign(key_, "m", "a\nb", "u"); }, {"trusted", "single line"});
    test::expectError([&] { signMinisign(key_, "m", "t", "a\rb"); }, {"untrusted", "single line"});
}

}  // namespace
}  // namespace ingot::sign
