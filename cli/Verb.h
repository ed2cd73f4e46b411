// How a verb plugs into `ingot`: each verbs/*.cpp file adds its subcommand to the command tree
// and hands back what to run when the user chose it. main.cpp knows nothing else about verbs.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

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

Verb addKeyGenVerb(CLI::App& app);
Verb addVerifyVerb(CLI::App& app);
Verb addInspectVerb(CLI::App& app);
Verb addBuildVerb(CLI::App& app);
Verb addRegistryServeVerb(CLI::App& app);
Verb addRegistryGcVerb(CLI::App& app);
Verb addRegistryPasswdVerb(CLI::App& app);
Verb addPushVerb(CLI::App& app);
Verb addPullVerb(CLI::App& app);
Verb addLoginVerb(CLI::App& app);
Verb addTrustAddVerb(CLI::App& app);
Verb addSignTimestampVerb(CLI::App& app);
Verb addImagesVerb(CLI::App& app);
Verb addPruneVerb(CLI::App& app);
Verb addRunVerb(CLI::App& app);
Verb addRmVerb(CLI::App& app);
Verb addPsVerb(CLI::App& app);

}  // namespace ingot::cli
