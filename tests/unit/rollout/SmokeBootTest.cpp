// The smoke boot against a fake console: /bin/sh playing a guest on its stdin and stdout. It
// prints boot lines, a prompt without a newline, then echoes each line it reads (as a tty
// would), runs it and prints the prompt again.
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../../support/TempDir.h"
#include "Contains.h"
#include "ingot/core/Error.h"
#include "ingot/rollout/SmokeBoot.h"

namespace ingot::rollout {
namespace {

using namespace std::chrono_literals;

// Boot lines, then the prompt loop. `$$` (the group's leader) goes to PIDFILE first.
const std::string kBoot =
    "echo $$ > \"$PIDFILE\"\n"
    "printf 'Linux version 6.1.0-28-amd64\\r\\n'\n"
    "printf '[\\033[0;32m  OK  \\033[0m] Reached target Multi-User System.\\r\\n'\n";
const std::string kPromptLoop =
    "printf '/ # '\n"
    "while IFS= read -r line; do\n"
    "  printf '%s\\r\\n' \"$line\"\n"
    "  eval \"$line\"\n"
    "  printf '/ # '\n"
    "done\n";

std::string readFile(const std::string& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// pids of the processes in process group `group` that still run (zombies count as gone: what
// reaps them is not ours).
std::vector<pid_t> liveMembers(pid_t group) {
    std::vector<pid_t> live;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        const std::string stat = readFile(entry.path().string() + "/stat");
        const size_t paren = stat.rfind(')');
        if (paren == std::string::npos) continue;
        std::istringstream fields(stat.substr(paren + 1));
        char state = 0;
        pid_t parent = 0, pgrp = 0;
        fields >> state >> parent >> pgrp;
        if (pgrp == group && state != 'Z' && state != 'X') live.push_back(std::stoi(name));
    }
    return live;
}

class RolloutSmokeBootTest : public ::testing::Test {
protected:
    void SetUp() override { start_ = std::chrono::steady_clock::now(); }

    SmokeRequest request(const std::string& script) const {
        SmokeRequest r;
        r.command = {"/bin/sh", "-c", "PIDFILE='" + pidFile() + "'\n" + script};
        r.consoleLog = dir_ / "console.log";
        r.spec.deadline = 5s;
        r.spec.commandTimeout = 5s;
        return r;
    }
    std::string pidFile() const { return dir_ / "pid"; }

    // The fake console's process group is gone once runSmoke returned: the leader reaped, and
    // nothing it started left running.
    void expectGroupGone() const {
        const std::string text = readFile(pidFile());
        ASSERT_FALSE(text.empty()) << "the fake console never wrote its pid";
        const pid_t leader = std::stoi(text);
        errno = 0;
        EXPECT_EQ(::kill(leader, 0), -1);
        EXPECT_EQ(errno, ESRCH) << "the console's process " << leader << " is still there";
        // A killed straggler may take a moment to be gone.
        std::vector<pid_t> live = liveMembers(leader);
        for (int i = 0; i < 20 && !live.empty(); ++i) {
            std::this_thread::sleep_for(50ms);
            live = liveMembers(leader);
        }
        EXPECT_TRUE(live.empty()) << live.size()
                                  << " process(es) of the console's group still run, "
                                  << "e.g. " << (live.empty() ? 0 : live[0]);
    }

    double elapsed() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }

