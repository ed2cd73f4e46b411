// ingot stop NAME... [--time SECONDS]: stop running clones as a person at the console would. The
// guest is asked first (SIGPWR: the monitor presses Ctrl+Alt+Del on its keyboard, and the guest's
// init shuts down and writes back what it cached); a guest that has not gone in time gets its
// monitor stopped (SIGTERM: the vCPUs stop, the disks are flushed and closed), and a monitor that
// does not end is killed.
#include <signal.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "Verb.h"
#include "ingot/core/Error.h"
#include "ingot/store/Store.h"

namespace ingot::cli {
namespace {

struct StopOptions {
    std::vector<std::string> names;
    unsigned seconds = 10;
    std::string root;
};

// Whether the clone stopped within `limit`: its lease is free once the supervisor has seen the
// monitor exit.
bool waitStopped(const store::Store& store, const std::string& name,
                 std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (store.state(name).running) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
}

// A monitor stops its vCPUs and closes its disks in well under a second; this is slack for a host
// under load.
constexpr std::chrono::seconds kMonitorGrace{10};

void stopOne(const store::Store& store, const std::string& name, unsigned seconds) {
    store.vm(name);  // a clear error for a name that is no clone
    store::VmState state = store.state(name);
    if (!state.running) throw Error(name + " is not running", ExitStatus::kUsage);
    if (state.monitorPid == 0)
        throw Error(name + " is running, but not under a supervisor that `ingot stop` knows; "
                           "stop it where it was started",
                    ExitStatus::kUsage);
    if (seconds > 0) {
        ::kill(state.monitorPid, SIGPWR);
        if (waitStopped(store, name, std::chrono::seconds(seconds))) return;
        std::cerr << "ingot: " << name << " did not shut down in " << seconds
                  << " s; stopping its monitor\n";
    }
    if (int pid = store.state(name).monitorPid) ::kill(pid, SIGTERM);
    if (waitStopped(store, name, kMonitorGrace)) return;
    std::cerr << "ingot: the monitor of " << name << " did not stop in "
              << kMonitorGrace.count() << " s; killing it\n";
    if (int pid = store.state(name).monitorPid) ::kill(pid, SIGKILL);
    if (!waitStopped(store, name, kMonitorGrace))
        throw Error(name + " is still running after SIGKILL", ExitStatus::kInternal);
}

int runStop(const StopOptions& o) {
    store::Store store(o.root.empty() ? store::defaultRoot() : o.root);
    return forEachName(o.names,
                       [&](const std::string& name) { stopOne(store, name, o.seconds); });
}

}  // namespace

Verb addStopVerb(CLI::App& app) {
    auto o = std::make_shared<StopOptions>();
    CLI::App* cmd = app.add_subcommand("stop", "stop running clones");
    cmd->add_option("NAME", o->names, "clone names")->required();
    cmd->add_option("-t,--time", o->seconds, "seconds the guest has to shut down before its monitor is stopped "
                    "(0: stop the monitor at once)")
        ->check(CLI::Range(0u, 3600u));
    addStoreOption(cmd, o->root);
    return {cmd, [o] { return runStop(*o); }};
}

}  // namespace ingot::cli
