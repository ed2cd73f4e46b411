#include "accounting/ThreadProcStats.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "../../support/TempDir.h"

namespace ingot::vmm {
namespace {

using P = ThreadProcStats;

TEST(Schedstat, ReadsTheRunDelay) {
    EXPECT_EQ(P::parseRunDelay("2208342292 6116821 1578\n"), 6116821u);
    EXPECT_EQ(P::parseRunDelay("0 0 0\n"), 0u);
    EXPECT_EQ(P::parseRunDelay("1 18446744073709551615 3\n"), UINT64_MAX);
}

TEST(Schedstat, RefusesWhatIsNotThreeNumbers) {
    for (const char* text :
         {"", "\n", "1 2 3", "1 2\n", "1 2 3 4\n", "1  2 3\n", " 1 2 3\n", "1 2 3 \n", "a b c\n",
          "1 -2 3\n", "1 +2 3\n", "1 2x 3\n", "1 0x10 3\n", "1 18446744073709551616 3\n",
          "1 2 3\n\n", "1\t2\t3\n"}) {
        EXPECT_EQ(P::parseRunDelay(text), std::nullopt) << '"' << text << '"';
    }
    EXPECT_EQ(P::parseRunDelay(std::string("1 \0 3\n", 6)), std::nullopt);
    EXPECT_EQ(P::parseRunDelay(std::string(100000, '9') + " 1 1\n"), std::nullopt);
}

// A stat line with `guest` in field 43 and `comm` as the command name.
std::string statLine(const std::string& comm, const std::string& guest) {
    std::string line = "4242 (" + comm + ") R";
    for (int field = 4; field <= 52; ++field)
        line += " " + (field == 43 ? guest : field == 8 ? std::string("-1") : std::to_string(field));
    return line + "\n";
}

TEST(ProcStat, ReadsGuestTimeFromField43) {
    EXPECT_EQ(P::parseGuestTicks(statLine("vcpu0", "4242")), 4242u);
    // comm may hold spaces and parentheses: fields count from the last ')'.
    EXPECT_EQ(P::parseGuestTicks(statLine("a) R 1 2 (b", "17")), 17u);
    EXPECT_EQ(P::parseGuestTicks(statLine(")", "0")), 0u);
    EXPECT_EQ(P::parseGuestTicks(statLine("x", "18446744073709551615")), UINT64_MAX);
    // As a Linux 6.1 kernel printed it for a python3 process (guest_time 0).
    EXPECT_EQ(P::parseGuestTicks(
                  "115 (python3) R 112 0 0 0 -1 4194304 2984 6753 73 4 107 113 174 76 20 0 1 0 "
                  "385 18489344 3535 18446744073709551615 94403456180224 94403456180565 "
                  "140722418277728 0 0 0 0 16781312 2 0 0 0 17 0 0 0 0 0 0 94403456191920 "
                  "94403456192536 94403576467456 140722418285723 140722418285789 "
                  "140722418285789 140722418286543 0\n"),
              0u);
}

TEST(ProcStat, RefusesMalformedLines) {
    EXPECT_EQ(P::parseGuestTicks(""), std::nullopt);
    EXPECT_EQ(P::parseGuestTicks("4242 vcpu0 R 1 2 3\n"), std::nullopt);  // no parentheses
    EXPECT_EQ(P::parseGuestTicks("4242 vcpu0) R 1 2 3\n"), std::nullopt);  // no '('
    EXPECT_EQ(P::parseGuestTicks("4242 (vcpu0)"), std::nullopt);
    EXPECT_EQ(P::parseGuestTicks("4242 (vcpu0)R 1\n"), std::nullopt);
    EXPECT_EQ(P::parseGuestTicks("4242 (vcpu0) R 1 2 3\n"), std::nullopt);  // too few fields
    for (const char* guest : {"-1", "+1", "1x", "", "0x10", "18446744073709551616", "١"})
        EXPECT_EQ(P::parseGuestTicks(statLine("v", guest)), std::nullopt) << guest;
    std::string nul = statLine("v", "7");
    nul[nul.size() - 2] = '\0';  // inside field 52, after 43: still fine
    EXPECT_EQ(P::parseGuestTicks(nul), 7u);
    EXPECT_EQ(P::parseGuestTicks(std::string(5000, ')')), std::nullopt);
    EXPECT_EQ(P::parseGuestTicks(std::string(5000, ' ')), std::nullopt);
}

TEST(ThreadProcStats, ReadsThisThread) {
    if (::access("/proc/thread-self/schedstat", R_OK) != 0)
        GTEST_SKIP() << "no /proc/thread-self/schedstat (kernel without CONFIG_SCHED_INFO)";
    auto r = ThreadProcStats().read();
    EXPECT_TRUE(r.runDelayNs.has_value());
    EXPECT_TRUE(r.guestTicks.has_value());
}

TEST(ThreadProcStats, HostileOrMissingFilesGiveNothing) {
    test::TempDir dir;
    std::ofstream(dir / "schedstat") << "12 not-a-number 3\n";
    std::ofstream(dir / "stat") << std::string(4096, 'x');  // longer than any stat line
    auto r = ThreadProcStats(dir.path().string()).read();
    EXPECT_EQ(r.runDelayNs, std::nullopt);
    EXPECT_EQ(r.guestTicks, std::nullopt);

    auto missing = ThreadProcStats(dir / "nowhere").read();
    EXPECT_EQ(missing.runDelayNs, std::nullopt);
    EXPECT_EQ(missing.guestTicks, std::nullopt);

    std::ofstream(dir / "schedstat", std::ios::trunc) << "1 5 3\n";
    std::ofstream(dir / "stat", std::ios::trunc) << "";  // empty: nothing, not a crash
    auto fine = ThreadProcStats(dir.path().string()).read();
    EXPECT_EQ(fine.runDelayNs, 5u);
    EXPECT_EQ(fine.guestTicks, std::nullopt);
}

}  // namespace
}  // namespace ingot::vmm
