// The monitor's refusals: bad flags, bad kernels, no KVM. Each must print one clear line naming
// what is wrong and end with the documented exit status, before any guest runs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "VmmProcess.h"

using ingot::testing::runProcess;

namespace {

// Built-in paths of the binaries under test; the environment may override them.
std::string requireEnv(const char* name) {
    if (const char* v = std::getenv(name); v && *v) return v;
    return std::string(name) == "INGOT_VMM" ? INGOT_VMM_DEFAULT : INGOT_PVH_PAYLOAD_DEFAULT;
}

std::string scratchFile(const std::string& name, const std::string& content) {
    auto dir = std::filesystem::temp_directory_path() / ("ingot-vmm-cli-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    auto path = dir / name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
}

ingot::testing::ProcessResult vmm(std::vector<std::string> args, const char* kvmDevice = nullptr) {
    std::vector<std::string> argv{"/usr/bin/env"};
    if (kvmDevice) argv.push_back(std::string("INGOT_KVM_DEVICE=") + kvmDevice);
    argv.push_back(requireEnv("INGOT_VMM"));
    argv.insert(argv.end(), args.begin(), args.end());
    ingot::testing::ProcessOptions options;
    options.timeoutSeconds = 60;
    return runProcess(argv, options);
}

int lineCount(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

TEST(VmmCli, MissingKernelIsUsageError) {
    auto r = vmm({"--kernel", "/nonexistent/vmlinuz"});
    EXPECT_EQ(r.exitStatus, 2) << r.output;
    EXPECT_NE(r.output.find("cannot read kernel /nonexistent/vmlinuz"), std::string::npos) << r.output;
    EXPECT_EQ(lineCount(r.output), 1) << r.output;
}

TEST(VmmCli, CorruptKernelIsUsageError) {
    auto path = scratchFile("corrupt", std::string(8192, 'x'));
    auto r = vmm({"--kernel", path});
    EXPECT_EQ(r.exitStatus, 2) << r.output;
    EXPECT_NE(r.output.find("kernel " + path), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("neither a bzImage nor an ELF"), std::string::npos) << r.output;
    EXPECT_EQ(lineCount(r.output), 1) << r.output;
}

TEST(VmmCli, TruncatedBzImageIsUsageError) {
    // A real bzImage header with nothing after the setup sectors.
    std::string header(0x264, '\0');
    header[0x1fe] = 0x55;
    header[0x1ff] = static_cast<char>(0xaa);
    header.replace(0x202, 4, "HdrS");
    header[0x206] = 0x0f;  // protocol 2.15
    header[0x207] = 0x02;
    header[0x211] = 1;     // LOADED_HIGH
    header[0x236] = 1;     // XLF_KERNEL_64
    auto r = vmm({"--kernel", scratchFile("truncated", header)});
    EXPECT_EQ(r.exitStatus, 2) << r.output;
    EXPECT_NE(r.output.find("truncated"), std::string::npos) << r.output;
}

TEST(VmmCli, AbsurdMemoryIsUsageError) {
    for (const char* m : {"12Q", "0", "1M", "4096T", "-1G"}) {
        auto r = vmm({"--kernel", requireEnv("INGOT_PVH_PAYLOAD"), std::string("--memory=") + m});
        EXPECT_EQ(r.exitStatus, 2) << m << ": " << r.output;
        EXPECT_EQ(lineCount(r.output), 1) << r.output;
    }
}

TEST(VmmCli, BadCpuCountIsUsageError) {
    auto r = vmm({"--kernel", requireEnv("INGOT_PVH_PAYLOAD"), "--cpus", "0"});
    EXPECT_EQ(r.exitStatus, 2) << r.output;
    r = vmm({"--kernel", requireEnv("INGOT_PVH_PAYLOAD"), "--cpus", "100000"});
    EXPECT_EQ(r.exitStatus, 2) << r.output;
}

TEST(VmmCli, KernelAndFirmwareTogetherIsUsageError) {
    auto p = requireEnv("INGOT_PVH_PAYLOAD");
    auto r = vmm({"--kernel", p, "--firmware", p});
    EXPECT_EQ(r.exitStatus, 2) << r.output;
}

TEST(VmmCli, NoKvmIsStatusFour) {
    auto r = vmm({"--kernel", requireEnv("INGOT_PVH_PAYLOAD")}, "/nonexistent/kvm");
    EXPECT_EQ(r.exitStatus, 4) << r.output;
    EXPECT_NE(r.output.find("cannot open /nonexistent/kvm"), std::string::npos) << r.output;
    EXPECT_EQ(lineCount(r.output), 1) << r.output;
}

TEST(VmmCli, HelpListsFlagsAndExitCodes) {
    auto r = vmm({"--help"});
    EXPECT_EQ(r.exitStatus, 0);
    for (const char* flag : {"--kernel", "--initrd", "--cmdline", "--firmware", "--cpus", "--memory",
                             "--stats-json", "Exit status"})
        EXPECT_NE(r.output.find(flag), std::string::npos) << flag;
}

TEST(VmmCli, BadDisksAreUsageErrorsBeforeKvm) {
    // Even with no KVM the disk is reported: a usage error comes first.
    auto pvh = requireEnv("INGOT_PVH_PAYLOAD");
    auto r = vmm({"--kernel", pvh, "--disk", "/nonexistent/disk.img"}, "/nonexistent/kvm");
    EXPECT_EQ(r.exitStatus, 2) << r.output;
    EXPECT_NE(r.output.find("cannot open disk /nonexistent/disk.img"), std::string::npos) << r.output;
    EXPECT_EQ(lineCount(r.output), 1) << r.output;

    auto odd = scratchFile("odd.img", std::string(1000, 'x'));
    r = vmm({"--kernel", pvh, "--disk", odd + ",readonly"}, "/nonexistent/kvm");
    EXPECT_EQ(r.exitStatus, 2) << r.output;
    EXPECT_NE(r.output.find("not a whole number of 512-byte sectors"), std::string::npos) << r.output;

    r = vmm({"--kernel", pvh, "--disk", scratchFile("ok.img", std::string(512, 'x')) + ",ro"});
    EXPECT_EQ(r.exitStatus, 2) << r.output;
    EXPECT_NE(r.output.find("unknown option 'ro'"), std::string::npos) << r.output;

    std::vector<std::string> many{"--kernel", pvh};
    auto disk = scratchFile("many.img", std::string(512, 'x'));
    for (int i = 0; i < 17; ++i) many.insert(many.end(), {"--disk", disk});
    r = vmm(many, "/nonexistent/kvm");
    EXPECT_EQ(r.exitStatus, 2) << r.output;
    EXPECT_NE(r.output.find("17 virtio devices (--disk, --net, --rng, --agent and --balloon): at most 16"),
              std::string::npos)
        << r.output;
}

TEST(VmmCli, BadNetworkCardsAreUsageErrorsBeforeKvm) {
    const std::string pvh = requireEnv("INGOT_PVH_PAYLOAD");
    auto r = vmm({"--kernel", pvh, "--net", "ingot0"}, "/nonexistent/kvm");
    EXPECT_EQ(r.exitStatus, 2) << r.output;
    EXPECT_NE(r.output.find("name the tap interface first"), std::string::npos) << r.output;
    r = vmm({"--kernel", pvh, "--net", "tap=t0,mac=01:02:03:04:05:06"}, "/nonexistent/kvm");
    EXPECT_EQ(r.exitStatus, 2) << r.output;
    EXPECT_NE(r.output.find("multicast"), std::string::npos) << r.output;
    // The tap is opened before KVM: a name no interface can have is refused first.
    r = vmm({"--kernel", pvh, "--net", "tap=much-too-long-a-name"}, "/nonexistent/kvm");
    EXPECT_EQ(r.exitStatus, 2) << r.output;
    EXPECT_NE(r.output.find("not an interface name"), std::string::npos) << r.output;
    EXPECT_EQ(lineCount(r.output), 1) << r.output;
}

TEST(VmmCli, DiskFlagIsDocumentedInHelp) {
    auto r = vmm({"--help"});
    EXPECT_NE(r.output.find("--disk"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("readonly"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("--net"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("tap=NAME"), std::string::npos) << r.output;
}

// Resource limits and the control socket are checked before anything else: a bad value is one
// line naming the flag, status 2.
TEST(VmmCli, BadResourceLimitsAreUsageErrorsBeforeKvm) {
    const std::string payload = requireEnv("INGOT_PVH_PAYLOAD");
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--cpu-max", "0.5%"}, "--cpu-max '0.5%'"},
        {{"--cpu-weight", "0"}, "--cpu-weight"},
        {{"--cpus-on", "3-1"}, "--cpus-on '3-1'"},
        {{"--memory-max", "512"}, "--memory-max '512'"},
        {{"--memory-high", "lots"}, "--memory-high"},
        {{"--balloon-target", "many"}, "many"},
        {{"--control", "@"}, "socket name '@'"},
    };
    for (const auto& [flags, expected] : cases) {
        std::vector<std::string> args{"--kernel", payload};
        args.insert(args.end(), flags.begin(), flags.end());
        auto r = vmm(args, "/nonexistent/kvm");
        EXPECT_EQ(r.exitStatus, 2) << flags.front() << ": " << r.output;
        EXPECT_NE(r.output.find(expected), std::string::npos) << r.output;
        EXPECT_EQ(lineCount(r.output), 1) << r.output;
    }
}
