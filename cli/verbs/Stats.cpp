// ingot stats NAME [--interval S] [--json]: where a running clone's time went over an interval,
// seen from the host (the monitor's accounting, its cgroup) next to the guest's own view (its
// /proc/stat, read through the agent channel, docs/agent.md), with a verdict in plain words.
// Two samples from the monitor's control socket, `--interval` seconds apart (IntervalReport.h).
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "IntervalReport.h"
#include "MonitorControl.h"
#include "Verb.h"
#include "ingot/core/Error.h"
#include "ingot/store/Store.h"

namespace ingot::cli {
namespace {

struct StatsOptions {
    std::string name;
    double interval = 2;
    bool json = false;
    std::string root;
};

int runStats(const StatsOptions& o) {
    store::Store store(o.root.empty() ? store::defaultRoot() : o.root);
    const nlohmann::json request = {{"op", "stats"}};
    const nlohmann::json earlier = askMonitor(store, o.name, request);
    std::this_thread::sleep_for(std::chrono::duration<double>(o.interval));
    const nlohmann::json later = askMonitor(store, o.name, request);
    const IntervalReport report = makeIntervalReport(earlier, later, o.name);
    if (o.json)
        std::cout << toJson(report).dump(2) << "\n";
    else
        std::cout << renderTable(report);
    return 0;
}

}  // namespace

Verb addStatsVerb(CLI::App& app) {
    auto o = std::make_shared<StatsOptions>();
    CLI::App* cmd = app.add_subcommand(
        "stats", "where a running clone's time went: the host's view next to the guest's");
    cmd->add_option("NAME", o->name, "the clone")->required();
    cmd->add_option("-i,--interval", o->interval, "seconds to measure (0.1 to 3600)")
        ->capture_default_str()
        ->check(CLI::Range(0.1, 3600.0));
    cmd->add_flag("--json", o->json, "every figure as JSON (ns and percent)");
    addStoreOption(cmd, o->root);
    return {cmd, [o] { return runStats(*o); }};
}

}  // namespace ingot::cli
