// How a verb plugs into `ingot`: each verbs/*.cpp file adds its subcommand to the command tree
// and hands back what to run when the user chose it. main.cpp knows nothing else about verbs.
#pragma once

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <iostream>
#include <string>
#include <vector>

#include "ingot/core/Error.h"

namespace ingot::cli {

struct Verb {
    CLI::App* command;         // parsed() tells main whether this verb was chosen
    std::function<int()> run;  // returns the exit status; throws ingot::Error on failure
};

// The group subcommand `name` under `parent` (e.g. `key` for `key gen`), created on first use so
// verbs sharing a group need not know about each other.
inline CLI::App& verbGroup(CLI::App& parent, const std::string& name,
                           const std::string& description) {
    for (CLI::App* existing : parent.get_subcommands([](CLI::App*) { return true; }))
        if (existing->get_name() == name) return *existing;
    CLI::App* group = parent.add_subcommand(name, description);
    group->require_subcommand(1);
    return *group;
}

// `text` with control characters shown as '?': image contents are attacker-chosen and must not
// drive the user's terminal.
inline std::string printable(std::string text) {
    for (char& c : text)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return text;
}

// SOURCE_DATE_EPOCH from the environment, nullopt when unset or empty; anything but a
// non-negative number of seconds is a usage error.
inline std::optional<int64_t> sourceDateEpochFromEnvironment() {
    const char* value = std::getenv("SOURCE_DATE_EPOCH");
    if (!value || !*value) return std::nullopt;
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(value, &end, 10);
    if (errno || !end || *end || v < 0)
        throw Error("SOURCE_DATE_EPOCH='" + printable(value) +
                        "' is not a non-negative number of seconds",
                    ExitStatus::kUsage);
    return v;
}

// --store, for the verbs that work on the local store; empty means store::defaultRoot().
inline void addStoreOption(CLI::App* command, std::string& root) {
    command->add_option("--store", root, "the store (default: $XDG_DATA_HOME/ingot)");
}

// Runs `action` on each of `names`, reporting each failure on stderr; the first failure decides
// the exit status, as `docker rm a b c` does.
inline int forEachName(const std::vector<std::string>& names,
                       const std::function<void(const std::string&)>& action) {
    int status = 0;
    for (const std::string& name : names) {
        try {
            action(name);
            std::cout << name << "\n";
        } catch (const Error& e) {
            std::cerr << "ingot: " << e.what() << "\n";
            if (status == 0) status = static_cast<int>(e.status());
        }
    }
    return status;
}

Verb addKeyGenVerb(CLI::App& app);
Verb addVerifyVerb(CLI::App& app);
Verb addInspectVerb(CLI::App& app);
Verb addBuildVerb(CLI::App& app);
Verb addPatchVerb(CLI::App& app);
Verb addRegistryServeVerb(CLI::App& app);
Verb addRegistryGcVerb(CLI::App& app);
Verb addRegistryPasswdVerb(CLI::App& app);
Verb addPushVerb(CLI::App& app);
Verb addPullVerb(CLI::App& app);
Verb addLoginVerb(CLI::App& app);
Verb addTrustAddVerb(CLI::App& app);
Verb addSignTimestampVerb(CLI::App& app);
Verb addRolloutVerb(CLI::App& app);
Verb addImagesVerb(CLI::App& app);
Verb addPruneVerb(CLI::App& app);
Verb addRunVerb(CLI::App& app);
Verb addRmVerb(CLI::App& app);
Verb addPsVerb(CLI::App& app);
Verb addStartVerb(CLI::App& app);
Verb addStopVerb(CLI::App& app);
Verb addLogsVerb(CLI::App& app);
Verb addConsoleVerb(CLI::App& app);
Verb addStatsVerb(CLI::App& app);
Verb addTopVerb(CLI::App& app);
Verb addUpdateVerb(CLI::App& app);

}  // namespace ingot::cli
