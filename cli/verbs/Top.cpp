// ingot top [--interval S] [--count N]: every running clone in the store, one line each, over
// successive intervals: how much of each vCPU-second it ran, waited for a host CPU, saw as
// steal, spent in device emulation and halted (IntervalReport.h). Plain lines, redrawn on a
// terminal; a clone that does not answer is listed with why.
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <thread>

#include "IntervalReport.h"
#include "MonitorControl.h"
#include "Verb.h"
#include "ingot/core/Error.h"
#include "ingot/store/Store.h"

namespace ingot::cli {
namespace {

struct TopOptions {
    double interval = 2;
    unsigned count = 0;  // 0: until interrupted
    std::string root;
};

std::map<std::string, nlohmann::json> sampleAll(const store::Store& store,
                                                std::map<std::string, std::string>& failures) {
    std::map<std::string, nlohmann::json> samples;
    for (const store::Vm& vm : store.vms()) {
        if (!store.state(vm.name).running) continue;
        try {
            samples[vm.name] = askMonitor(store, vm.name, {{"op", "stats"}});
        } catch (const Error& e) {
            failures[vm.name] = e.what();
        }
    }
    return samples;
}

int runTop(const TopOptions& o) {
    store::Store store(o.root.empty() ? store::defaultRoot() : o.root);
    const bool redraw = ::isatty(STDOUT_FILENO);
    std::map<std::string, std::string> failures;
    auto earlier = sampleAll(store, failures);
    for (unsigned round = 1; o.count == 0 || round <= o.count; ++round) {
        std::this_thread::sleep_for(std::chrono::duration<double>(o.interval));
        failures.clear();
        auto later = sampleAll(store, failures);
        std::string screen = renderTopHeader();
        for (const auto& [name, sample] : later) {
            auto before = earlier.find(name);
            if (before == earlier.end()) {
                screen += printable(name) + "  (started during this interval)\n";
                continue;
            }
            try {
                screen += renderTopRow(makeIntervalReport(before->second, sample, name));
            } catch (const Error& e) {
                screen += printable(name) + "  " + printable(e.what()) + "\n";
            }
        }
        for (const auto& [name, why] : failures) screen += printable(name) + "  " + printable(why) + "\n";
        if (later.empty() && failures.empty()) screen += "(no clone is running)\n";
        std::cout << (redraw ? "\x1b[H\x1b[2J" : "") << screen << std::flush;
        earlier = std::move(later);
    }
    return 0;
}

}  // namespace

Verb addTopVerb(CLI::App& app) {
    auto o = std::make_shared<TopOptions>();
    CLI::App* cmd = app.add_subcommand(
        "top", "every running clone: CPU run, wait, steal, device and halt time, live");
    cmd->add_option("-i,--interval", o->interval, "seconds between updates (0.1 to 3600)")
        ->capture_default_str()
        ->check(CLI::Range(0.1, 3600.0));
    cmd->add_option("-n,--count", o->count, "stop after this many updates (default: never)");
    addStoreOption(cmd, o->root);
    return {cmd, [o] { return runTop(*o); }};
}

}  // namespace ingot::cli
