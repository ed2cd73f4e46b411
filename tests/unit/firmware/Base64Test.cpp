#include <gtest/gtest.h>

#include <string>

#include "TestSupport.h"
#include "ingot/fw/Base64.h"

namespace ingot::fw {
namespace {

using test::Bytes;

Base64Status decode(std::string_view text, std::string* out, size_t capacity = 64) {
    Bytes buffer(capacity);
    size_t size = 0;
    Base64Status status = base64_decode(test::view(text), buffer.data(), capacity, &size);
    out->assign(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(size));
    return status;
}

TEST(Base64Test, Rfc4648Vectors) {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""},
        {"Zg==", "f"},
        {"Zm8=", "fo"},
        {"Zm9v", "foo"},
        {"Zm9vYg==", "foob"},
        {"Zm9vYmE=", "fooba"},
        {"Zm9vYmFy", "foobar"},
    };
    for (const auto& [encoded, decoded] : vectors) {
        std::string out;
        EXPECT_EQ(decode(encoded, &out), Base64Status::kOk) << encoded;
        EXPECT_EQ(out, decoded);
    }
}

TEST(Base64Test, RoundTripsOpenSslEncodingOfRandomData) {
    for (int i = 0; i < 200; ++i) {
        Bytes data = test::random_bytes(test::random_size(100));
        std::string encoded = test::base64_encode(data);
        Bytes out(base64_max_decoded_size(encoded.size()));
        size_t size = 0;
        ASSERT_EQ(base64_decode(test::view(encoded), out.data(), out.size(), &size),
                  Base64Status::kOk);
        out.resize(size);
        EXPECT_EQ(out, data);
    }
}

TEST(Base64Test, RejectsMalformedInput) {
    std::string out;
    EXPECT_EQ(decode("Zg=", &out), Base64Status::kBadLength);
    EXPECT_EQ(decode("Zm9vY", &out), Base64Status::kBadLength);
    EXPECT_EQ(decode("Zm9v\n", &out), Base64Status::kBadLength);
    EXPECT_EQ(decode("Zm 9", &out), Base64Status::kBadCharacter);
    EXPECT_EQ(decode("Zm-9", &out), Base64Status::kBadCharacter);  // base64url alphabet
    EXPECT_EQ(decode("Zm=v", &out), Base64Status::kBadCharacter);
    EXPECT_EQ(decode("Zg==Zm9v", &out), Base64Status::kBadCharacter);  // padding mid-stream
    EXPECT_EQ(decode("Z===", &out), Base64Status::kBadPadding);
    EXPECT_EQ(decode("====", &out), Base64Status::kBadPadding);
    // Non-zero bits after the last byte: "Zh==" would also decode to "f" in a lax decoder.
    EXPECT_EQ(decode("Zh==", &out), Base64Status::kBadPadding);
    EXPECT_EQ(decode("Zm9=", &out), Base64Status::kBadPadding);
    EXPECT_EQ(decode("Zm9vYmFy", &out, 5), Base64Status::kOutputTooSmall);
    EXPECT_EQ(decode("Zm9vYmE=", &out, 5), Base64Status::kOk);
    EXPECT_EQ(out, "fooba");
}

}  // namespace
}  // namespace ingot::fw
