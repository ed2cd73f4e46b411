// ingot stop NAME... [--time SECONDS]: stop running clones — SIGTERM to the monitor, which stops
// the vCPUs and flushes and closes the disks, then SIGKILL when it has not exited in time.
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

void stopOne(const store::Store& store, const std::string& name, unsigned seconds) {
    store.vm(name);  // a clear error for a name that is no clone
    store::VmState state = store.state(name);
    if (!state.running) throw Error(name + " is not running", ExitStatus::kUsage);
    if (state.monitorPid == 0)
        throw Error(name + " is running, but not under a supervisor that `ingot stop` knows; "
                           "stop it where it was started",
                    ExitStatus::kUsage);
    ::kill(state.monitorPid, SIGTERM);
    if (waitStopped(store, name, std::chrono::seconds(seconds))) return;
    std::cerr << "ingot: " << name << " did not stop in " << seconds << " s; killing it\n";
    if (int pid = store.state(name).monitorPid) ::kill(pid, SIGKILL);
    if (!waitStopped(store, name, std::chrono::seconds(10)))
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
    cmd->add_option("-t,--time", o->seconds, "seconds to wait before killing the monitor")
        ->check(CLI::Range(0u, 3600u));
    addStoreOption(cmd, o->root);
    return {cmd, [o] { return runStop(*o); }};
}

}  // namespace ingot::cli
