// The PID 1 scripts the build microVM runs around the host's unpack: valid POSIX sh, making the
// maintainer script calls in order with dpkg's environment, running dpkg's configure phase and
// printing the lines configureInGuest reads.
#include "ingot/patch/GuestConfigure.h"

#include <gtest/gtest.h>

#include "ApplyTestSupport.h"

using namespace ingot::patch;
using namespace ingot::patch::test;

namespace {

const std::vector<MaintainerScriptCall> kCalls = {
    {"tool", "amd64", "prerm", "var/lib/dpkg/info/tool.prerm", {"upgrade", "2.0-1"}},
    {"tool", "amd64", "preinst", "var/lib/ingot-patch/preinst/tool", {"upgrade", "1.0-1"}},
};

TEST(PatchApplyGuestScript, IsAPosixShellScript) {
  for (bool configure : {false, true}) {
    const std::string script = guestScript(kCalls, configure);
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
}

TEST(PatchApplyGuestScript, MakesTheCallsInOrderWithDpkgsEnvironment) {
    const std::string script = guestScript(kCalls, false);
    const size_t prerm =
        script.find("call 'tool' 'amd64' 'prerm' '/var/lib/dpkg/info/tool.prerm' 'upgrade' '2.0-1'\n");
    const size_t preinst = script.find(
        "call 'tool' 'amd64' 'preinst' '/var/lib/ingot-patch/preinst/tool' 'upgrade' '1.0-1'\n");
    ASSERT_NE(prerm, std::string::npos) << script;
    ASSERT_NE(preinst, std::string::npos) << script;
    EXPECT_LT(prerm, preinst);
    EXPECT_NE(script.find("DPKG_MAINTSCRIPT_PACKAGE=$package"), std::string::npos);
    EXPECT_NE(script.find("DPKG_MAINTSCRIPT_NAME=$name"), std::string::npos);
    // Before the unpack there is nothing to configure.
    EXPECT_EQ(script.find("--configure"), std::string::npos);
    // A hostile word stays one single-quoted word.
    const std::string hostile =
        guestScript({{"x", "amd64", "postrm", "p", {"upgrade", "1'; reboot -f; '"}}}, true);
    EXPECT_NE(hostile.find("'upgrade' '1'\\''; reboot -f; '\\'''\n"), std::string::npos) << hostile;
}

TEST(PatchApplyGuestScript, ConfiguresThePendingPackagesAndReports) {
    const std::string script = guestScript({}, true);
    const size_t configure = script.find("dpkg ");
    ASSERT_NE(configure, std::string::npos) << script;
    const size_t pending = script.find("--configure --pending");
    ASSERT_NE(pending, std::string::npos) << script;
    const size_t exitLine = script.find("ingot-patch: exit");
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
    EXPECT_EQ(guestScript(kCalls, true), guestScript(kCalls, true));
}

}  // namespace
