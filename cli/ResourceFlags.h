// The resource-control flags `ingot run`, `ingot start` and `ingot update` share (docs/cli.md,
// "Resource control"). The CLI passes the values through as given: the monitor parses and
// applies them (vmm/resources/), so each is checked in one place.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ingot::cli {

struct ResourceFlags {
    std::optional<std::string> cpuMax;
    std::optional<std::string> cpuWeight;
    std::optional<std::string> cpusOn;
    std::optional<std::string> memoryHigh;
    std::optional<std::string> memoryMax;
    std::optional<std::string> balloon;
    bool allowMissingControllers = false;

    bool any() const {
        return cpuMax || cpuWeight || cpusOn || memoryHigh || memoryMax || balloon;
    }
};

inline void addResourceOptions(CLI::App* command, ResourceFlags& flags, bool atStart) {
    command->add_option("--cpu-max", flags.cpuMax,
                        "hard CPU cap (cgroup cpu.max): 50% of one CPU, 1.5 CPUs, "
                        "QUOTA/PERIOD in µs, or max");
    command->add_option("--cpu-weight", flags.cpuWeight,
                        "CPU share against other VMs (cgroup cpu.weight, 1-10000, default 100)");
    command->add_option("--cpus-on", flags.cpusOn,
                        "dedicated host CPUs, e.g. 2,3 or 4-7: the VM's cgroup cpuset, and vCPU "
                        "thread i pinned to the i-th CPU (any: none)");
    command->add_option("--memory-high", flags.memoryHigh,
                        "memory high water mark (cgroup memory.high): above it the host reclaims "
                        "and throttles the VM, e.g. 768M, or max");
    command->add_option("--memory-max", flags.memoryMax,
                        "memory hard limit (cgroup memory.max), e.g. 1G, or max");
    command->add_option("--balloon", flags.balloon,
                        "guest memory to take back through the virtio balloon, e.g. 256M (0 gives "
                        "it all back)");
    if (atStart)
        command->add_flag("--allow-missing-controllers", flags.allowMissingControllers,
                          "run without a limit whose cgroup v2 controller the host lacks, "
                          "instead of refusing to start");
}

// Each flag's monitor flag (ingot-vmm) and control socket field (docs/vmm.md).
struct ResourceField {
    const char* monitorFlag;
    const char* updateKey;
    std::optional<std::string> ResourceFlags::*value;
};
inline constexpr ResourceField kResourceFields[] = {
    {"--cpu-max", "cpuMax", &ResourceFlags::cpuMax},
    {"--cpu-weight", "cpuWeight", &ResourceFlags::cpuWeight},
    {"--cpus-on", "cpusOn", &ResourceFlags::cpusOn},
    {"--memory-high", "memoryHigh", &ResourceFlags::memoryHigh},
    {"--memory-max", "memoryMax", &ResourceFlags::memoryMax},
    {"--balloon-target", "balloon", &ResourceFlags::balloon},
};

// The monitor's flags for `flags`.
inline std::vector<std::string> monitorArguments(const ResourceFlags& flags) {
    std::vector<std::string> args;
    for (const ResourceField& field : kResourceFields)
        if (const auto& value = flags.*field.value) {
            args.push_back(field.monitorFlag);
            args.push_back(*value);
        }
    if (flags.allowMissingControllers) args.push_back("--allow-missing-controllers");
    return args;
}

// The control socket's update request for `flags`.
inline nlohmann::json updateRequest(const ResourceFlags& flags) {
    nlohmann::json request = {{"op", "update"}};
    for (const ResourceField& field : kResourceFields)
        if (const auto& value = flags.*field.value) request[field.updateKey] = *value;
    return request;
}

}  // namespace ingot::cli
