#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ingot::vmm {

// "max" in cpu.max's quota and in memory.high / memory.max. A value rather than an absent
// field: an update has to tell "remove this limit" apart from "leave it as it is".
constexpr uint64_t kUnlimited = UINT64_MAX;

// cgroup v2's cpu.max: all of the VM's threads together run at most quotaUs in every periodUs,
// so a cap of 1.5 CPUs holds however many vCPUs the guest has.
struct CpuMax {
    uint64_t quotaUs = kUnlimited;
    uint64_t periodUs = 100'000;  // the kernel's default
    bool operator==(const CpuMax&) const = default;
};

// One VM's resource limits. Every field is optional because the same struct is both the limits
// a VM starts with (absent: the host's default) and an update (absent: leave it as it is).
struct ResourceLimits {
    std::optional<CpuMax> cpuMax;
    std::optional<uint64_t> cpuWeight;  // cpu.weight, 1..10000; the host's default is 100
    // Dedicated host CPUs, in the order vCPU threads are pinned to them (vCPU i runs on
    // cpus[i % size]), which is why this is a list and not a set. Empty ("any"): no dedicated
    // CPUs, the VM runs anywhere its parent cgroup allows.
    std::optional<std::vector<unsigned>> cpus;
    std::optional<uint64_t> memoryHigh;  // bytes or kUnlimited: above it the kernel throttles
    std::optional<uint64_t> memoryMax;   // bytes or kUnlimited: above it the OOM killer acts

    bool empty() const { return !cpuMax && !cpuWeight && !cpus && !memoryHigh && !memoryMax; }
    bool operator==(const ResourceLimits&) const = default;
};

// The flags, named in one place: error messages quote them, and the monitor's control socket
// can carry an update as flag/value pairs parsed by setLimitFromFlag, the same code as the
// command line.
inline constexpr std::string_view kCpuMaxFlag = "--cpu-max";
inline constexpr std::string_view kCpuWeightFlag = "--cpu-weight";
inline constexpr std::string_view kCpusOnFlag = "--cpus-on";
inline constexpr std::string_view kMemoryHighFlag = "--memory-high";
inline constexpr std::string_view kMemoryMaxFlag = "--memory-max";
inline constexpr std::string_view kAllowMissingControllersFlag = "--allow-missing-controllers";

// CPU numbers a list may name: what one cpu_set_t holds, so that pinning never needs a
// dynamically sized mask.
constexpr unsigned kMaxHostCpus = 1024;
// cpu.max larger than this many CPUs is surely a typo; "max" says "no cap".
constexpr unsigned kMaxCpuMaxCpus = 8192;
// Memory limits below this cannot even hold the monitor; the likely mistake is a size without
// a unit ("512" is bytes).
constexpr uint64_t kMinMemoryLimit = 16ull << 20;
constexpr uint64_t kMaxMemoryLimit = 1ull << 50;  // 1 PiB

// The parsers throw ingot::Error (ExitStatus::kUsage) naming the flag, the text and the forms
// accepted.
//
// cpu.max: "50%" (of one CPU), "1.5" (CPUs), "max", "QUOTA/PERIOD" or "QUOTA PERIOD" in
// microseconds (cgroup's own form; QUOTA may be "max"). Up to six decimals. The quota must be
// at least 1000 µs and the period 1000..1000000 µs, as the kernel requires.
CpuMax parseCpuMax(std::string_view text);
// cpu.weight: a whole number 1..10000.
uint64_t parseCpuWeight(std::string_view text);
// "2,3", "0-3,6" (kept in the order given, for pinning) or "any" (empty). CPUs below
// kMaxHostCpus, none twice. Whether they are online is checked where they are applied.
std::vector<unsigned> parseCpuList(std::string_view text);
// memory.high / memory.max: a size (parseSize: 512M, 2G) or "max"; `flag` names which.
uint64_t parseMemoryLimit(std::string_view flag, std::string_view text);

// Sets the field that `flag` (one of the flags above) names from its text. Throws
// ingot::Error (kUsage) for an unknown flag or one already set in `limits`.
void setLimitFromFlag(ResourceLimits& limits, std::string_view flag, std::string_view value);

// `current` with every field that `update` gives replaced.
ResourceLimits merged(ResourceLimits current, const ResourceLimits& update);

// The flags of the fields `limits` gives, "--cpu-max, --memory-max": for messages.
std::string flagsOf(const ResourceLimits& limits);

// The kernel's list form: sorted, with ranges ("0-3,6"); "" for none.
std::string formatCpuList(std::vector<unsigned> cpus);

// The cgroup files and their values for the fields `limits` gives, in the order they are to be
// written: {"cpu.max", "50000 100000"}, {"cpuset.cpus", "2-3"}, {"memory.max", "max"}, …
// Removing dedicated CPUs is {"cpuset.cpus", ""}: the parent's CPUs again.
std::vector<std::pair<std::string, std::string>> cgroupFileValues(const ResourceLimits& limits);

// The reverse, for reading back what a cgroup has in force: a value that does not parse (or a
// cpuset.cpus that is empty) gives no field, never a wrong one. No range checks: the kernel
// accepted the values.
ResourceLimits limitsFromCgroupValues(const std::vector<std::pair<std::string, std::string>>& files);

// {"cpuMax": {"quotaUs", "periodUs"} | "max", "cpuWeight", "cpus": [2, 3] | "any",
//  "memoryHighBytes": N | "max", "memoryMaxBytes": N | "max"}, only the fields given.
nlohmann::ordered_json toJson(const ResourceLimits& limits);

// What the limits will do to a VM of this shape that the user may not expect: memory.max below
// the guest's RAM (the VM is OOM-killed once the guest has touched that much), fewer dedicated
// CPUs than vCPUs (vCPUs share them). Empty when nothing stands out.
std::vector<std::string> limitWarnings(const ResourceLimits& limits, unsigned vcpus,
                                       uint64_t guestMemoryBytes);

}  // namespace ingot::vmm
