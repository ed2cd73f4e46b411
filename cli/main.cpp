// ingot: the command users type. This file only builds the command tree from the verbs and maps
// errors to exit statuses (docs/cli.md); each verb is in verbs/.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "Verb.h"
#include "ingot/core/Error.h"

int main(int argc, char** argv) {
    using ingot::ExitStatus;
    CLI::App app{"ingot: build, verify and run signed gold VM images", "ingot"};
    app.require_subcommand(1);
    app.footer(
        "Run 'ingot COMMAND --help' for more information on a command.\n"
        "Exit status: 0 success; 1 patch: nothing to update, rollout: an image failed; 2 usage or "
        "unreadable "
        "input; 3 image verification failed; 5 internal error. See docs/cli.md.");

    // Listed in this order, under these headings, as docker and podman group theirs: what a
    // developer uses every day first.
    std::vector<ingot::cli::Verb> verbs = {
        ingot::cli::addRunVerb(app),
        ingot::cli::addPsVerb(app),
        ingot::cli::addConsoleVerb(app),
        ingot::cli::addLogsVerb(app),
        ingot::cli::addStartVerb(app),
        ingot::cli::addStopVerb(app),
        ingot::cli::addStatsVerb(app),
        ingot::cli::addTopVerb(app),
        ingot::cli::addUpdateVerb(app),
        ingot::cli::addRmVerb(app),
        ingot::cli::addImagesVerb(app),
        ingot::cli::addPullVerb(app),
        ingot::cli::addPushVerb(app),
        ingot::cli::addPruneVerb(app),
        ingot::cli::addBuildVerb(app),
        ingot::cli::addPatchVerb(app),
        ingot::cli::addVerifyVerb(app),
        ingot::cli::addInspectVerb(app),
        ingot::cli::addKeyGenVerb(app),
        ingot::cli::addTrustAddVerb(app),
        ingot::cli::addSignTimestampVerb(app),
        ingot::cli::addRolloutVerb(app),
        ingot::cli::addLoginVerb(app),
        ingot::cli::addRegistryServeVerb(app),
        ingot::cli::addRegistryGcVerb(app),
        ingot::cli::addRegistryPasswdVerb(app),
    };
    const std::map<std::string, std::string> groups = {
        {"run", "Clones"},
        {"ps", "Clones"},
        {"console", "Clones"},
        {"logs", "Clones"},
        {"start", "Clones"},
        {"stop", "Clones"},
        {"rm", "Clones"},
        {"images", "Images"},
        {"pull", "Images"},
        {"push", "Images"},
        {"prune", "Images"},
        {"build", "Images"},
        {"patch", "Images"},
        {"verify", "Images"},
        {"inspect", "Images"},
        {"key", "Signing and trust"},
        {"trust", "Signing and trust"},
        {"sign-timestamp", "Signing and trust"},
        {"login", "Registry"},
        {"registry", "Registry"},
    };
    for (CLI::App* command : app.get_subcommands([](CLI::App*) { return true; }))
        if (auto group = groups.find(command->get_name()); group != groups.end())
            command->group(group->second);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int status = app.exit(e);
        return status == 0 ? 0 : static_cast<int>(ExitStatus::kUsage);
    }

    try {
        for (const ingot::cli::Verb& verb : verbs)
            if (verb.command->parsed()) return verb.run();
        std::cerr << "ingot: no command given\n";
        return static_cast<int>(ExitStatus::kUsage);
    } catch (const ingot::Error& e) {
        const char* kind = e.status() == ExitStatus::kVerification ? "verification failed: " : "";
        std::cerr << "ingot: " << kind << ingot::cli::printable(e.what()) << "\n";
        return static_cast<int>(e.status());
    } catch (const std::exception& e) {
        std::cerr << "ingot: internal error: " << ingot::cli::printable(e.what()) << "\n";
        return static_cast<int>(ExitStatus::kInternal);
    }
}
