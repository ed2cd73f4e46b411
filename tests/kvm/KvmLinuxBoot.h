#pragma once

// Booting Debian's kernel with the kvm tests' initramfs (guest/init), whose action comes from
// the command line: shared by the test files that drive a Linux guest.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "VmmProcess.h"

namespace ingot::testing {

inline std::string scratchDir() { return processScratchDir(); }

struct Boot {
    ProcessResult result;
    nlohmann::json stats;
};

// Boots the Debian kernel with the test initramfs; `action` selects what guest/init does.
inline Boot bootLinux(const std::string& action, unsigned cpus = 1, const std::string& memory = "512M",
               const std::string& input = {}, double timeout = 240,
               const std::vector<std::string>& extraArgs = {}) {
    static int counter = 0;
    std::string stats = scratchDir() + "/stats-" + action + "-" + std::to_string(counter++) + ".json";
    std::filesystem::remove(stats);
    ProcessOptions options;
    options.input = input;
    options.inputAfter = input.empty() ? "" : "INGOT-USERSPACE-UP";
    options.timeoutSeconds = timeout;
    std::vector<std::string> argv{requireEnv("INGOT_VMM"), "--kernel", requireEnv("INGOT_TEST_KERNEL"),
                                  "--initrd", requireEnv("INGOT_TEST_INITRD"), "--cmdline",
                                  "console=ttyS0 quiet ingot.test=" + action, "--cpus",
                                  std::to_string(cpus), "--memory", memory, "--stats-json", stats};
    argv.insert(argv.end(), extraArgs.begin(), extraArgs.end());
    auto r = runProcess(argv, options);
    Boot b{r, {}};
    std::ifstream f(stats);
    if (f) b.stats = nlohmann::json::parse(f, nullptr, false);
    return b;
}

// The number after "key=" in the guest's output, or -1.
inline long valueAfter(const std::string& text, const std::string& key) {
    auto at = text.find(key + "=");
    if (at == std::string::npos) return -1;
    return std::stol(text.substr(at + key.size() + 1));
}

}  // namespace ingot::testing
