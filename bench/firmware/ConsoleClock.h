#pragma once

// Runs a VM process and notes when each console marker first appears (wall time since spawn).
#include <map>
#include <string>
#include <vector>

#include "../support/MonitorRun.h"

namespace ingot::bench {

struct ConsoleTimes {
    std::map<std::string, double> seconds;  // marker → first sight
    std::string output;
    int exitStatus = -1;
};

inline ConsoleTimes runWithMarkers(const std::vector<std::string>& argv,
                                   const std::vector<std::string>& markers, double timeout) {
    ConsoleTimes t;
    auto run = runMonitor(argv, timeout, [&](pid_t, std::string_view line, double now) {
        for (const auto& m : markers)
            if (!t.seconds.count(m) && line.find(m) != std::string_view::npos) t.seconds[m] = now;
        return Watch::Continue;
    });
    t.output = std::move(run.output);
    t.exitStatus = run.exitStatus;
    return t;
}

}  // namespace ingot::bench
