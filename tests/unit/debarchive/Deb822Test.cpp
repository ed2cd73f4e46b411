// deb822 paragraphs: the shapes Packages, Release and the dpkg status file use, and hostile
// input, which must fail with the line that is wrong.
#include "ingot/debian/Deb822.h"

#include <gtest/gtest.h>

#include "ingot/core/Error.h"

using namespace ingot::debian;

namespace {

std::string errorOf(std::string_view text, const Deb822Options& options = {}) {
    try {
        parseDeb822(text, options);
    } catch (const ingot::Error& e) {
        EXPECT_EQ(e.status(), ingot::ExitStatus::kUsage);
        return e.what();
    }
    ADD_FAILURE() << "accepted: " << text;
    return "";
}

TEST(Deb822, ParsesParagraphsFieldsAndContinuations) {
    const std::string text =
        "Package: hello\n"
        "Version: 2.10-3\n"
        "Description: example package\n"
        " The long description,\n"
        " .\n"
        "   indented more.   \n"
        "\n"
        "\n"
        "Package: other\n"
        "SHA256:\n"
        " 0123 10 main/x\n"
        " 4567 20 main/y\n";
    const auto ps = parseDeb822(text);
    ASSERT_EQ(ps.size(), 2u);
    EXPECT_EQ(ps[0].line(), 1u);
    ASSERT_EQ(ps[0].fields().size(), 3u);
    EXPECT_EQ(ps[0].fields()[0].name, "Package");
    EXPECT_EQ(ps[0].fields()[1].name, "Version");
    EXPECT_EQ(ps[0].fields()[2].name, "Description");
    EXPECT_EQ(ps[0].get("Description"),
              "example package\nThe long description,\n.\n  indented more.");
    EXPECT_EQ(ps[0].fields()[2].line, 3u);
    EXPECT_EQ(ps[1].line(), 9u);
    EXPECT_EQ(ps[1].get("sha256"), "\n0123 10 main/x\n4567 20 main/y");
}

TEST(Deb822, FieldNamesAreCaseInsensitiveAndKeepTheirSpelling) {
    const auto ps = parseDeb822("pAcKaGe: x\nPre-Depends: libc6\n");
    ASSERT_EQ(ps.size(), 1u);
    EXPECT_EQ(ps[0].get("Package"), "x");
    EXPECT_EQ(ps[0].get("PRE-DEPENDS"), "libc6");
    EXPECT_EQ(ps[0].fields()[0].name, "pAcKaGe");
    EXPECT_FALSE(ps[0].has("Depends"));
    EXPECT_EQ(ps[0].get("Depends"), "");
    EXPECT_FALSE(ps[0].optional("Depends").has_value());
}

TEST(Deb822, BlankLinesWithSpacesSeparateAndNoFinalNewlineIsFine) {
    const auto ps = parseDeb822("\n\nA: 1\n \t \nB: 2");
    ASSERT_EQ(ps.size(), 2u);
    EXPECT_EQ(ps[0].get("A"), "1");
    EXPECT_EQ(ps[1].get("B"), "2");
    EXPECT_EQ(ps[1].line(), 5u);
    EXPECT_TRUE(parseDeb822("").empty());
    EXPECT_TRUE(parseDeb822("\n\n  \n").empty());
}

TEST(Deb822, EmptyValuesAndColonsInValues) {
    const auto ps = parseDeb822("Empty:\nUrl: http://x:80/a\nTight:value\n");
    ASSERT_EQ(ps.size(), 1u);
    EXPECT_TRUE(ps[0].has("Empty"));
    EXPECT_EQ(ps[0].get("Empty"), "");
    EXPECT_EQ(ps[0].get("Url"), "http://x:80/a");
    EXPECT_EQ(ps[0].get("Tight"), "value");
}

TEST(Deb822, CommentsOnlyWhereAllowed) {
    EXPECT_NE(errorOf("A: 1\n# note\nB: 2\n").find("line 2: comments are not allowed"),
              std::string::npos);
    Deb822Options options;
    options.allowComments = true;
    const auto ps = parseDeb822("# head\nA: 1\n# note\nB: 2\n", options);
    ASSERT_EQ(ps.size(), 1u);
    EXPECT_EQ(ps[0].get("B"), "2");
}

TEST(Deb822, HostileInputNamesTheLine) {
    Deb822Options options;
    options.source = "Packages of main";
    EXPECT_NE(errorOf("A: 1\nno colon here\n", options).find("Packages of main line 2: no ':'"),
              std::string::npos);
    EXPECT_NE(errorOf(std::string("A: 1\nB: x\0y\n", 12), options).find("line 2: NUL byte"),
              std::string::npos);
    EXPECT_NE(errorOf(" continued\nA: 1\n").find("line 1: continuation line"), std::string::npos);
    EXPECT_NE(errorOf("A: 1\n\n continued\n").find("line 3: continuation line"), std::string::npos);
    EXPECT_NE(errorOf(": value\n").find("line 1: '' is not a field name"), std::string::npos);
    EXPECT_NE(errorOf("A: 1\n-Bad: 2\n").find("line 2"), std::string::npos);
    EXPECT_NE(errorOf("Bad Name: 2\n").find("is not a field name"), std::string::npos);
    EXPECT_NE(errorOf("A: 1\nB: 2\na: 3\n").find("line 3: field a appears twice"),
              std::string::npos);

    Deb822Options small;
    small.maxLineBytes = 100;
    EXPECT_NE(errorOf("A: 1\nB: " + std::string(200, 'x') + "\n", small)
                  .find("line 2: line longer than 100 bytes"),
              std::string::npos);
    small.maxBytes = 50;
    EXPECT_NE(errorOf(std::string(60, '\n'), small).find("more than the 50 bytes"),
              std::string::npos);
}

TEST(Deb822, AHugeLineIsRefusedByDefault) {
    const std::string huge = "A: " + std::string(2u << 20, 'x') + "\n";
    EXPECT_NE(errorOf(huge).find("line 1: line longer than"), std::string::npos);
}

TEST(Deb822, RepeatedFieldsInDifferentParagraphsAreFine) {
    const auto ps = parseDeb822("A: 1\n\nA: 2\n");
    ASSERT_EQ(ps.size(), 2u);
    EXPECT_EQ(ps[1].get("A"), "2");
}

}  // namespace
