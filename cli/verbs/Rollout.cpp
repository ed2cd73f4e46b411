// ingot rollout [--config FILE]: one night of the security pipeline (rollout/Rollout.h): for
// each gold image of the rollout file, patch, smoke-boot, push an immutable version, move the
// channel; then re-sign every repository's freshness document. A systemd timer runs it
// (packaging/systemd). Exit status 0 when every image was published or had nothing to publish
// and every freshness document was signed, 1 when anything failed (the report says what; the
// other images still rolled out), 2 for a rollout file or key that cannot be used.
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>

#include "Verb.h"
#include "ingot/rollout/Rollout.h"

namespace ingot::cli {
namespace {

struct RolloutOptions {
    std::string config = rollout::kDefaultRolloutConfig;
    bool json = false;
};

int runRollout(const RolloutOptions& o) {
    const rollout::RolloutConfig config = rollout::loadRolloutConfig(o.config);
    rollout::RolloutOptions options;
    std::error_code ignored;
    options.ingot = std::filesystem::read_symlink("/proc/self/exe", ignored).string();
    if (options.ingot.empty())
        throw Error("cannot find the ingot executable (/proc/self/exe)", ExitStatus::kInternal);
    const bool terminal = isatty(STDERR_FILENO);
    options.progress = [terminal](const std::string& line) {
        std::cerr << (terminal ? "\033[1m==>\033[0m " : "==> ") << printable(line) << std::endl;
    };
    const rollout::RunReport report = rollout::runRollout(config, options);
    if (o.json)
        std::cout << rollout::reportToJson(report).dump(2, ' ', false,
                                                        nlohmann::json::error_handler_t::replace)
                  << "\n";
    else {
        std::istringstream lines(rollout::reportToText(report));
        for (std::string line; std::getline(lines, line);) std::cout << printable(line) << "\n";
    }
    std::cerr << "ingot rollout: report in " << report.runDirectory << "/report.{json,md}\n";
    return report.failed() ? 1 : 0;
}

}  // namespace

Verb addRolloutVerb(CLI::App& app) {
    auto o = std::make_shared<RolloutOptions>();
    CLI::App* cmd = app.add_subcommand(
        "rollout", "the nightly security rollout: patch, smoke-boot, publish, re-sign freshness");
    cmd->add_option("--config", o->config, "the rollout file")->capture_default_str();
    cmd->add_flag("--json", o->json, "print the report as JSON instead of text");
    return {cmd, [o] { return runRollout(*o); }};
}

}  // namespace ingot::cli