    ingot::test::TempDir dir_;
    std::chrono::steady_clock::time_point start_;
};

TEST_F(RolloutSmokeBootTest, PassesWhenEveryCommandExitsZero) {
    SmokeRequest r = request(kBoot + kPromptLoop);
    r.spec.commands = {"true", "test -d /"};
    const SmokeOutcome out = runSmoke(r);
    EXPECT_EQ(out.result, "passed") << out.reason;
    EXPECT_EQ(out.reason, "");
    EXPECT_EQ(out.consoleLog, r.consoleLog);
    EXPECT_GT(out.seconds, 0);
    EXPECT_LT(out.seconds, 5);

    const std::string log = readFile(r.consoleLog);
    EXPECT_CONTAINS(log, "Linux version 6.1.0-28-amd64\r\n");  // the log is the raw console
    EXPECT_CONTAINS(log, "Reached target Multi-User System.");
    // Both commands were typed, and their answers came back.
    EXPECT_CONTAINS(log, "ingot-smoke-0=0\n");
    EXPECT_CONTAINS(log, "ingot-smoke-1=0\n");
    EXPECT_CONTAINS(log, "test -d / ; printf");
    expectGroupGone();
}

TEST_F(RolloutSmokeBootTest, PassesWithNoCommandsOnceThePromptShows) {
    const SmokeOutcome out = runSmoke(request(kBoot + kPromptLoop));
    EXPECT_EQ(out.result, "passed") << out.reason;
    expectGroupGone();
}

TEST_F(RolloutSmokeBootTest, CommandsRunInOrderAtThePrompt) {
    SmokeRequest r = request(kBoot + kPromptLoop);
    const std::string trail = dir_ / "trail";
    r.spec.commands = {"echo one >> " + trail, "echo two >> " + trail,
                       "test \"$(cat " + trail + ")\" = \"$(printf 'one\\ntwo')\""};
    const SmokeOutcome out = runSmoke(r);
    EXPECT_EQ(out.result, "passed") << out.reason;
    EXPECT_EQ(readFile(trail), "one\ntwo\n");
}

TEST_F(RolloutSmokeBootTest, FailingCommandFails) {
    SmokeRequest r = request(kBoot + kPromptLoop);
    const std::string after = dir_ / "after";
    r.spec.commands = {"true", "false", "touch " + after};
    const SmokeOutcome out = runSmoke(r);
    EXPECT_EQ(out.result, "failed");
    EXPECT_EQ(out.reason, "'false' exited 1");
    EXPECT_FALSE(std::filesystem::exists(after)) << "a command after the failing one was typed";
    expectGroupGone();
}

TEST_F(RolloutSmokeBootTest, ExitStatusOfTheCommandIsReported) {
    SmokeRequest r = request(kBoot + kPromptLoop);
    r.spec.commands = {"(exit 42)"};
    const SmokeOutcome out = runSmoke(r);
    EXPECT_EQ(out.result, "failed");
    EXPECT_EQ(out.reason, "'(exit 42)' exited 42");
}

TEST_F(RolloutSmokeBootTest, PromptThatNeverComes) {
    SmokeRequest r =
        request(kBoot + "printf 'Waiting for root device /dev/vda2...\\r\\n'\nsleep 30\n");
    r.spec.deadline = 2s;
    const SmokeOutcome out = runSmoke(r);
    EXPECT_EQ(out.result, "failed");
    EXPECT_CONTAINS(out.reason, "did not come within the deadline");
    EXPECT_CONTAINS(out.reason, "the prompt");
    EXPECT_CONTAINS(out.reason, "the console's last line: 'Waiting for root device /dev/vda2...'");
    EXPECT_GE(out.seconds, 2);
    EXPECT_LT(elapsed(), 6);
    expectGroupGone();
}

TEST_F(RolloutSmokeBootTest, ConsoleThatExitsBeforeThePrompt) {
    SmokeRequest r = request(
        kBoot +
        "printf 'Kernel panic - not syncing: VFS: Unable to mount root fs\\r\\n'\nexit 3\n");
    const SmokeOutcome out = runSmoke(r);
    EXPECT_EQ(out.result, "failed");
    EXPECT_CONTAINS(out.reason, "the clone stopped (ingot run exited 3) before the prompt");
    EXPECT_CONTAINS(out.reason, "'Kernel panic - not syncing: VFS: Unable to mount root fs'");
    EXPECT_LT(elapsed(), 4);
    expectGroupGone();
}

TEST_F(RolloutSmokeBootTest, ConsoleThatExitsDuringACommand) {
    SmokeRequest r = request(kBoot + kPromptLoop);
    r.spec.commands = {"true", "exit 0"};
    const SmokeOutcome out = runSmoke(r);
    EXPECT_EQ(out.result, "failed");
    EXPECT_CONTAINS(out.reason,
                    "the clone stopped (ingot run exited 0) before the end of 'exit 0'");
    expectGroupGone();
}

TEST_F(RolloutSmokeBootTest, CommandThatHangs) {
    SmokeRequest r = request(kBoot + kPromptLoop);
    r.spec.commands = {"true", "sleep 30"};
    r.spec.commandTimeout = 2s;
    const SmokeOutcome out = runSmoke(r);
    EXPECT_EQ(out.result, "failed");
    EXPECT_CONTAINS(out.reason, "the end of 'sleep 30' did not come within the deadline");
    EXPECT_LT(elapsed(), 6);
    // The shell died of SIGTERM; the sleep it ran must not outlive the smoke boot.
    expectGroupGone();
}

TEST_F(RolloutSmokeBootTest, EscapeSequencesAroundThePrompt) {
    const std::string loop =
        "printf '\\033]0;root@smoke: /\\007\\033[?2004h/ # '\n"
        "while IFS= read -r line; do\n"
        "  printf '\\033[?2004l%s\\r\\n' \"$line\"\n"
        "  eval \"$line\"\n"
        "  printf '\\033[?2004h/ # \\033[K'\n"
        "done\n";
    SmokeRequest r = request(kBoot + loop);
    r.spec.commands = {"true", "test -d /"};
    r.spec.commandTimeout = 2s;
    const SmokeOutcome out = runSmoke(r);
    EXPECT_EQ(out.result, "passed") << out.reason;
    expectGroupGone();
}

TEST_F(RolloutSmokeBootTest, ThePromptMayArriveInPieces) {
    const std::string loop =
        "printf '/ '; sleep 0.2; printf '#'; sleep 0.2; printf ' '\n"
        "while IFS= read -r line; do printf '%s\\r\\n' \"$line\"; eval \"$line\"; printf '/ # '; "
        "done\n";
    SmokeRequest r = request(kBoot + loop);
    r.spec.commands = {"true"};
    const SmokeOutcome out = runSmoke(r);
    EXPECT_EQ(out.result, "passed") << out.reason;
}

TEST_F(RolloutSmokeBootTest, ALoginPromptWithACustomExpect) {
    SmokeRequest r = request(
        kBoot + "printf 'Debian GNU/Linux 12 smoke ttyS0\\r\\n\\r\\nsmoke login: '\nsleep 30\n");
    r.spec.expect = "^smoke login: $";
    const SmokeOutcome out = runSmoke(r);
    EXPECT_EQ(out.result, "passed") << out.reason;
    EXPECT_LT(elapsed(), 4);
    expectGroupGone();
}

TEST_F(RolloutSmokeBootTest, TheConsoleRunsWithSigpipeAtItsDefault) {
    // Whatever the rollout does with SIGPIPE for itself, what it starts gets the default:
    // SigIgn's bit 12 (SIGPIPE is 13) is clear in the console's shell.
    SmokeRequest r = request(kBoot + kPromptLoop);
    r.spec.commands = {
        "! grep -Eq '^SigIgn:[[:space:]]*[0-9a-f]*[13579bdf][0-9a-f]{3}$' /proc/$$/status"};
    struct sigaction before {};
    ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &before), 0);
    const SmokeOutcome out = runSmoke(r);
    EXPECT_EQ(out.result, "passed") << out.reason << "\n" << readFile(r.consoleLog);
    // And the caller's own disposition is as it was.
    struct sigaction after {};
    ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &after), 0);
    EXPECT_EQ(after.sa_handler, before.sa_handler);
}

TEST_F(RolloutSmokeBootTest, ACommandThatCannotStart) {
    SmokeRequest r = request("");
    const std::string missing = dir_ / "no-such-ingot";
    r.command = {missing};
    r.spec.deadline = 2s;
    // SmokeBoot.h promises a throw; an outcome that fails and says why is as good for the night.
    try {
        const SmokeOutcome out = runSmoke(r);
        EXPECT_EQ(out.result, "failed");
        EXPECT_CONTAINS(out.reason, "exited 127");
    } catch (const Error& e) {
        EXPECT_CONTAINS(std::string(e.what()), missing);
    }
    EXPECT_LT(elapsed(), 4);
}

}  // namespace
}  // namespace ingot::rollout
