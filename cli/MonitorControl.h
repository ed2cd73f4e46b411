// Talking to a running clone's monitor through its control socket (docs/vmm.md, "Control
// socket"), for `ingot stats`, `ingot top` and `ingot update`.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "ingot/store/Store.h"

namespace ingot::cli {

// The abstract socket name the clone in `dir` listens on: named after the directory's real
// path, as the console's is, so it needs no file on the store's file system and no short path.
std::string controlSocketName(const std::string& dir);

// The monitor's --name for the clone `name` in `dir`, which names its cgroup: the clone's name
// and a hash of the directory, so clones of one name in two stores get cgroups of their own.
std::string monitorName(const std::string& dir, const std::string& name);

// Sends `request` to the monitor of the running clone `name` and returns its answer. Throws
// kUsage when the clone is not running, and ingot::Error when the monitor does not answer in
// time or answers {"error": …} (its text in the message).
nlohmann::json askMonitor(const store::Store& store, const std::string& name,
                          const nlohmann::json& request,
                          std::chrono::seconds timeout = std::chrono::seconds(15));

}  // namespace ingot::cli
