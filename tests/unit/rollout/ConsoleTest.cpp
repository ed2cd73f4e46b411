// The console as a person reads it (ConsoleText) and the smoke `expect` pattern
// (ConsolePattern).
#include <gtest/gtest.h>

#include <string>

#include "Contains.h"
#include "ingot/core/Error.h"
#include "ingot/rollout/ConsolePattern.h"
#include "ingot/rollout/RolloutConfig.h"
#include "ingot/rollout/SmokeBoot.h"

namespace ingot::rollout {
namespace {

std::string clean(const std::string& bytes) {
    ConsoleText text;
    return text.feed(bytes);
}

TEST(RolloutConsoleText, PlainTextPassesThrough) {
    EXPECT_EQ(clean("Debian GNU/Linux 12 host ttyS0\n\nhost login: "),
              "Debian GNU/Linux 12 host ttyS0\n\nhost login: ");
}

TEST(RolloutConsoleText, CarriageReturnsGo) {
    EXPECT_EQ(clean("[  OK  ] Started ssh.service\r\n/ # "), "[  OK  ] Started ssh.service\n/ # ");
}

TEST(RolloutConsoleText, CsiSequencesGo) {
    EXPECT_EQ(clean("\x1b[?2004hroot@host:~# "), "root@host:~# ");
    EXPECT_EQ(clean("[\x1b[0;32m  OK  \x1b[0m] Reached target \x1b[1;39mMulti-User\x1b[0m.\n"),
              "[  OK  ] Reached target Multi-User.\n");
    EXPECT_EQ(clean("a\x1b[2K\x1b[1Gb\x1b[Hc"), "abc");
}

TEST(RolloutConsoleText, OscStringsEndedByBelGo) {
    EXPECT_EQ(clean("\x1b]0;root@host: ~\x07root@host:~# "), "root@host:~# ");
}

TEST(RolloutConsoleText, OscStringsEndedByStGo) {
    // ST is ESC '\': neither byte is text.
    EXPECT_EQ(clean("\x1b]0;root@host: ~\x1b\\root@host:~# "), "root@host:~# ");
    EXPECT_EQ(clean("\x1b]3008;start=1;type=boot\x1b\\[  OK  ]\n"), "[  OK  ]\n");
}

TEST(RolloutConsoleText, EscapeSequencesWithIntermediateBytesGo) {
    // tput sgr0 on a linux or xterm terminal: ESC ( B (designate G0 as ASCII), then ESC [ m.
    EXPECT_EQ(clean("\x1b[1mbold\x1b(B\x1b[m plain"), "bold plain");
    EXPECT_EQ(clean("\x1b"
                    "7saved\x1b"
                    "8"),
              "saved");  // two-byte sequences: DECSC, DECRC
}

TEST(RolloutConsoleText, SequenceSplitAcrossFeeds) {
    ConsoleText text;
    EXPECT_EQ(text.feed("boot\x1b[1;"), "boot");
    EXPECT_EQ(text.feed("32mok\x1b"), "ok");
    EXPECT_EQ(text.feed("[0m\r"), "");
    EXPECT_EQ(text.feed("\n\x1b]0;ti"), "\n");
    EXPECT_EQ(text.feed("tle\x07/ # "), "/ # ");
}

TEST(RolloutConsolePattern, DefaultExpectMatchesShellPromptsOnly) {
    const ConsolePattern prompt(SmokeSpec{}.expect);
    EXPECT_TRUE(prompt.search("/ # "));
    EXPECT_TRUE(prompt.search("root@host:~# "));
    EXPECT_TRUE(prompt.search("user@host:~$ "));
    // An autologin getty's prompt comes just before its shell: typing there would race it.
    EXPECT_FALSE(prompt.search("host login: "));
    EXPECT_FALSE(prompt.search("/ #"));  // not yet the prompt: the space is still to come
    EXPECT_FALSE(prompt.search("# comment in a boot line"));
    EXPECT_FALSE(prompt.search(""));
}

TEST(RolloutConsolePattern, MatchAndGroups) {
    const ConsolePattern answer("ingot-smoke-([0-9]+)=([0-9]+)");
    const auto m = answer.search("noise ingot-smoke-3=127 more");
    ASSERT_TRUE(m);
    ASSERT_EQ(m->size(), 3u);
    EXPECT_EQ((*m)[0], "ingot-smoke-3=127");
    EXPECT_EQ((*m)[1], "3");
    EXPECT_EQ((*m)[2], "127");
    EXPECT_FALSE(answer.search("ingot-smoke-3 \"$?\""));
}

TEST(RolloutConsolePattern, GroupThatTookNoPartIsEmptyAndLaterGroupsStay) {
    const ConsolePattern pattern("(a)?(b)");
    const auto m = pattern.search("xbx");
    ASSERT_TRUE(m);
    ASSERT_EQ(m->size(), 3u);
    EXPECT_EQ((*m)[0], "b");
    EXPECT_EQ((*m)[1], "");
    EXPECT_EQ((*m)[2], "b");
}

TEST(RolloutConsolePattern, DollarMatchesAtEachLineEnd) {
    const ConsolePattern pattern("login: $");
    EXPECT_TRUE(pattern.search("host login: \nmore"));
}

TEST(RolloutConsolePattern, RefusesABadPattern) {
    for (const std::string bad : {"(", "a[b", "x{2,1}"}) {
        try {
            ConsolePattern pattern(bad);
            ADD_FAILURE() << "'" << bad << "' was accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.status(), ExitStatus::kUsage);
            EXPECT_CONTAINS(std::string(e.what()),
                            "'" + bad + "' is not a POSIX extended regular expression");
        }
    }
}

}  // namespace
}  // namespace ingot::rollout
