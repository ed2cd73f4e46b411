#include <gtest/gtest.h>

#include "ingot/core/Error.h"
#include "ingot/core/Size.h"

using ingot::parseSize;

TEST(ParseSize, AcceptsUnits) {
    EXPECT_EQ(parseSize("4096"), 4096u);
    EXPECT_EQ(parseSize("64K"), 64u << 10);
    EXPECT_EQ(parseSize("512M"), 512ull << 20);
    EXPECT_EQ(parseSize("512m"), 512ull << 20);
    EXPECT_EQ(parseSize("2G"), 2ull << 30);
    EXPECT_EQ(parseSize("1536MiB"), 1536ull << 20);
    EXPECT_EQ(parseSize("1T"), 1ull << 40);
}

TEST(ParseSize, RejectsGarbageWithTheText) {
    for (const char* bad : {"", "M", "12Q", "-5M", "1.5G", "99999999999999999999", "17179869184T"}) {
        try {
            parseSize(bad);
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const ingot::Error& e) {
            EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos)
                << e.what();
            EXPECT_EQ(e.status(), ingot::ExitStatus::kUsage);
        }
    }
}

TEST(FormatSize, Readable) {
    EXPECT_EQ(ingot::formatSize(512ull << 20), "512 MiB");
    EXPECT_EQ(ingot::formatSize(3ull << 29), "1.5 GiB");
    EXPECT_EQ(ingot::formatSize(100), "100 B");
}
