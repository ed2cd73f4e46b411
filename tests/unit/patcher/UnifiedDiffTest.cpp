// The diff applier against diffs made by the real diff(1): applying `diff -u OLD NEW` to OLD
// must give NEW, byte for byte; and with no fuzz, a hunk whose context changed is refused.
#include "ingot/patcher/UnifiedDiff.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "ingot/core/Error.h"

using namespace ingot::patcher;
namespace fs = std::filesystem;

namespace {

class UnifiedDiffTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "ingot-diff-XXXXXX").string();
        ASSERT_NE(mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { fs::remove_all(dir_); }

    // What `diff -U context old new` prints.
    std::string realDiff(const std::string& oldText, const std::string& newText, int context = 3) {
        std::ofstream(fs::path(dir_) / "old", std::ios::binary) << oldText;
        std::ofstream(fs::path(dir_) / "new", std::ios::binary) << newText;
        std::string command =
            "diff -U " + std::to_string(context) + " '" + dir_ + "/old' '" + dir_ + "/new'";
        FILE* pipe = popen(command.c_str(), "r");
        EXPECT_NE(pipe, nullptr);
        std::string out;
        char buffer[4096];
        size_t n;
        while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
        int status = pclose(pipe);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) <= 1) << command;
        return out;
    }

    // Diffs old→new with diff(1) and checks that our applier turns old into new.
    void roundTrip(const std::string& oldText, const std::string& newText, int context = 3) {
        std::string diff = realDiff(oldText, newText, context);
        ASSERT_FALSE(diff.empty());
        auto parsed = parseUnifiedDiff(diff, "test.diff");
        EXPECT_EQ(applyUnifiedDiff(oldText, parsed, "file"), newText) << diff;
    }

    std::string dir_;
};

std::string numbered(int from, int to, const std::string& prefix = "line ") {
    std::string out;
    for (int i = from; i <= to; ++i) out += prefix + std::to_string(i) + "\n";
    return out;
}

#define EXPECT_CONTAINS(haystack, needle) \
    EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

std::string applyError(std::string_view original, std::string_view diff) {
    try {
        applyUnifiedDiff(original, parseUnifiedDiff(diff, "d"), "etc/x");
    } catch (const ingot::Error& e) {
        EXPECT_EQ(e.status(), ingot::ExitStatus::kUsage);
        return e.what();
    }
    ADD_FAILURE() << "applied:\n" << diff;
    return "";
}

}  // namespace

TEST_F(UnifiedDiffTest, RealDiffsRoundTrip) {
    std::string base = numbered(1, 40);
    // One change in the middle.
    std::string changed = base;
    changed.replace(changed.find("line 20\n"), 8, "line twenty\n");
    roundTrip(base, changed);
    // Several hunks: a change near the start, an insertion, a deletion at the end.
    std::string many = "line 1\nline two\n" + numbered(3, 15) + "inserted\n" + numbered(16, 36);
    roundTrip(base, many);
    auto diff = parseUnifiedDiff(realDiff(base, many), "t");
    EXPECT_EQ(diff.hunks.size(), 3u);
    // Everything replaced, to and from empty.
    roundTrip(base, "completely\ndifferent\n");
    roundTrip("", "new file\n");
    roundTrip("gone\n", "");
    // No context at all.
    roundTrip(base, changed, 0);
    roundTrip(base, many, 0);
    // Blank lines and lines that look like diff syntax.
    roundTrip("a\n\n--- x\n+++ y\n@@ z\nb\n", "a\n\n--- x\n+++ y\n@@ z changed\nb\n\n");
    roundTrip("-- sql comment\nselect 1;\n", "--- sql comment\nselect 1;\n");
}

TEST_F(UnifiedDiffTest, MissingNewlineAtEndOfFile) {
    // Newline removed, added, and the last line changed without one.
    roundTrip("a\nb\nc\n", "a\nb\nc");
    roundTrip("a\nb\nc", "a\nb\nc\n");
    roundTrip("a\nb\nc", "a\nb\nd");
    roundTrip("a\nb\nc", "a\nB\nc");  // the marker on a context line
    roundTrip("x", "y");
    std::string diff = realDiff("a\nb\nc\n", "a\nb\nc");
    EXPECT_CONTAINS(diff, "\\ No newline at end of file");
    // Applying to a file whose end differs in just the newline is a mismatch.
    EXPECT_CONTAINS(applyError("a\nb\nc", diff), "(with no newline)");
}

TEST_F(UnifiedDiffTest, HunksApplyAtAnOffsetWhenTheTextMoved) {
    std::string base = numbered(1, 40);
    std::string changed = base;
    changed.replace(changed.find("line 30\n"), 8, "line thirty\n");
    std::string diff = realDiff(base, changed);
    std::string moved = "extra 1\nextra 2\n" + base;
    std::string expected = "extra 1\nextra 2\n" + changed;
    EXPECT_EQ(applyUnifiedDiff(moved, parseUnifiedDiff(diff, "t"), "f"), expected);
}

