#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "Vm.h"
#include "resources/Cgroup.h"
#include "resources/ResourceLimits.h"

namespace ingot::vmm {

// What the control socket's requests do to a running VM (docs/vmm.md, "Control socket"):
//   {"op": "stats"}  → the accounting so far, the guest's own /proc/stat through its agent,
//                       and the resources (cgroup figures, limits in force, balloon)
//   {"op": "update", "cpuMax": "50%", "cpuWeight": 300, "cpusOn": "2,3", "memoryHigh": "1G",
//    "memoryMax": "2G", "balloon": "256M"}  → changes any of them, without a restart
// The cgroup is null when the VM runs without one (no limits asked for, or the controllers
// missing and the user allowed that).
class VmControl {
public:
    VmControl(Vm& vm, VmCgroup* cgroup) : vm_(vm), cgroup_(cgroup) {}

    nlohmann::json handle(const nlohmann::json& request);

    // Pins the vCPU threads to the dedicated CPUs (if any); once they have started.
    void pinVcpus();

private:
    nlohmann::json stats();
    nlohmann::json update(const nlohmann::json& request);
    nlohmann::json resources();
    nlohmann::json guestView();

    Vm& vm_;
    VmCgroup* cgroup_;
    std::mutex mutex_;  // the cgroup's updates and pinning, between the control and main threads
};

}  // namespace ingot::vmm
