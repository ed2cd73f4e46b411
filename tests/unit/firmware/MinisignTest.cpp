// minisign parsing and verification against signatures made with OpenSSL from the published
// format description (MinisignInteropTest checks the real minisign tool).
#include <gtest/gtest.h>

#include <string>

#include "TestSupport.h"
#include "ingot/fw/Minisign.h"

namespace ingot::fw {
namespace {

using test::Bytes;

class MinisignTest : public ::testing::Test {
protected:
    void SetUp() override {
        key_ = test::make_minisign_key();
        message_ = test::random_bytes(5000);
        ASSERT_EQ(
            parse_minisign_public_key(
                test::view(public_key_text_ = test::minisign_public_key_file(key_)), &public_key_),
            MinisignStatus::kOk);
    }

    MinisignStatus parse_and_verify(const std::string& signature_text, const Bytes& message) {
        MinisignSignature signature;
        MinisignStatus status = parse_minisign_signature(test::view(signature_text), &signature);
        if (status != MinisignStatus::kOk) return status;
        return verify_minisign(signature, public_key_, test::view(message));
    }

    test::MinisignTestKey key_;
    std::string public_key_text_;
    MinisignPublicKey public_key_;
    Bytes message_;
};

TEST_F(MinisignTest, PublicKeyFileAndBareLineParseAlike) {
    EXPECT_EQ(Bytes(public_key_.key_id, public_key_.key_id + 8), key_.key_id);
    EXPECT_EQ(Bytes(public_key_.key, public_key_.key + 32), key_.pair.public_key);
    MinisignPublicKey from_line;
    ASSERT_EQ(
        parse_minisign_public_key(test::view(test::minisign_public_key_line(key_)), &from_line),
        MinisignStatus::kOk);
    EXPECT_EQ(Bytes(from_line.key, from_line.key + 32), key_.pair.public_key);
}

TEST_F(MinisignTest, PrehashedSignatureVerifiesAndYieldsTrustedComment) {
    std::string text = test::minisign_signature_file(key_, message_, "name=debian version=12");
    MinisignSignature signature;
    ASSERT_EQ(parse_minisign_signature(test::view(text), &signature), MinisignStatus::kOk);
    EXPECT_EQ(signature.algorithm, MinisignAlgorithm::kPrehashed);
    EXPECT_EQ(test::as_string(signature.trusted_comment), "name=debian version=12");
    EXPECT_EQ(test::as_string(signature.untrusted_comment), "signature from minisign secret key");
    EXPECT_EQ(verify_minisign(signature, public_key_, test::view(message_)), MinisignStatus::kOk);
    EXPECT_EQ(verify_minisign(signature, public_key_, test::view(message_),
                              MinisignLegacyPolicy::kReject),
              MinisignStatus::kOk);
}

TEST_F(MinisignTest, LegacySignatureVerifiesUnlessRefused) {
    std::string text = test::minisign_signature_file(key_, message_, "legacy", false);
    MinisignSignature signature;
    ASSERT_EQ(parse_minisign_signature(test::view(text), &signature), MinisignStatus::kOk);
    EXPECT_EQ(signature.algorithm, MinisignAlgorithm::kLegacy);
    EXPECT_EQ(verify_minisign(signature, public_key_, test::view(message_)), MinisignStatus::kOk);
    EXPECT_EQ(verify_minisign(signature, public_key_, test::view(message_),
                              MinisignLegacyPolicy::kReject),
              MinisignStatus::kLegacyNotAllowed);
}

TEST_F(MinisignTest, LineEndingVariantsAreAccepted) {
    std::string text = test::minisign_signature_file(key_, message_, "comment");
    EXPECT_EQ(parse_and_verify(text.substr(0, text.size() - 1), message_), MinisignStatus::kOk);
    EXPECT_EQ(parse_and_verify(text + "\n", message_), MinisignStatus::kOk);
    std::string crlf;
    for (char c : text) {
        if (c == '\n') crlf += '\r';
        crlf += c;
    }
    EXPECT_EQ(parse_and_verify(crlf, message_), MinisignStatus::kOk);
}

TEST_F(MinisignTest, EmptyTrustedCommentAndEmptyMessage) {
    Bytes empty;
    EXPECT_EQ(parse_and_verify(test::minisign_signature_file(key_, empty, ""), empty),
              MinisignStatus::kOk);
}

TEST_F(MinisignTest, TamperingIsDetected) {
    std::string text = test::minisign_signature_file(key_, message_, "name=debian version=12");

    Bytes changed_message = message_;
    changed_message[1234] ^= 1;
    EXPECT_EQ(parse_and_verify(text, changed_message), MinisignStatus::kBadSignature);

    std::string changed_comment = text;
    changed_comment.replace(changed_comment.find("version=12"), 10, "version=13");
    EXPECT_EQ(parse_and_verify(changed_comment, message_), MinisignStatus::kBadGlobalSignature);

    // A signature made by another key that claims our key id.
    test::MinisignTestKey impostor = test::make_minisign_key();
    impostor.key_id = key_.key_id;
    EXPECT_EQ(parse_and_verify(test::minisign_signature_file(impostor, message_, "x"), message_),
              MinisignStatus::kBadSignature);

    test::MinisignTestKey stranger = test::make_minisign_key();
    EXPECT_EQ(parse_and_verify(test::minisign_signature_file(stranger, message_, "x"), message_),
              MinisignStatus::kKeyIdMismatch);

    // Flip every bit of the signature line's base64 characters one at a time: all must fail
    // (as a parse error or a verification failure), none may verify.
    size_t line_start = text.find('\n') + 1;
    size_t line_end = text.find('\n', line_start);
    for (size_t i = line_start; i < line_end; ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            std::string damaged = text;
            damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
            ASSERT_NE(parse_and_verify(damaged, message_), MinisignStatus::kOk)
                << "offset " << i << " bit " << bit;
        }
    }
}

TEST_F(MinisignTest, AnyOfSeveralTrustedKeys) {
    test::MinisignTestKey other = test::make_minisign_key();
    MinisignPublicKey keys[2];
    ASSERT_EQ(
        parse_minisign_public_key(test::view(test::minisign_public_key_file(other)), &keys[0]),
        MinisignStatus::kOk);
    keys[1] = public_key_;
    std::string text = test::minisign_signature_file(key_, message_, "c");
    MinisignSignature signature;
    ASSERT_EQ(parse_minisign_signature(test::view(text), &signature), MinisignStatus::kOk);
    size_t index = 99;
    EXPECT_EQ(verify_minisign_with_any(signature, keys, 2, test::view(message_), &index),
              MinisignStatus::kOk);
    EXPECT_EQ(index, 1u);
    EXPECT_EQ(verify_minisign_with_any(signature, keys, 1, test::view(message_)),
              MinisignStatus::kKeyIdMismatch);
    EXPECT_EQ(verify_minisign_with_any(signature, keys, 0, test::view(message_)),
              MinisignStatus::kNoKeys);
}

TEST_F(MinisignTest, MalformedSignatureFilesAreRejected) {
    std::string good = test::minisign_signature_file(key_, message_, "comment");
    auto line = [&](int index) {
        size_t start = 0;
        for (int i = 0; i < index; ++i) start = good.find('\n', start) + 1;
        return good.substr(start, good.find('\n', start) - start);
    };
    auto parse = [](const std::string& text) {
        MinisignSignature signature;
        return parse_minisign_signature(test::view(text), &signature);
    };
    std::string l0 = line(0), l1 = line(1), l2 = line(2), l3 = line(3);

    EXPECT_EQ(parse(""), MinisignStatus::kMissingLine);
    EXPECT_EQ(parse(l0 + "\n"), MinisignStatus::kMissingLine);
    EXPECT_EQ(parse(l0 + "\n" + l1 + "\n" + l2 + "\n"), MinisignStatus::kMissingLine);
    EXPECT_EQ(parse("comment: x\n" + l1 + "\n" + l2 + "\n" + l3 + "\n"),
              MinisignStatus::kMissingUntrustedComment);
    EXPECT_EQ(parse(l0 + "\n" + l1 + "\n" + "untrusted comment: x\n" + l3 + "\n"),
              MinisignStatus::kMissingTrustedComment);
    EXPECT_EQ(parse(good + "extra\n"), MinisignStatus::kTrailingData);
    EXPECT_EQ(parse(l0 + "\n" + l1.substr(4) + "\n" + l2 + "\n" + l3 + "\n"),
              MinisignStatus::kBadLength);
    EXPECT_EQ(parse(l0 + "\n" + l1 + "AAAA\n" + l2 + "\n" + l3 + "\n"), MinisignStatus::kBadLength);
    EXPECT_EQ(parse(l0 + "\n" + l1 + "\n" + l2 + "\n" + l3.substr(0, 80) + "\n"),
              MinisignStatus::kBadLength);
    EXPECT_EQ(parse(l0 + "\n" + l1 + " \n" + l2 + "\n" + l3 + "\n"), MinisignStatus::kBadBase64);

    // An unknown algorithm: "EX" in place of "ED".
    Bytes blob = test::from_hex("4558");
    Bytes rest = test::random_bytes(72);
    blob.insert(blob.end(), rest.begin(), rest.end());
    EXPECT_EQ(parse(l0 + "\n" + test::base64_encode(blob) + "\n" + l2 + "\n" + l3 + "\n"),
              MinisignStatus::kUnknownAlgorithm);
}

TEST_F(MinisignTest, MalformedPublicKeysAreRejected) {
    MinisignPublicKey key;
    EXPECT_EQ(parse_minisign_public_key(test::view(""), &key), MinisignStatus::kMissingLine);
    EXPECT_EQ(parse_minisign_public_key(test::view("untrusted comment: x\n"), &key),
              MinisignStatus::kMissingLine);
    EXPECT_EQ(parse_minisign_public_key(test::view(public_key_text_ + "more\n"), &key),
              MinisignStatus::kTrailingData);
    std::string line = test::minisign_public_key_line(key_);
    EXPECT_EQ(parse_minisign_public_key(test::view(line.substr(0, 52)), &key),
              MinisignStatus::kBadLength);
    Bytes ed_upper = test::from_hex("4544");  // "ED" is a signature algorithm, not a key one
    Bytes rest = test::random_bytes(40);
    ed_upper.insert(ed_upper.end(), rest.begin(), rest.end());
    EXPECT_EQ(parse_minisign_public_key(test::view(test::base64_encode(ed_upper)), &key),
              MinisignStatus::kUnknownAlgorithm);
}

TEST_F(MinisignTest, KeyThatIsNotACurvePointIsReported) {
    std::string text = test::minisign_signature_file(key_, message_, "c");
    MinisignSignature signature;
    ASSERT_EQ(parse_minisign_signature(test::view(text), &signature), MinisignStatus::kOk);
    MinisignPublicKey bad = public_key_;
    bad.key[0] = 2;  // y = 2 has no x on the curve
    for (int i = 1; i < 32; ++i) bad.key[i] = 0;
    EXPECT_EQ(verify_minisign(signature, bad, test::view(message_)), MinisignStatus::kBadPublicKey);
}

}  // namespace
}  // namespace ingot::fw
