// Interop with the real minisign tool, both ways: files it signs verify with our code, and
// signatures our test writer produces verify with `minisign -V`. Needs the `minisign` program
// (Debian package "minisign"); without it the test exits 77, which CTest reports as skipped.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>

#include "TestSupport.h"
#include "ingot/fw/Minisign.h"

namespace ingot::fw {
namespace {

using test::Bytes;
using test::shell_quote;

std::string& minisign_program() {
    static std::string path;
    return path;
}

class MinisignInteropTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::make_unique<test::TempDir>();
        public_key_path_ = (dir_->path() / "key.pub").string();
        secret_key_path_ = (dir_->path() / "key.sec").string();
        ASSERT_EQ(run("-G -W -p " + shell_quote(public_key_path_) + " -s " +
                      shell_quote(secret_key_path_)),
                  0);
        Bytes public_key_text = test::read_file(public_key_path_);
        ASSERT_EQ(parse_minisign_public_key(test::view(public_key_text), &public_key_),
                  MinisignStatus::kOk);
    }

    int run(const std::string& arguments) {
        return test::run_shell(shell_quote(minisign_program()) + " " + arguments +
                               " </dev/null >/dev/null 2>&1");
    }

    // Signs `content` with the minisign tool and returns the .minisig text.
    Bytes sign_with_tool(const Bytes& content, const std::string& trusted_comment, bool legacy) {
        std::string file = (dir_->path() / "payload").string();
        test::write_file(file, content);
        EXPECT_EQ(
            run(std::string("-S ") + (legacy ? "-l " : "") + "-s " + shell_quote(secret_key_path_) +
                " -m " + shell_quote(file) + " -t " + shell_quote(trusted_comment)),
            0);
        return test::read_file(file + ".minisig");
    }

    std::unique_ptr<test::TempDir> dir_;
    std::string public_key_path_, secret_key_path_;
    MinisignPublicKey public_key_;
};

TEST_F(MinisignInteropTest, ToolSignaturesVerify) {
    for (bool legacy : {false, true}) {
        SCOPED_TRACE(legacy ? "legacy" : "prehashed");
        Bytes content = test::random_bytes(100000);
        Bytes signature_text = sign_with_tool(content, "name=debian version=12", legacy);
        MinisignSignature signature;
        ASSERT_EQ(parse_minisign_signature(test::view(signature_text), &signature),
                  MinisignStatus::kOk);
        EXPECT_EQ(signature.algorithm,
                  legacy ? MinisignAlgorithm::kLegacy : MinisignAlgorithm::kPrehashed);
        EXPECT_EQ(test::as_string(signature.trusted_comment), "name=debian version=12");
        EXPECT_EQ(verify_minisign(signature, public_key_, test::view(content)),
                  MinisignStatus::kOk);

        content[content.size() / 2] ^= 0x80;
        EXPECT_EQ(verify_minisign(signature, public_key_, test::view(content)),
                  MinisignStatus::kBadSignature);
    }
}

TEST_F(MinisignInteropTest, ToolRejectsWhatWeRejectAndAcceptsOurWriter) {
    test::MinisignTestKey key = test::make_minisign_key();
    std::string our_public_key = (dir_->path() / "ours.pub").string();
    test::write_file(our_public_key, test::minisign_public_key_file(key));
    std::string file = (dir_->path() / "manifest.json").string();
    Bytes content = test::random_bytes(4096);
    test::write_file(file, content);
    std::string signature_path = file + ".minisig";

    for (bool prehashed : {true, false}) {
        test::write_file(signature_path,
                         test::minisign_signature_file(key, content, "written by test", prehashed));
        EXPECT_EQ(run("-V -p " + shell_quote(our_public_key) + " -m " + shell_quote(file)), 0)
            << (prehashed ? "prehashed" : "legacy");
    }

    // A trusted comment changed after signing: the tool and our code both refuse it.
    std::string tampered = test::minisign_signature_file(key, content, "version=1");
    tampered.replace(tampered.find("version=1"), 9, "version=2");
    test::write_file(signature_path, tampered);
    EXPECT_NE(run("-V -p " + shell_quote(our_public_key) + " -m " + shell_quote(file)), 0);
    MinisignPublicKey public_key;
    ASSERT_EQ(
        parse_minisign_public_key(test::view(test::minisign_public_key_file(key)), &public_key),
        MinisignStatus::kOk);
    MinisignSignature signature;
    ASSERT_EQ(parse_minisign_signature(test::view(tampered), &signature), MinisignStatus::kOk);
    EXPECT_EQ(verify_minisign(signature, public_key, test::view(content)),
              MinisignStatus::kBadGlobalSignature);
}

}  // namespace
}  // namespace ingot::fw

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ingot::fw::minisign_program() = ingot::fw::test::find_program("minisign");
    if (ingot::fw::minisign_program().empty()) {
        std::fprintf(stderr, "minisign not found (apt-get install minisign); skipping\n");
        return 77;
    }
    return RUN_ALL_TESTS();
}
