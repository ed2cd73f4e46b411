// The PID 1 script the build microVM runs to finish what the host's unpack started: valid
// POSIX sh, running dpkg's configure phase and printing the lines configureInGuest reads.
#include "ingot/patch/GuestConfigure.h"

#include <gtest/gtest.h>

#include "ApplyTestSupport.h"

using namespace ingot::patch;
using namespace ingot::patch::test;

namespace {

TEST(PatchApplyGuestScript, IsAPosixShellScript) {
    const std::string script = guestConfigureScript();
    EXPECT_TRUE(script.starts_with("#!/bin/sh\n")) << script;
    EXPECT_TRUE(script.ends_with("\n"));
    if (!ingot::debian::test::haveTool("sh")) GTEST_SKIP() << "sh is not installed";
    ScratchDir dir;
    const std::string path = dir / "configure.sh";
    writeFile(path, script);
    // A syntax error makes `sh -n` fail, and run() throw with its stderr.
    EXPECT_NO_THROW(run({"sh", "-n", path}));
    if (ingot::debian::test::haveTool("dash")) {
        EXPECT_NO_THROW(run({"dash", "-n", path}));
    }
}

TEST(PatchApplyGuestScript, ConfiguresThePendingPackagesAndReports) {
    const std::string script = guestConfigureScript();
    const size_t configure = script.find("dpkg ");
    ASSERT_NE(configure, std::string::npos) << script;
    const size_t pending = script.find("--configure --pending");
    ASSERT_NE(pending, std::string::npos) << script;
    const size_t exitLine = script.find("ingot-patch: dpkg exit");
    ASSERT_NE(exitLine, std::string::npos) << script;
    const size_t done = script.find("ingot-patch: done");
    ASSERT_NE(done, std::string::npos) << script;
    // In that order: configure, report dpkg's exit, then the end.
    EXPECT_LT(pending, exitLine);
    EXPECT_LT(exitLine, done);
    // The recipe's conffiles win without a prompt; the root is left read-only and the VM stops.
    EXPECT_NE(script.find("--force-confold"), std::string::npos);
    EXPECT_NE(script.find("remount,ro"), std::string::npos);
    EXPECT_NE(script.find("/proc/sysrq-trigger"), std::string::npos);
}

TEST(PatchApplyGuestScript, IsTheSameEveryTime) {
    EXPECT_EQ(guestConfigureScript(), guestConfigureScript());
}

}  // namespace
