// A guest's /proc/stat and /proc/uptime as `ingot stats` reads them: the guest writes the text,
// so anything that is not what a kernel prints is refused with the line it was on.
#include "GuestProcStat.h"

#include <gtest/gtest.h>

#include <string>

#include "ingot/core/Error.h"

namespace ingot::cli {
namespace {

// Linux 6.1, two CPUs (shortened intr and softirq lines).
constexpr const char* kDebianProcStat =
    "cpu  1210 3 845 96210 120 0 31 2940 0 0\n"
    "cpu0 600 1 420 48100 60 0 20 1470 0 0\n"
    "cpu1 610 2 425 48110 60 0 11 1470 0 0\n"
    "intr 104211 9 0 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
    "ctxt 221047\n"
    "btime 1700000000\n"
    "processes 1412\n"
    "procs_running 2\n"
    "procs_blocked 0\n"
    "softirq 53130 2 14007 1 1432 4010 0 41 18223 0 15414\n";

// The error message a parse gives, or "" when it parses.
std::string parseError(std::string_view text) {
    try {
        parseGuestProcStat(text);
        return "";
    } catch (const Error& e) {
        return e.what();
    }
}

TEST(GuestProcStat, ReadsTheAggregateAndEveryCpuLine) {
    GuestProcStat stat = parseGuestProcStat(kDebianProcStat);
    EXPECT_EQ(stat.total[CpuColumn::kUser], 1210u);
    EXPECT_EQ(stat.total[CpuColumn::kIdle], 96210u);
    EXPECT_EQ(stat.total[CpuColumn::kSteal], 2940u);
    EXPECT_EQ(stat.total[CpuColumn::kGuestNice], 0u);
    ASSERT_EQ(stat.cpus.size(), 2u);
    EXPECT_EQ(stat.cpus.at(1)[CpuColumn::kSystem], 425u);
    EXPECT_EQ(stat.cpus.at(0)[CpuColumn::kSoftirq], 20u);
}

TEST(GuestProcStat, AColumnAnOlderKernelLacksIsUnavailableNotZero) {
    // Linux 2.4: user nice system idle only; 2.6.10: no steal yet.
    GuestProcStat old = parseGuestProcStat("cpu  100 0 50 1000\ncpu0 100 0 50 1000\n");
    EXPECT_EQ(old.total[CpuColumn::kIdle], 1000u);
    EXPECT_FALSE(old.total[CpuColumn::kIowait].has_value());
    EXPECT_FALSE(old.total[CpuColumn::kSteal].has_value());
    GuestProcStat noSteal = parseGuestProcStat("cpu 1 2 3 4 5 6 7");
    EXPECT_EQ(noSteal.total[CpuColumn::kSoftirq], 7u);
    EXPECT_FALSE(noSteal.total[CpuColumn::kSteal].has_value());
    EXPECT_TRUE(noSteal.cpus.empty());
}

TEST(GuestProcStat, ColumnsALaterKernelMayAddAreCheckedAndSkipped) {
    GuestProcStat stat = parseGuestProcStat("cpu 1 2 3 4 5 6 7 8 9 10 11 12\n");
    EXPECT_EQ(stat.total[CpuColumn::kGuestNice], 10u);
    EXPECT_NE(parseError("cpu 1 2 3 4 5 6 7 8 9 10 x\n").find("column 11"), std::string::npos);
    EXPECT_NE(
        parseError("cpu 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n").find("more than 16 columns"),
        std::string::npos);
}

TEST(GuestProcStat, NumbersThatDoNotFitIn64BitsAreRefusedWithTheirLine) {
    GuestProcStat max = parseGuestProcStat("cpu 18446744073709551615 0 0 0\n");
    EXPECT_EQ(max.total[CpuColumn::kUser], UINT64_MAX);
    std::string error = parseError("cpu 1 2 3 4\ncpu0 1 2 18446744073709551616 4\n");
    EXPECT_NE(error.find("line 2"), std::string::npos) << error;
    EXPECT_NE(error.find("system"), std::string::npos) << error;
    EXPECT_NE(error.find("does not fit in 64 bits"), std::string::npos) << error;
    error = parseError("cpu 1 2 3 99999999999999999999999999999999999999999999999999\n");
    EXPECT_NE(error.find("idle"), std::string::npos) << error;
}

TEST(GuestProcStat, GarbageInANumberIsRefused) {
    for (const char* column : {"-1", "+1", "1e3", "0x10", "12a", "1.5", "１"}) {
        std::string error = parseError(std::string("cpu 1 2 ") + column + " 4\n");
        EXPECT_NE(error.find("line 1"), std::string::npos) << column << ": " << error;
    }
    EXPECT_NE(parseError("cpu 1 2 -1 4\n").find("not a non-negative integer"), std::string::npos);
}

TEST(GuestProcStat, TooFewColumnsIsRefused) {
    std::string error = parseError("cpu 1 2 3 4\ncpu0 1 2 3\n");
    EXPECT_NE(error.find("line 2"), std::string::npos) << error;
    EXPECT_NE(error.find("3 columns"), std::string::npos) << error;
    EXPECT_NE(parseError("cpu\n").find("0 columns"), std::string::npos);
}

TEST(GuestProcStat, AMillionLinesAreRefusedWithoutReadingThemAll) {
    std::string lines;
    for (int i = 0; i < 1'000'000; ++i) lines += "x\n";
    std::string error = parseError("cpu 1 2 3 4\n" + lines);
    EXPECT_NE(error.find("line " + std::to_string(kMaxProcStatLines + 1)), std::string::npos)
        << error;
    EXPECT_NE(error.find("more than"), std::string::npos) << error;

    std::string cpuLines = "cpu 1 2 3 4\n";
    for (int i = 0; i < 1'000'000; ++i) cpuLines += "cpu0 1 2 3 4 5 6 7 8 9 10\n";
    error = parseError(cpuLines);
    EXPECT_NE(error.find("bytes, more than"), std::string::npos) << error;
}

TEST(GuestProcStat, AHugeLineIsRefusedAsALine) {
    std::string line = "cpu";
    for (int i = 0; i < 500'000; ++i) line += " 1";
    EXPECT_NE(parseError(line).find("more than 16 columns"), std::string::npos);
    // A long line that is not a cpu line (a big machine's intr line) is fine.
    EXPECT_EQ(parseError("cpu 1 2 3 4\nintr" + line.substr(3) + "\n"), "");
}

TEST(GuestProcStat, NulAndControlBytesAreRefusedAndNotEchoed) {
    std::string withNul("cpu 1 2 3 4\ncpu0 1 2\0 3 4\n", 25);
    std::string error = parseError(withNul);
    EXPECT_NE(error.find("line 2"), std::string::npos) << error;
    EXPECT_NE(error.find("\\x00"), std::string::npos) << error;
    EXPECT_EQ(error.find('\0'), std::string::npos);

    error = parseError("cpu 1 2 3 4\nbtime \x1b]0;owned\x07\n");
    EXPECT_NE(error.find("\\x1b"), std::string::npos) << error;
    EXPECT_EQ(error.find('\x1b'), std::string::npos);
    // CRLF is not what a kernel writes either.
    EXPECT_NE(parseError("cpu 1 2 3 4\r\n").find("\\x0d"), std::string::npos);
    EXPECT_NE(parseError("cpu 1 2 3 4\n\xff\n").find("line 2"), std::string::npos);
}

TEST(GuestProcStat, CpuNamesMustBeTheKernelsOwn) {
    EXPECT_NE(parseError("cpu 1 2 3 4\ncpux 1 2 3 4\n").find("\"cpux\" is not a CPU name"),
              std::string::npos);
    EXPECT_NE(parseError("cpu 1 2 3 4\ncpu01 1 2 3 4\n").find("not a CPU name"), std::string::npos);
    EXPECT_NE(parseError("cpu 1 2 3 4\ncpu4096 1 2 3 4\n").find("more than the 4096 CPUs"),
              std::string::npos);
    EXPECT_NE(parseError("cpu 1 2 3 4\ncpu99999999999999999999999 1 2 3 4\n").find("line 2"),
              std::string::npos);
    EXPECT_NE(parseError("cpu 1 2 3 4\ncpu0 1 2 3 4\ncpu0 1 2 3 4\n").find("second line for cpu0"),
              std::string::npos);
    EXPECT_NE(parseError("cpu 1 2 3 4\ncpu 1 2 3 4\n").find("second aggregate"), std::string::npos);
    GuestProcStat sparse = parseGuestProcStat("cpu 1 2 3 4\ncpu4095 1 2 3 4\ncpu2 1 2 3 4\n");
    EXPECT_EQ(sparse.cpus.size(), 2u);
    EXPECT_TRUE(sparse.cpus.count(4095));
}

TEST(GuestProcStat, WithoutTheAggregateLineThereIsNothingToRead) {
    EXPECT_NE(parseError("").find("no aggregate"), std::string::npos);
    EXPECT_NE(parseError("cpu0 1 2 3 4\nctxt 5\n").find("no aggregate"), std::string::npos);
    // Blank lines and tabs are harmless.
    EXPECT_EQ(parseError("\n\ncpu\t1 2  3 4\n\n"), "");
}

TEST(GuestUptime, ReadsBothFigures) {
    GuestUptime uptime = parseGuestUptime("350735.47 234388.90\n");
    EXPECT_EQ(uptime.uptimeNs, 350735'470'000'000ull);
    EXPECT_EQ(uptime.idleNs, 234388'900'000'000ull);
    EXPECT_EQ(parseGuestUptime("0.00 0.00").uptimeNs, 0u);
}

TEST(GuestUptime, RefusesAnythingElse) {
    for (const char* text : {"", "12", "12.5 3.25", "1.00  2.00", "1.00 2.00 3.00", "-1.00 2.00",
                             "1.0a 2.00", "99999999999999999999.00 1.00", "1.00\n2.00"}) {
        EXPECT_THROW(parseGuestUptime(text), Error) << text;
    }
    EXPECT_THROW(parseGuestUptime(std::string(1000, '1')), Error);
}

TEST(EscapedText, EscapesWhatATerminalWouldActOnAndCuts) {
    EXPECT_EQ(escapedText("ok \x1b[2J\n"), "ok \\x1b[2J\\x0a");
    EXPECT_EQ(escapedText(std::string("a\0b", 3)), "a\\x00b");
    EXPECT_EQ(escapedText("\xc3\xa9"), "\\xc3\\xa9");
    EXPECT_EQ(escapedText("abcdef", 3), "abc...");
}

}  // namespace
}  // namespace ingot::cli
