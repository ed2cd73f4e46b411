// ingot ps [-a] [--json]: the clones, with their state and, while they run, the monitor's uptime,
// CPU time and resident memory (from /proc), and the newer release of the image each was made
// from when its channel tag has moved on (ReleaseNews.h).
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <iterator>
#include <optional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ReleaseNews.h"
#include "Verb.h"
#include "ingot/core/Size.h"
#include "ingot/store/Store.h"

namespace ingot::cli {
namespace {

struct PsOptions {
    std::string root;
    bool all = false;
    bool json = false;
};

struct Usage {
    double uptimeSeconds = 0;
    double cpuSeconds = 0;
    uint64_t residentBytes = 0;
};

// /proc/PID/stat fields 14, 15 (utime, stime) and 22 (starttime), after the command name, which
// may itself hold spaces and parentheses: fields are counted from the last ')'.
std::optional<Usage> usageOf(int pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return std::nullopt;
    size_t close = line.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(line.substr(close + 2));
    std::vector<std::string> f{std::istream_iterator<std::string>(fields), {}};
    if (f.size() < 20) return std::nullopt;
    const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
    Usage usage;
    usage.cpuSeconds = (std::stod(f[11]) + std::stod(f[12])) / tick;
    std::ifstream uptime("/proc/uptime");
    double now = 0;
    uptime >> now;
    usage.uptimeSeconds = now - std::stod(f[19]) / tick;
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0) usage.residentBytes = std::stoull(line.substr(6)) * 1024;
    return usage;
}

std::string duration(double seconds) {
    long s = static_cast<long>(seconds);
    if (s < 60) return std::to_string(s) + "s";
    if (s < 3600) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
    return std::to_string(s / 3600) + "h" + std::to_string(s / 60 % 60) + "m";
}

struct Row {
    store::Vm vm;
    store::VmState state;
    std::optional<registry::NewerRelease> newer;
};

int runPs(const PsOptions& o) {
    store::Store store(o.root.empty() ? store::defaultRoot() : o.root);
    const Documents documents = cachedDocuments();
    std::vector<Row> rows;
    for (const store::Vm& vm : store.vms()) {
        store::VmState state = store.state(vm.name);
        if (!state.running && !o.all) continue;
        // By the clone's own digest: pulling the newer release since does not update a clone.
        rows.push_back({vm, state, newerReleaseOfStored(documents, vm.image, vm.digest)});
    }
    // Version tags vary in length; the column is as wide as the longest, MEMORY stays last.
    size_t newerWidth = 16;
    for (const Row& row : rows)
        newerWidth = std::max(newerWidth, newerColumn(row.newer).size() + 2);
    nlohmann::json list = nlohmann::json::array();
    if (!o.json)
        std::cout << std::left << std::setw(20) << "NAME" << std::setw(40) << "IMAGE"
                  << std::setw(9) << "STATE" << std::setw(9) << "UPTIME" << std::setw(9) << "CPU"
                  << std::setw(static_cast<int>(newerWidth)) << "NEWER" << "MEMORY\n";
    for (const auto& [vm, state, newer] : rows) {
        std::optional<Usage> usage = state.monitorPid ? usageOf(state.monitorPid) : std::nullopt;
        if (o.json) {
            nlohmann::json entry = {{"name", vm.name},
                                    {"image", vm.image},
                                    {"digest", vm.digest},
                                    {"state", state.running ? "running" : "stopped"},
                                    {"cpus", vm.cpus},
                                    {"memory", vm.memoryBytes},
                                    {"created", vm.created},
                                    {"newerRelease", newerJson(newer)}};
            if (usage) {
                // Copied out first: GCC 12 at -O3 takes the optional's payload for
                // uninitialised when it is read field by field into the JSON.
                const Usage u = *usage;
                entry["pid"] = state.monitorPid;
                entry["uptimeSeconds"] = u.uptimeSeconds;
                entry["cpuSeconds"] = u.cpuSeconds;
                entry["residentBytes"] = u.residentBytes;
            }
            list.push_back(entry);
            continue;
        }
        std::ostringstream cpu;
        if (usage) cpu << std::fixed << std::setprecision(1) << usage->cpuSeconds << "s";
        std::cout << std::setw(20) << vm.name << std::setw(40) << printable(vm.image)
                  << std::setw(9) << (state.running ? "running" : "stopped") << std::setw(9)
                  << (usage ? duration(usage->uptimeSeconds) : "-") << std::setw(9)
                  << (usage ? cpu.str() : "-") << std::setw(static_cast<int>(newerWidth))
                  << newerColumn(newer)
                  << (usage ? formatSize(usage->residentBytes) + " of " + formatSize(vm.memoryBytes)
                            : formatSize(vm.memoryBytes))
                  << "\n";
    }
    if (o.json) std::cout << list.dump(2) << "\n";
    return 0;
}

}  // namespace

Verb addPsVerb(CLI::App& app) {
    auto o = std::make_shared<PsOptions>();
    CLI::App* cmd = app.add_subcommand("ps", "list running clones (-a: all clones)");
    cmd->add_flag("-a,--all", o->all, "also list clones that are not running");
    cmd->add_flag("--json", o->json, "print JSON instead of a table");
    addStoreOption(cmd, o->root);
    return {cmd, [o] { return runPs(*o); }};
}

}  // namespace ingot::cli