TEST_F(UnifiedDiffTest, FuzzZeroRefusesChangedContextAndNamesTheHunk) {
    std::string base = numbered(1, 40);
    std::string changed = base;
    changed.replace(changed.find("line 10\n"), 8, "line ten\n");
    changed.replace(changed.find("line 30\n"), 8, "line thirty\n");
    std::string diff = realDiff(base, changed);
    // One context line of the second hunk differs: patch --fuzz=1 would apply it; we do not.
    std::string drifted = base;
    drifted.replace(drifted.find("line 28\n"), 8, "line 28 edited\n");
    std::string message = applyError(drifted, diff);
    EXPECT_CONTAINS(message, "etc/x: hunk 2 (@@ -27,7 +27,7 @@");
    EXPECT_CONTAINS(message, "does not apply");
    EXPECT_CONTAINS(message,
                    "at line 28 the diff expects 'line 28' but the file has 'line 28 edited'");
    // Already applied: refused too (no reverse detection, no silent success).
    EXPECT_CONTAINS(applyError(changed, diff), "hunk 1");
}

TEST_F(UnifiedDiffTest, HunksAnchoredAtTheStartOrEndStayThere) {
    // diff shows fewer context lines before a hunk only at the start of the file.
    std::string diff = realDiff("a\nb\nc\nd\n", "new\na\nb\nc\nd\n");
    EXPECT_EQ(applyUnifiedDiff("a\nb\nc\nd\n", parseUnifiedDiff(diff, "t"), "f"),
              "new\na\nb\nc\nd\n");
    EXPECT_CONTAINS(applyError("z\na\nb\nc\nd\n", diff), "hunk 1");
    diff = realDiff("a\nb\nc\nd\n", "a\nb\nc\nd\nend\n");
    EXPECT_CONTAINS(applyError("a\nb\nc\nd\ne\n", diff), "hunk 1");
}

TEST_F(UnifiedDiffTest, MalformedDiffs) {
    auto parseError = [](std::string_view diff) {
        try {
            parseUnifiedDiff(diff, "p.diff");
        } catch (const ingot::Error& e) {
            return std::string(e.what());
        }
        ADD_FAILURE() << "parsed:\n" << diff;
        return std::string();
    };
    EXPECT_CONTAINS(parseError(""), "no hunks");
    EXPECT_CONTAINS(parseError("just text\n"), "no hunks");
    EXPECT_CONTAINS(parseError("@@ -1,2 +1,2 @@\n-a\n"),
                    "p.diff: diff line 1: hunk 1 (@@ -1,2 +1,2 @@) ends early");
    EXPECT_CONTAINS(parseError("@@ -1 +1 @@\n-a\n+b\n+c\n"),
                    "diff line 4: '+c' is outside any hunk");
    EXPECT_CONTAINS(parseError("@@ -1,x +1 @@\n"), "malformed hunk header");
    EXPECT_CONTAINS(parseError("@@ -1,2 +1,2 @@\n-a\n*b\n"), "'*b' is no hunk line");
    EXPECT_CONTAINS(
        parseError("--- a\n+++ b\n@@ -1 +1 @@\n-a\n+b\n--- c\n+++ d\n@@ -1 +1 @@\n-a\n+b\n"),
        "more than one file");
    EXPECT_CONTAINS(parseError("@@ -1 +1 @@\n\\ No newline at end of file\n-a\n+b\n"),
                    "follows no line");
    // Preamble text before the first file header is ignored, as patch(1) does.
    auto diff = parseUnifiedDiff(
        "From: someone\nSubject: fix\n\ndiff -u a b\n--- a\t2024-01-01\n"
        "+++ b\t2024-01-02\n@@ -1 +1 @@\n-a\n+b\n",
        "t");
    EXPECT_EQ(diff.oldName, "a");
    EXPECT_EQ(diff.newName, "b");
    EXPECT_EQ(applyUnifiedDiff("a\n", diff, "f"), "b\n");
}

TEST_F(UnifiedDiffTest, NeverJoinsALineWithoutNewlineToTheNext) {
    // Inserting after a last line that has no newline: diff(1) rewrites that line; a
    // hand-written diff that does not is refused rather than gluing "a" and "b" together.
    EXPECT_CONTAINS(applyError("a", "@@ -1,0 +2 @@\n+b\n"), "would join a line");
    EXPECT_CONTAINS(applyError("a\nb\n", "@@ -1 +1 @@\n-a\n+x\n\\ No newline at end of file\n"),
                    "hunk 1 (@@ -1 +1 @@, diff line 1) would join a line");
}
