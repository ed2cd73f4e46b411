#include "IntervalReport.h"

#include <algorithm>
#include <initializer_list>
#include <cmath>
#include <cstdio>
#include <set>

#include "ingot/core/Error.h"

namespace ingot::cli {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr uint64_t kNsPerSecond = 1'000'000'000ull;
constexpr uint64_t kNsPerTick = kNsPerSecond / kGuestUserHz;
// More than any machine ingot-vmm runs; a sample claiming more is not a sample.
constexpr std::size_t kMaxVcpus = kMaxGuestCpus;
// The guest reads /proc/stat a little before or after the monitor's snapshot and each column is
// whole ticks, so the two views of steal differ by a little even when they agree.
constexpr double kStealAgreementPoints = 2.0;
// Below this share of halted time, the verdict does not mention halting at all; above
// kMostlyIdlePercent it leads with it.
constexpr double kHaltWorthMentioningPercent = 5.0;
constexpr double kMostlyIdlePercent = 50.0;
constexpr std::size_t kDevicesShown = 3;

uint64_t since(uint64_t later, uint64_t earlier) {
    return later >= earlier ? later - earlier : 0;
}

uint64_t saturatingAdd(uint64_t a, uint64_t b) {
    uint64_t sum = 0;
    return __builtin_add_overflow(a, b, &sum) ? UINT64_MAX : sum;
}

uint64_t saturatingMultiply(uint64_t a, uint64_t b) {
    uint64_t product = 0;
    return __builtin_mul_overflow(a, b, &product) ? UINT64_MAX : product;
}

void addOptional(std::optional<uint64_t>& into, const std::optional<uint64_t>& value) {
    if (into && value)
        into = saturatingAdd(*into, *value);
    else
        into.reset();
}

// --- reading a sample document --------------------------------------------------------------

[[noreturn]] void badField(const std::string& where, const std::string& why) {
    throw Error("stats sample: " + where + ": " + why);
}

const json* member(const json& object, const char* key) {
    if (!object.is_object()) return nullptr;
    auto it = object.find(key);
    return it == object.end() || it->is_null() ? nullptr : &*it;
}

uint64_t asCount(const json& value, const std::string& where) {
    if (value.is_number_unsigned()) return value.get<uint64_t>();
    if (value.is_number_integer()) {
        auto signedValue = value.get<int64_t>();
        if (signedValue < 0) badField(where, "negative (" + std::to_string(signedValue) + ")");
        return static_cast<uint64_t>(signedValue);
    }
    badField(where, std::string("not a non-negative integer but ") + value.type_name());
}

uint64_t requireCount(const json& object, const char* key, const std::string& where) {
    const json* value = member(object, key);
    if (!value) badField(where + "." + key, "missing");
    return asCount(*value, where + "." + key);
}

std::optional<uint64_t> optionalCount(const json& object, const char* key,
                                      const std::string& where) {
    const json* value = member(object, key);
    if (!value) return std::nullopt;
    return asCount(*value, where + "." + key);
}

const json* optionalObject(const json& object, const char* key, const std::string& where) {
    const json* value = member(object, key);
    if (value && !value->is_object()) badField(where + "." + key, "not an object");
    return value;
}

struct VcpuReading {
    unsigned index = 0;
    uint64_t wallNs = 0;
    uint64_t cpuNs = 0;
    uint64_t monitorNs = 0;
    uint64_t deviceNs = 0;
    std::optional<uint64_t> guestNs;
    std::optional<uint64_t> runDelayNs;
    std::optional<uint64_t> haltWaitNs;
    std::optional<uint64_t> haltPollNs;
    std::map<std::string, ExitInterval> monitorExits;
    std::map<std::string, DeviceInterval> devices;
    std::optional<std::map<std::string, uint64_t>> kvmExits;
};

struct AccountingReading {
    uint64_t snapshotNs = 0;
    std::optional<uint64_t> wallNs;  // since the monitor started
    std::map<unsigned, VcpuReading> vcpus;
};

VcpuReading readVcpu(const json& v, const std::string& where,
                     const std::set<std::string>& unavailable) {
    if (!v.is_object()) badField(where, "not an object");
    VcpuReading r;
    uint64_t index = requireCount(v, "index", where);
    if (index >= kMaxVcpus)
        badField(where + ".index", "vCPU " + std::to_string(index) + " is out of range");
    r.index = static_cast<unsigned>(index);
    r.wallNs = requireCount(v, "wallNs", where);
    r.cpuNs = requireCount(v, "cpuNs", where);
    r.monitorNs = requireCount(v, "monitorNs", where);
    r.deviceNs = requireCount(v, "deviceNs", where);
    // The monitor reports a figure whose source this host lacks as 0 and lists it as
    // unavailable: it must not read as "no time".
    auto figure = [&](const char* key) -> std::optional<uint64_t> {
        auto value = optionalCount(v, key, where);
        return unavailable.count(key) ? std::nullopt : value;
    };
    r.guestNs = figure("guestNs");
    r.runDelayNs = figure("runDelayNs");
    r.haltWaitNs = figure("haltWaitNs");
    r.haltPollNs = figure("haltPollNs");
    if (const json* exits = optionalObject(v, "monitorExits", where)) {
        for (const auto& [reason, e] : exits->items()) {
            std::string at = where + ".monitorExits." + escapedText(reason, 32);
            r.monitorExits[reason] = {requireCount(e, "count", at), requireCount(e, "ns", at)};
        }
    }
    if (const json* devices = optionalObject(v, "devices", where)) {
        for (const auto& [name, d] : devices->items()) {
            std::string at = where + ".devices." + escapedText(name, 32);
            const json* bus = member(d, "bus");
            if (bus && !bus->is_string()) badField(at + ".bus", "not a string");
            r.devices[name] = {name, bus ? bus->get<std::string>() : "",
                               requireCount(d, "count", at), requireCount(d, "ns", at)};
        }
    }
    if (const json* kvm = optionalObject(v, "kvmExits", where);
        kvm && !unavailable.count("kvmExits")) {
        std::map<std::string, uint64_t> counters;
        for (const auto& [cause, value] : kvm->items())
            counters[cause] = asCount(value, where + ".kvmExits." + escapedText(cause, 32));
        // An empty object is what the monitor writes when KVM has no binary statistics.
        if (!counters.empty()) r.kvmExits = std::move(counters);
    }
    return r;
}

AccountingReading readAccounting(const json& sample, const std::string& name) {
    if (!sample.is_object()) badField(name, "not a JSON object");
    const json* accounting = member(sample, "accounting");
    if (!accounting) badField(name + ": accounting", "missing");
    if (!accounting->is_object()) badField(name + ": accounting", "not an object");
    const std::string where = name + ": accounting";
    AccountingReading r;
    r.snapshotNs = requireCount(*accounting, "snapshotMonotonicNs", where);
    r.wallNs = optionalCount(*accounting, "wallNs", where);
    std::set<std::string> unavailable;
    if (const json* list = member(*accounting, "unavailable")) {
        if (!list->is_array()) badField(where + ".unavailable", "not an array");
        for (const auto& figure : *list) {
            if (!figure.is_string()) badField(where + ".unavailable", "holds a non-string");
            unavailable.insert(figure.get<std::string>());
        }
    }
    const json* vcpus = member(*accounting, "vcpus");
    if (!vcpus) badField(where + ".vcpus", "missing");
    if (!vcpus->is_array()) badField(where + ".vcpus", "not an array");
    if (vcpus->size() > kMaxVcpus)
        badField(where + ".vcpus",
                 std::to_string(vcpus->size()) + " vCPUs, more than " + std::to_string(kMaxVcpus));
    for (std::size_t i = 0; i < vcpus->size(); ++i) {
        std::string at = where + ".vcpus[" + std::to_string(i) + "]";
        VcpuReading v = readVcpu((*vcpus)[i], at, unavailable);
        unsigned index = v.index;
        if (!r.vcpus.emplace(index, std::move(v)).second)
            badField(at + ".index", "vCPU " + std::to_string(index) + " appears twice");
    }
    return r;
}

// --- the host's view ------------------------------------------------------------------------

// The first cumulative figure that is smaller in the later sample, as words; nullopt when none.
// Counters only grow while a monitor runs, so one going back means a new monitor.
std::optional<std::string> firstCounterGoingBack(const AccountingReading& a,
                                                 const AccountingReading& b) {
    if (b.snapshotNs < a.snapshotNs) return "snapshotMonotonicNs went back";
    if (a.wallNs && b.wallNs && *b.wallNs < *a.wallNs) return "the monitor's wallNs went back";
    for (const auto& [index, later] : b.vcpus) {
        auto it = a.vcpus.find(index);
        if (it == a.vcpus.end()) continue;
        const VcpuReading& earlier = it->second;
        const std::string vcpu = "vCPU " + std::to_string(index) + "'s ";
        auto back = [](uint64_t e, uint64_t l) { return l < e; };
        auto backOptional = [](const std::optional<uint64_t>& e, const std::optional<uint64_t>& l) {
            return e && l && *l < *e;
        };
        if (back(earlier.wallNs, later.wallNs)) return vcpu + "wallNs went back";
        if (back(earlier.cpuNs, later.cpuNs)) return vcpu + "cpuNs went back";
        if (back(earlier.monitorNs, later.monitorNs)) return vcpu + "monitorNs went back";
        if (back(earlier.deviceNs, later.deviceNs)) return vcpu + "deviceNs went back";
        if (backOptional(earlier.guestNs, later.guestNs)) return vcpu + "guestNs went back";
        if (backOptional(earlier.runDelayNs, later.runDelayNs))
            return vcpu + "runDelayNs went back";
        if (backOptional(earlier.haltWaitNs, later.haltWaitNs))
            return vcpu + "haltWaitNs went back";
        if (backOptional(earlier.haltPollNs, later.haltPollNs))
            return vcpu + "haltPollNs went back";
        if (earlier.kvmExits && later.kvmExits) {
            for (const auto& [cause, count] : *earlier.kvmExits) {
                auto l = later.kvmExits->find(cause);
                if (l != later.kvmExits->end() && l->second < count)
                    return vcpu + "KVM exit counter " + escapedText(cause, 32) + " went back";
            }
        }
        for (const auto& [reason, e] : earlier.monitorExits) {
            auto l = later.monitorExits.find(reason);
            if (l != later.monitorExits.end() && (l->second.count < e.count || l->second.ns < e.ns))
                return vcpu + "monitor exits " + escapedText(reason, 32) + " went back";
        }
    }
    return std::nullopt;
}

// `earlier` null: everything since the vCPU started.
HostInterval vcpuInterval(const VcpuReading* earlier, const VcpuReading& later) {
    static const VcpuReading kStart = [] {
        VcpuReading zero;
        zero.guestNs = zero.runDelayNs = zero.haltWaitNs = zero.haltPollNs = 0;
        zero.kvmExits.emplace();
        return zero;
    }();
    const VcpuReading& e = earlier ? *earlier : kStart;
    auto sinceOptional = [](const std::optional<uint64_t>& a, const std::optional<uint64_t>& b) {
        return a && b ? std::optional<uint64_t>(since(*b, *a)) : std::nullopt;
    };
    HostInterval h;
    h.vcpu = later.index;
    h.cpuNs = since(later.cpuNs, e.cpuNs);
    h.monitorNs = since(later.monitorNs, e.monitorNs);
    h.deviceNs = since(later.deviceNs, e.deviceNs);
    h.guestNs = sinceOptional(e.guestNs, later.guestNs);
    h.runDelayNs = sinceOptional(e.runDelayNs, later.runDelayNs);
    h.haltWaitNs = sinceOptional(e.haltWaitNs, later.haltWaitNs);
    h.haltPollNs = sinceOptional(e.haltPollNs, later.haltPollNs);
    for (const auto& [reason, l] : later.monitorExits) {
        auto it = e.monitorExits.find(reason);
        ExitInterval before = it == e.monitorExits.end() ? ExitInterval{} : it->second;
        h.monitorExits[reason] = {since(l.count, before.count), since(l.ns, before.ns)};
    }
    for (const auto& [name, l] : later.devices) {
        auto it = e.devices.find(name);
        DeviceInterval d = l;
        if (it != e.devices.end()) {
            d.count = since(l.count, it->second.count);
            d.ns = since(l.ns, it->second.ns);
        }
        h.devices.push_back(d);
    }
    if (e.kvmExits && later.kvmExits) {
        h.kvmExits.emplace();
        for (const auto& [cause, count] : *later.kvmExits) {
            auto it = e.kvmExits->find(cause);
            (*h.kvmExits)[cause] = since(count, it == e.kvmExits->end() ? 0 : it->second);
        }
    }
    return h;
}

void sortDevices(std::vector<DeviceInterval>& devices) {
    std::sort(devices.begin(), devices.end(), [](const DeviceInterval& a, const DeviceInterval& b) {
        return a.ns != b.ns ? a.ns > b.ns : a.name < b.name;
    });
}

HostInterval sumIntervals(const std::vector<HostInterval>& vcpus) {
    HostInterval total;
    total.guestNs = total.runDelayNs = total.haltWaitNs = total.haltPollNs = 0;
    total.kvmExits.emplace();
    std::map<std::string, DeviceInterval> devices;
    for (const auto& v : vcpus) {
        total.cpuNs = saturatingAdd(total.cpuNs, v.cpuNs);
        total.monitorNs = saturatingAdd(total.monitorNs, v.monitorNs);
        total.deviceNs = saturatingAdd(total.deviceNs, v.deviceNs);
        addOptional(total.guestNs, v.guestNs);
        addOptional(total.runDelayNs, v.runDelayNs);
        addOptional(total.haltWaitNs, v.haltWaitNs);
        addOptional(total.haltPollNs, v.haltPollNs);
        for (const auto& [reason, e] : v.monitorExits) {
            auto& into = total.monitorExits[reason];
            into.count = saturatingAdd(into.count, e.count);
            into.ns = saturatingAdd(into.ns, e.ns);
        }
        for (const auto& d : v.devices) {
            auto& into = devices[d.name];
            into.name = d.name;
            into.bus = d.bus;
            into.count = saturatingAdd(into.count, d.count);
            into.ns = saturatingAdd(into.ns, d.ns);
        }
        if (total.kvmExits && v.kvmExits) {
            for (const auto& [cause, count] : *v.kvmExits)
                (*total.kvmExits)[cause] = saturatingAdd((*total.kvmExits)[cause], count);
        } else {
            total.kvmExits.reset();
        }
    }
    if (vcpus.empty()) total.kvmExits.reset();
    for (auto& [name, d] : devices) total.devices.push_back(d);
    sortDevices(total.devices);
    return total;
}

// --- the guest's view -----------------------------------------------------------------------

uint64_t ticksToNs(uint64_t ticks) {
    return saturatingMultiply(ticks, kNsPerTick);
}

// `earlier` null: since the guest booted.
GuestInterval guestInterval(const CpuTicks* earlier, const CpuTicks& later) {
    auto column = [&](CpuColumn c) -> std::optional<uint64_t> {
        auto l = later[c];
        if (!earlier) return l;
        auto e = (*earlier)[c];
        if (!l || !e) return std::nullopt;
        return since(*l, *e);
    };
    auto ticksOf = [&](std::initializer_list<CpuColumn> columns) {
        uint64_t sum = 0;
        for (auto c : columns) sum = saturatingAdd(sum, column(c).value_or(0));
        return sum;
    };
    using C = CpuColumn;
    GuestInterval g;
    // Missing columns (older kernels) add nothing: their time is then in the columns that
    // kernel had, so the sums still cover the guest's CPU time.
    uint64_t busy = ticksOf({C::kUser, C::kNice, C::kSystem, C::kIrq, C::kSoftirq});
    uint64_t idle = ticksOf({C::kIdle, C::kIowait});
    auto steal = column(C::kSteal);
    g.busyNs = ticksToNs(busy);
    g.idleNs = ticksToNs(idle);
    if (steal) g.stealNs = ticksToNs(*steal);
    g.cpuTimeNs = ticksToNs(saturatingAdd(saturatingAdd(busy, idle), steal.value_or(0)));
    return g;
}

bool anyColumnWentBack(const CpuTicks& earlier, const CpuTicks& later) {
    for (std::size_t i = 0; i < kCpuColumnCount; ++i) {
        if (earlier.columns[i] && later.columns[i] && *later.columns[i] < *earlier.columns[i])
            return true;
    }
    return false;
}

struct GuestReading {
    std::optional<GuestProcStat> stat;
    std::optional<GuestUptime> uptime;
    std::optional<std::string> unavailable;
};

// Only the document's shape can throw; what the guest wrote becomes `unavailable`.
GuestReading readGuest(const json& sample, const std::string& name) {
    GuestReading r;
    const json* guest = member(sample, "guest");
    if (!guest) {
        r.unavailable = "the " + name + " has no guest view";
        return r;
    }
    const std::string where = name + ": guest";
    if (!guest->is_object()) badField(where, "not an object");
    if (const json* error = member(*guest, "error")) {
        if (!error->is_string()) badField(where + ".error", "not a string");
        r.unavailable = escapedText(error->get_ref<const std::string&>(), 200);
        return r;
    }
    const json* procStat = member(*guest, "procStat");
    if (!procStat) badField(where + ".procStat", "missing (and no error)");
    if (!procStat->is_string()) badField(where + ".procStat", "not a string");
    const json* uptime = member(*guest, "uptime");
    if (uptime && !uptime->is_string()) badField(where + ".uptime", "not a string");
    try {
        r.stat = parseGuestProcStat(procStat->get_ref<const std::string&>());
        if (uptime) r.uptime = parseGuestUptime(uptime->get_ref<const std::string&>());
    } catch (const Error& e) {
        r.stat.reset();
        r.unavailable = std::string(e.what()) + " (" + name + ")";
    }
    return r;
}

GuestView guestView(const json& earlierSample, const json& laterSample, bool hostRestarted) {
    GuestView view;
    GuestReading later = readGuest(laterSample, "later sample");
    GuestReading earlier = readGuest(earlierSample, "earlier sample");
    if (later.unavailable) {
        view.unavailable = later.unavailable;
        return view;
    }
    // Since a restart the later sample alone is the interval, so the earlier guest view does
    // not matter.
    if (!hostRestarted && earlier.unavailable) {
        view.unavailable = earlier.unavailable;
        return view;
    }
    const GuestProcStat& l = *later.stat;
    bool sinceBoot = hostRestarted;
    if (!sinceBoot) {
        const GuestProcStat& e = *earlier.stat;
        bool uptimeWentBack =
            earlier.uptime && later.uptime && later.uptime->uptimeNs < earlier.uptime->uptimeNs;
        if (uptimeWentBack || anyColumnWentBack(e.total, l.total)) {
            sinceBoot = true;
            view.note =
                "the guest rebooted during the interval (its counters went back): its view "
                "covers the time since it booted";
        }
    }
    const GuestProcStat* e = sinceBoot ? nullptr : &*earlier.stat;
    view.onlineCpus = static_cast<unsigned>(l.cpus.size());
    view.total = guestInterval(e ? &e->total : nullptr, l.total);
    for (const auto& [index, ticks] : l.cpus) {
        if (!e) {
            view.cpus[index] = guestInterval(nullptr, ticks);
        } else if (auto it = e->cpus.find(index); it != e->cpus.end()) {
            if (!anyColumnWentBack(it->second, ticks))
                view.cpus[index] = guestInterval(&it->second, ticks);
        }
    }
    if (later.uptime) {
        if (!e)
            view.uptimeNs = later.uptime->uptimeNs;
        else if (earlier.uptime)
            view.uptimeNs = since(later.uptime->uptimeNs, earlier.uptime->uptimeNs);
    }
    // The guest's percentages are of its own clock's CPU-seconds (uptime × CPUs), not of the
    // sum of its columns: a guest kernel charges a tick wholly to steal when the steal since
    // the last tick exceeds it, so a vCPU that ran a quarter of the time and waited the rest
    // counts far fewer busy ticks than it ran, and the columns add up to less than the
    // interval (measured in the rig: four guests on one CPU, 8.5 s of steal in 11.3 s, columns
    // summing to 9.1 s). Steal itself is counted whole, so against the guest's clock it agrees
    // with the host's run delay.
    auto setWhole = [&](GuestInterval& g, unsigned cpus) {
        g.wholeNs = view.uptimeNs && *view.uptimeNs > 0 ? saturatingMultiply(*view.uptimeNs, cpus)
                                                        : g.cpuTimeNs;
    };
    setWhole(view.total, std::max(1u, view.onlineCpus));
    for (auto& [index, g] : view.cpus) setWhole(g, 1);
    return view;
}

// --- resources ------------------------------------------------------------------------------

struct CounterPair {
    std::optional<uint64_t> earlier;
    std::optional<uint64_t> later;
};

// A cgroup counter over the interval. One going back means the cgroup was made again (a new
// monitor): the later value is then the time since.
std::optional<uint64_t> counterInterval(const CounterPair& pair, bool sinceRestart,
                                        const std::string& what, std::vector<std::string>& notes) {
    if (!pair.later) return std::nullopt;
    if (sinceRestart) return pair.later;
    if (!pair.earlier) return std::nullopt;
    if (*pair.later < *pair.earlier) {
        notes.push_back(what + " went back (a new cgroup): counted since it was made");
        return pair.later;
    }
    return *pair.later - *pair.earlier;
}

const json* resourcesOf(const json& sample, const std::string& name) {
    return optionalObject(sample, "resources", name);
}

// A figure of the monitor's cgroup document (vmm/resources/Cgroup.h, toJson): `path` names the
// objects down to it, e.g. {"memory", "events", "oomKill"}.
CounterPair cgroupCounter(const json& earlier, const json& later,
                          std::initializer_list<const char*> path) {
    auto read = [&](const json& sample, const std::string& name) -> std::optional<uint64_t> {
        const json* resources = resourcesOf(sample, name);
        if (!resources) return std::nullopt;
        const json* object = optionalObject(*resources, "cgroup", name + ": resources");
        std::string where = name + ": resources.cgroup";
        const char* const* key = path.begin();
        for (; object && key + 1 != path.end(); ++key) {
            object = optionalObject(*object, *key, where);
            where += std::string(".") + *key;
        }
        if (!object) return std::nullopt;
        return optionalCount(*object, *key, where);
    };
    return {read(earlier, "earlier sample"), read(later, "later sample")};
}

ResourceView resourceView(const json& earlier, const json& later, bool sinceRestart,
                          std::vector<std::string>& notes) {
    ResourceView view;
    // Both samples are checked for shape even when only the later one's gauges are shown.
    resourcesOf(earlier, "earlier sample");
    const json* resources = resourcesOf(later, "later sample");
    view.present = resources != nullptr;
    if (!view.present) return view;
    auto usecToNs = [](std::optional<uint64_t> usec) -> std::optional<uint64_t> {
        if (!usec) return std::nullopt;
        return saturatingMultiply(*usec, 1000);
    };
    auto interval = [&](std::initializer_list<const char*> path, const char* what) {
        return counterInterval(cgroupCounter(earlier, later, path), sinceRestart,
                               std::string("cgroup ") + what, notes);
    };
    view.cgroupCpuNs = usecToNs(interval({"cpu", "usageUs"}, "cpu.stat usage_usec"));
    view.throttledPeriods = interval({"cpu", "throttledPeriods"}, "cpu.stat nr_throttled");
    view.throttledNs = usecToNs(interval({"cpu", "throttledUs"}, "cpu.stat throttled_usec"));
    view.memoryMaxHits = interval({"memory", "events", "max"}, "memory.events max");
    view.memoryHighHits = interval({"memory", "events", "high"}, "memory.events high");
    view.oomKills = interval({"memory", "events", "oomKill"}, "memory.events oom_kill");
    view.memoryMaxHitsSinceStart = cgroupCounter(earlier, later, {"memory", "events", "max"}).later;
    view.oomKillsSinceStart = cgroupCounter(earlier, later, {"memory", "events", "oomKill"}).later;
    view.memoryCurrentBytes = cgroupCounter(earlier, later, {"memory", "currentBytes"}).later;
    if (const json* balloon = optionalObject(*resources, "balloon", "later sample: resources")) {
        view.balloonTargetBytes =
            optionalCount(*balloon, "targetBytes", "later sample: resources.balloon");
        view.balloonActualBytes =
            optionalCount(*balloon, "actualBytes", "later sample: resources.balloon");
    }
    if (const json* limits = member(*resources, "limits")) view.limits = *limits;
    return view;
}

// --- formatting -----------------------------------------------------------------------------

std::string format(const char* pattern, double value) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, pattern, value);
    return buffer;
}

// Plain seconds, but short times in ms so that 25 ms of device time does not read as "0.0 s".
std::string duration(uint64_t ns) {
    if (ns == 0) return "0 s";
    if (ns < 1'000'000) return "<1 ms";
    if (ns < 100'000'000) return format("%.0f ms", static_cast<double>(ns) / 1e6);
    return format("%.1f s", static_cast<double>(ns) / 1e9);
}

std::string optionalDuration(const std::optional<uint64_t>& ns) {
    return ns ? duration(*ns) : "n/a";
}

// The verdict's whole percents; a share that is there but rounds to 0 says so.
std::string wholePercent(double percent) {
    if (percent > 0 && percent < 0.5) return "<1 %";
    return format("%.0f %%", percent);
}

std::string tenthPercent(const std::optional<double>& percent) {
    return percent ? format("%.1f %%", *percent) : "n/a";
}

std::string bytes(uint64_t value) {
    constexpr double kKiB = 1024.0;
    double v = static_cast<double>(value);
    if (v >= kKiB * kKiB * kKiB) return format("%.1f GiB", v / (kKiB * kKiB * kKiB));
    if (v >= kKiB * kKiB) return format("%.0f MiB", v / (kKiB * kKiB));
    if (v >= kKiB) return format("%.0f KiB", v / kKiB);
    return std::to_string(value) + " B";
}

std::string plural(uint64_t count, const std::string& one, const std::string& many) {
    return std::to_string(count) + " " + (count == 1 ? one : many);
}

std::string vcpuWords(unsigned count) {
    return plural(count, "vCPU", "vCPUs");
}

double perSecond(uint64_t count, uint64_t intervalNs) {
    return intervalNs ? static_cast<double>(count) * 1e9 / static_cast<double>(intervalNs) : 0;
}

// The verdict's and top row's short form of the memory warnings.
std::vector<std::string> memoryAlarms(const ResourceView& res) {
    std::vector<std::string> alarms;
    if (res.memoryMaxHits && *res.memoryMaxHits > 0)
        alarms.push_back("memory.max hit " + plural(*res.memoryMaxHits, "time", "times"));
    else if (!res.memoryMaxHits && res.memoryMaxHitsSinceStart.value_or(0) > 0)
        alarms.push_back("memory.max hit " + plural(*res.memoryMaxHitsSinceStart, "time", "times") +
                         " since the VM started");
    if (res.oomKills && *res.oomKills > 0)
        alarms.push_back(plural(*res.oomKills, "OOM kill", "OOM kills"));
    else if (!res.oomKills && res.oomKillsSinceStart.value_or(0) > 0)
        alarms.push_back(plural(*res.oomKillsSinceStart, "OOM kill", "OOM kills") +
                         " since the VM started");
    return alarms;
}

std::optional<double> exitsPerSecond(const HostInterval& h, uint64_t intervalNs) {
    if (!h.kvmExits || intervalNs == 0) return std::nullopt;
    auto it = h.kvmExits->find("exits");
    if (it == h.kvmExits->end()) return std::nullopt;
    return perSecond(it->second, intervalNs);
}

double roundedPercent(double percent) {
    return std::round(percent * 1000.0) / 1000.0;
}

ordered_json percentJson(const std::optional<double>& percent) {
    return percent ? ordered_json(roundedPercent(*percent)) : ordered_json(nullptr);
}

ordered_json nsJson(const std::optional<uint64_t>& ns) {
    return ns ? ordered_json(*ns) : ordered_json(nullptr);
}

// Every line of the human output goes through this: what the guest or a sample named (device
// names, the agent's error) must not reach the terminal as control characters.
std::string safeLine(const std::string& line) {
    return escapedText(line, 4000);
}

}  // namespace

std::optional<double> percentOf(std::optional<uint64_t> part, uint64_t whole) {
    if (!part || whole == 0) return std::nullopt;
    return static_cast<double>(*part) * 100.0 / static_cast<double>(whole);
}

IntervalReport makeIntervalReport(const json& earlier, const json& later,
                                  const std::string& vmName) {
    IntervalReport report;
    report.vmName = vmName;
    AccountingReading a = readAccounting(earlier, "earlier sample");
    AccountingReading b = readAccounting(later, "later sample");

    if (auto why = firstCounterGoingBack(a, b)) {
        report.sinceRestart = true;
        uint64_t longestVcpu = 0;
        for (const auto& [index, v] : b.vcpus) longestVcpu = std::max(longestVcpu, v.wallNs);
        report.intervalNs = b.wallNs.value_or(longestVcpu);
        report.notes.push_back("the VM restarted between the samples (" + *why +
                               "): the figures cover the " + duration(report.intervalNs) +
                               " since it started");
        for (const auto& [index, v] : b.vcpus) report.vcpus.push_back(vcpuInterval(nullptr, v));
    } else {
        report.intervalNs = b.snapshotNs - a.snapshotNs;
        for (const auto& [index, v] : b.vcpus) {
            auto it = a.vcpus.find(index);
            if (it == a.vcpus.end()) {
                report.notes.push_back("vCPU " + std::to_string(index) +
                                       " is only in the later sample: not counted");
                continue;
            }
            report.vcpus.push_back(vcpuInterval(&it->second, v));
        }
        for (const auto& [index, v] : a.vcpus) {
            if (!b.vcpus.count(index))
                report.notes.push_back("vCPU " + std::to_string(index) +
                                       " is only in the earlier sample: not counted");
        }
        if (a.vcpus.size() != b.vcpus.size())
            report.notes.push_back("the vCPU count changed from " + std::to_string(a.vcpus.size()) +
                                   " to " + std::to_string(b.vcpus.size()));
    }
    for (auto& v : report.vcpus) sortDevices(v.devices);
    report.vcpuCount = static_cast<unsigned>(report.vcpus.size());
    report.vcpuTimeNs = saturatingMultiply(report.intervalNs, report.vcpuCount);
    report.host = sumIntervals(report.vcpus);
    if (report.intervalNs == 0) report.notes.push_back("the two samples are of the same instant");

    report.resources = resourceView(earlier, later, report.sinceRestart, report.notes);
    const ResourceView& res = report.resources;
    if (res.memoryMaxHits && *res.memoryMaxHits > 0)
        report.warnings.push_back("the VM hit its memory limit (cgroup memory.max) " +
                                  plural(*res.memoryMaxHits, "time", "times") +
                                  " in this interval");
    else if (!res.memoryMaxHits && res.memoryMaxHitsSinceStart.value_or(0) > 0)
        report.warnings.push_back("the VM has hit its memory limit (cgroup memory.max) " +
                                  plural(*res.memoryMaxHitsSinceStart, "time", "times") +
                                  " since it started");
    if (res.oomKills && *res.oomKills > 0)
        report.warnings.push_back(
            plural(*res.oomKills, "OOM kill", "OOM kills") +
            " in the VM's cgroup in this interval: the kernel killed to stay within memory.max");
    else if (!res.oomKills && res.oomKillsSinceStart.value_or(0) > 0)
        report.warnings.push_back("the VM's cgroup has had " +
                                  plural(*res.oomKillsSinceStart, "OOM kill", "OOM kills") +
                                  " since it started");

    report.guest = guestView(earlier, later, report.sinceRestart);
    if (!report.guest.unavailable && report.guest.onlineCpus != report.vcpuCount)
        report.notes.push_back("the guest's /proc/stat lists " +
                               plural(report.guest.onlineCpus, "CPU", "CPUs") + ", the VM has " +
                               vcpuWords(report.vcpuCount));

    Comparison& c = report.comparison;
    // Each end of each CPU's columns is cut to whole ticks.
    c.agreementPoints = report.intervalNs ? std::max(kStealAgreementPoints,
                                                     100.0 * 2.0 * static_cast<double>(kNsPerTick) /
                                                         static_cast<double>(report.intervalNs))
                                          : kStealAgreementPoints;
    if (!report.guest.unavailable) {
        const GuestInterval& g = report.guest.total;
        auto steal = percentOf(g.stealNs, g.wholeNs);
        auto runDelay = percentOf(report.host.runDelayNs, report.vcpuTimeNs);
        if (steal && runDelay) {
            c.stealMinusRunDelayPoints = *steal - *runDelay;
            c.stealAgrees = std::fabs(*c.stealMinusRunDelayPoints) <= c.agreementPoints;
        }
        auto busy = percentOf(g.busyNs, g.wholeNs);
        auto guestMode = percentOf(report.host.guestNs, report.vcpuTimeNs);
        if (busy && guestMode) c.busyMinusGuestModePoints = *busy - *guestMode;
    }
    return report;
}

std::string verdict(const IntervalReport& r) {
    if (r.vcpuCount == 0) return "no vCPU is in both samples: nothing to compare";
    if (r.intervalNs == 0) return "no time passed between the two samples: nothing to report";
    const HostInterval& h = r.host;
    const uint64_t whole = r.vcpuTimeNs;
    auto share = [&](uint64_t ns) {
        return duration(ns) + " (" + wholePercent(*percentOf(ns, whole)) + ")";
    };

    std::string s;
    if (r.sinceRestart) s += "the VM restarted during the interval; since then, ";
    s += "of " + duration(r.intervalNs) + " wall (" + vcpuWords(r.vcpuCount);
    if (r.vcpuCount > 1) s += ", " + format("%.1f", static_cast<double>(whole) / 1e9) + " vCPU-s";
    s += "), this guest ";
    auto haltPercent = percentOf(h.haltWaitNs, whole);
    bool mostlyIdle = haltPercent && *haltPercent >= kMostlyIdlePercent && *h.haltWaitNs > h.cpuNs;
    if (mostlyIdle) s += "was mostly idle: halted " + share(*h.haltWaitNs) + ", ";
    s += "ran " + share(h.cpuNs);
    if (h.runDelayNs)
        s += ", waited " + share(*h.runDelayNs) + " for a host CPU";
    else
        s += ", its wait for a host CPU is not measured on this host";
    s += ", spent " + duration(h.deviceNs) + " in device emulation";
    if (!h.devices.empty() && h.devices.front().ns > 0 && h.deviceNs > 0)
        s += " (most in " + escapedText(h.devices.front().name, 32) + ")";
    if (!mostlyIdle && haltPercent && *haltPercent >= kHaltWorthMentioningPercent)
        s += ", halted " + share(*h.haltWaitNs);
    if (r.resources.throttledNs && *r.resources.throttledNs > 0)
        s += ", was held back by its cgroup's CPU limit for " + duration(*r.resources.throttledNs);

    const GuestView& g = r.guest;
    if (g.unavailable) {
        s += "; the guest's own view is unavailable: " + *g.unavailable;
    } else if (!g.total.stealNs) {
        s += "; the guest's kernel reports no steal time (its /proc/stat has no steal column)";
    } else {
        const uint64_t steal = *g.total.stealNs;
        auto stealPercent = percentOf(steal, g.total.wholeNs);
        const auto& c = r.comparison;
        if (!c.stealMinusRunDelayPoints) {
            s += "; the guest saw " + duration(steal) + " of steal" +
                 (stealPercent ? " (" + wholePercent(*stealPercent) + ")" : std::string());
        } else if (*c.stealAgrees) {
            // Rounded up so that "within" stays true.
            double within =
                std::max(0.1, std::ceil(std::fabs(*c.stealMinusRunDelayPoints) * 10) / 10);
            s += "; the guest saw " + duration(steal) + " of steal (agrees with the host within " +
                 format("%.1f", within) + " points)";
        } else if (steal == 0) {
            s += "; the guest saw no steal although the host made it wait " +
                 wholePercent(*percentOf(h.runDelayNs, whole)) +
                 " (its kernel may not use KVM's steal time)";
        } else {
            double points = *c.stealMinusRunDelayPoints;
            s += "; the guest saw " + duration(steal) + " of steal (" +
                 wholePercent(*stealPercent) + "), " + format("%.1f", std::fabs(points)) +
                 " points " + (points < 0 ? "less" : "more") + " than the host's wait";
        }
        if (g.note) s += " (it rebooted: its view covers the time since)";
    }
    auto alarms = memoryAlarms(r.resources);
    for (std::size_t i = 0; i < alarms.size(); ++i) s += (i ? ", " : "; WARNING: ") + alarms[i];
    return s;
}

namespace {

constexpr int kLabelWidth = 28;

std::string row(const std::string& label, const std::string& hostTime,
                const std::string& hostPercent, const std::string& guestTime = "",
                const std::string& guestPercent = "") {
    char buffer[256];
    std::snprintf(buffer, sizeof buffer, "%-*s %9s %8s    %9s %8s", kLabelWidth, label.c_str(),
                  hostTime.c_str(), hostPercent.c_str(), guestTime.c_str(), guestPercent.c_str());
    std::string line = buffer;
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line + "\n";
}

std::string topCell(const std::optional<double>& percent) {
    return percent ? format("%.1f", *percent) : "-";
}

}  // namespace

std::string renderTable(const IntervalReport& r) {
    const HostInterval& h = r.host;
    const uint64_t whole = r.vcpuTimeNs;
    const GuestView& g = r.guest;
    const bool guestShown = !g.unavailable;
    auto hostCell = [&](const std::optional<uint64_t>& ns) {
        return std::pair{optionalDuration(ns), tenthPercent(percentOf(ns, whole))};
    };
    auto guestCell = [&](const std::optional<uint64_t>& ns) {
        if (!guestShown) return std::pair<std::string, std::string>{"", ""};
        return std::pair{optionalDuration(ns), tenthPercent(percentOf(ns, g.total.wholeNs))};
    };
    auto line = [&](const std::string& label, const std::optional<uint64_t>& host,
                    const std::optional<uint64_t>& guest, bool withGuest) {
        auto [ht, hp] = hostCell(host);
        auto [gt, gp] = withGuest ? guestCell(guest) : std::pair<std::string, std::string>{};
        return row(label, ht, hp, gt, gp);
    };

    std::string out;
    out += safeLine(escapedText(r.vmName, 64) + ": " + duration(r.intervalNs) + " wall, " +
                    vcpuWords(r.vcpuCount) + " (" +
                    format("%.1f", static_cast<double>(whole) / 1e9) + " vCPU-s)") +
           "\n";
    for (const auto& w : r.warnings) out += "WARNING: " + safeLine(w) + "\n";
    for (const auto& n : r.notes) out += "note: " + safeLine(n) + "\n";
    out += "\n";
    out += row("", "host", "", "guest", "");
    out += line("running / guest busy", h.cpuNs, g.total.busyNs, true);
    out += line("  in guest mode", h.guestNs, {}, false);
    out += line("  handling exits (monitor)", h.monitorNs, {}, false);
    out += line("  device emulation", h.deviceNs, {}, false);
    out += line("waiting for a CPU / steal", h.runDelayNs, g.total.stealNs, true);
    out += line("halted / guest idle", h.haltWaitNs, g.total.idleNs, true);
    out += line("  halt polling", h.haltPollNs, {}, false);
    if (guestShown) {
        out += row("guest ticks counted", "", "", duration(g.total.cpuTimeNs), "");
        if (g.uptimeNs) out += row("guest uptime advanced", "", "", duration(*g.uptimeNs), "");
        if (g.note) out += "note: " + safeLine(*g.note) + "\n";
    } else {
        out += "guest view unavailable: " + safeLine(*g.unavailable) + "\n";
    }
    const Comparison& c = r.comparison;
    if (c.stealMinusRunDelayPoints)
        out += format("guest steal - host wait: %+.1f points", *c.stealMinusRunDelayPoints) +
               (*c.stealAgrees ? " (agree" : " (disagree") +
               format("; tolerance %.1f)", c.agreementPoints) + "\n";
    if (c.busyMinusGuestModePoints)
        out += format("guest busy - host guest mode: %+.1f points", *c.busyMinusGuestModePoints) +
               " (the guest also counts its exits' handling as busy)\n";

    std::string devices;
    for (std::size_t i = 0; i < h.devices.size() && i < kDevicesShown; ++i) {
        const auto& d = h.devices[i];
        if (i) devices += "; ";
        devices += escapedText(d.name, 32) + (d.bus.empty() ? "" : " (" + escapedText(d.bus, 8) + ")") +
                   " " + duration(d.ns) + ", " + plural(d.count, "exit", "exits");
    }
    if (!devices.empty()) out += "devices: " + devices + "\n";
    if (auto rate = exitsPerSecond(h, r.intervalNs)) {
        std::vector<std::pair<uint64_t, std::string>> causes;
        for (const auto& [cause, count] : *h.kvmExits)
            if (cause != "exits" && count > 0) causes.emplace_back(count, cause);
        std::sort(causes.rbegin(), causes.rend());
        std::string byCause;
        for (std::size_t i = 0; i < causes.size() && i < 6; ++i)
            byCause += (i ? ", " : "") + escapedText(causes[i].second, 32) + " " +
                       format("%.0f", perSecond(causes[i].first, r.intervalNs));
        out +=
            format("exits/s: %.0f", *rate) + (byCause.empty() ? "" : " (" + byCause + ")") + "\n";
    } else {
        out += "exits/s: n/a (KVM has no exit counters on this host)\n";
    }

    const ResourceView& res = r.resources;
    if (res.present) {
        std::vector<std::string> parts;
        if (res.memoryCurrentBytes)
            parts.push_back("memory.current " + bytes(*res.memoryCurrentBytes));
        if (res.memoryMaxHits)
            parts.push_back("memory.max hits " + std::to_string(*res.memoryMaxHits));
        if (res.memoryHighHits)
            parts.push_back("memory.high hits " + std::to_string(*res.memoryHighHits));
        if (res.oomKills) parts.push_back("OOM kills " + std::to_string(*res.oomKills));
        if (res.cgroupCpuNs) parts.push_back("cgroup CPU " + duration(*res.cgroupCpuNs));
        if (res.throttledPeriods || res.throttledNs)
            parts.push_back("throttled " +
                            (res.throttledPeriods
                                 ? plural(*res.throttledPeriods, "period", "periods")
                                 : std::string("n/a")) +
                            ", " + optionalDuration(res.throttledNs));
        if (res.balloonTargetBytes || res.balloonActualBytes)
            parts.push_back("balloon target " +
                            (res.balloonTargetBytes ? bytes(*res.balloonTargetBytes) : "n/a") +
                            ", actual " +
                            (res.balloonActualBytes ? bytes(*res.balloonActualBytes) : "n/a"));
        if (res.limits.is_object() && !res.limits.empty()) {
            std::string limits;
            for (const auto& [key, value] : res.limits.items())
                limits += (limits.empty() ? "" : ", ") + key + "=" +
                          (value.is_string() ? value.get<std::string>() : value.dump());
            parts.push_back("limits " + limits);
        }
        std::string joined;
        for (const auto& p : parts) joined += (joined.empty() ? "" : "; ") + p;
        out += "resources: " + safeLine(joined.empty() ? "none reported" : joined) + "\n";
    }

    if (r.vcpus.size() > 1) {
        out += "\n";
        char buffer[160];
        std::snprintf(buffer, sizeof buffer, "%-6s %7s %7s %7s %7s %9s %14s\n", "vCPU", "run %",
                      "wait %", "dev %", "halt %", "exits/s", "guest steal %");
        out += buffer;
        for (const auto& v : r.vcpus) {
            std::optional<double> steal;
            if (guestShown) {
                if (auto it = g.cpus.find(*v.vcpu); it != g.cpus.end())
                    steal = percentOf(it->second.stealNs, it->second.wholeNs);
            }
            auto rate = exitsPerSecond(v, r.intervalNs);
            std::snprintf(buffer, sizeof buffer, "%-6u %7s %7s %7s %7s %9s %14s\n", *v.vcpu,
                          topCell(percentOf(v.cpuNs, r.intervalNs)).c_str(),
                          topCell(percentOf(v.runDelayNs, r.intervalNs)).c_str(),
                          topCell(percentOf(v.deviceNs, r.intervalNs)).c_str(),
                          topCell(percentOf(v.haltWaitNs, r.intervalNs)).c_str(),
                          rate ? format("%.0f", *rate).c_str() : "-", topCell(steal).c_str());
            out += buffer;
        }
    }
    out += "\n" + safeLine(verdict(r)) + "\n";
    return out;
}

namespace {

constexpr const char* kTopFormat = "%-16s %5s %6s %6s %7s %6s %6s %8s %9s  %s";

std::string topLine(const std::string& name, const std::string& vcpus, const std::string& run,
                    const std::string& wait, const std::string& steal, const std::string& device,
                    const std::string& halt, const std::string& exits, const std::string& memory,
                    const std::string& flags) {
    char buffer[256];
    std::snprintf(buffer, sizeof buffer, kTopFormat, name.c_str(), vcpus.c_str(), run.c_str(),
                  wait.c_str(), steal.c_str(), device.c_str(), halt.c_str(), exits.c_str(),
                  memory.c_str(), flags.c_str());
    std::string line = buffer;
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line + "\n";
}

}  // namespace

std::string renderTopHeader() {
    return topLine("NAME", "VCPUS", "RUN%", "WAIT%", "STEAL%", "DEV%", "HALT%", "EXITS/S", "MEM",
                   "NOTES");
}

std::string renderTopRow(const IntervalReport& r) {
    const HostInterval& h = r.host;
    const uint64_t whole = r.vcpuTimeNs;
    std::string name = escapedText(r.vmName, 16);
    if (name.size() > 16) name = name.substr(0, 15) + "+";
    std::optional<double> steal;
    if (!r.guest.unavailable) steal = percentOf(r.guest.total.stealNs, r.guest.total.wholeNs);
    auto rate = exitsPerSecond(h, r.intervalNs);
    std::string memory = "-";
    if (r.resources.memoryCurrentBytes)
        memory = bytes(*r.resources.memoryCurrentBytes);
    else if (r.resources.balloonActualBytes)
        memory = bytes(*r.resources.balloonActualBytes);
    std::vector<std::string> flags;
    // Upper case: these are the ones a person scanning the list must not miss.
    for (const auto& alarm : memoryAlarms(r.resources))
        flags.push_back(alarm.find("OOM") != std::string::npos ? "OOM-KILL" : "MEMORY.MAX");
    if (r.sinceRestart) flags.push_back("restarted");
    if (r.guest.unavailable) flags.push_back("no guest view");
    if (r.comparison.stealAgrees && !*r.comparison.stealAgrees) flags.push_back("steal disagrees");
    std::string joined;
    for (const auto& f : flags) joined += (joined.empty() ? "" : ",") + f;
    return topLine(name, std::to_string(r.vcpuCount), topCell(percentOf(h.cpuNs, whole)),
                   topCell(percentOf(h.runDelayNs, whole)), topCell(steal),
                   topCell(percentOf(h.deviceNs, whole)), topCell(percentOf(h.haltWaitNs, whole)),
                   rate ? format("%.0f", *rate) : "-", memory, joined);
}

namespace {

ordered_json hostJson(const HostInterval& h, uint64_t whole, uint64_t intervalNs) {
    ordered_json j;
    if (h.vcpu) j["index"] = *h.vcpu;
    auto figure = [&](const char* name, const std::optional<uint64_t>& ns) {
        j[std::string(name) + "Ns"] = nsJson(ns);
        j[std::string(name) + "Percent"] = percentJson(percentOf(ns, whole));
    };
    figure("cpu", h.cpuNs);
    figure("guest", h.guestNs);
    figure("monitor", h.monitorNs);
    figure("device", h.deviceNs);
    figure("runDelay", h.runDelayNs);
    figure("haltWait", h.haltWaitNs);
    figure("haltPoll", h.haltPollNs);
    ordered_json devices = ordered_json::array();
    for (const auto& d : h.devices)
        devices.push_back({{"name", d.name},
                           {"bus", d.bus},
                           {"count", d.count},
                           {"ns", d.ns},
                           {"percent", percentJson(percentOf(d.ns, whole))}});
    j["devices"] = std::move(devices);
    ordered_json monitorExits = ordered_json::object();
    for (const auto& [reason, e] : h.monitorExits)
        monitorExits[reason] = {
            {"count", e.count}, {"ns", e.ns}, {"perSecond", perSecond(e.count, intervalNs)}};
    j["monitorExits"] = std::move(monitorExits);
    if (h.kvmExits) {
        ordered_json kvm = ordered_json::object();
        for (const auto& [cause, count] : *h.kvmExits)
            kvm[cause] = {{"count", count}, {"perSecond", perSecond(count, intervalNs)}};
        j["kvmExits"] = std::move(kvm);
    } else {
        j["kvmExits"] = nullptr;
    }
    return j;
}

ordered_json guestJson(const GuestInterval& g) {
    ordered_json j;
    j["cpuTimeNs"] = g.cpuTimeNs;
    j["busyNs"] = g.busyNs;
    j["busyPercent"] = percentJson(percentOf(g.busyNs, g.wholeNs));
    j["idleNs"] = g.idleNs;
    j["idlePercent"] = percentJson(percentOf(g.idleNs, g.wholeNs));
    j["stealNs"] = nsJson(g.stealNs);
    j["stealPercent"] = percentJson(percentOf(g.stealNs, g.wholeNs));
    return j;
}

ordered_json optionalCountJson(const std::optional<uint64_t>& value) {
    return value ? ordered_json(*value) : ordered_json(nullptr);
}

}  // namespace

ordered_json toJson(const IntervalReport& r) {
    ordered_json j;
    j["name"] = r.vmName;
    j["intervalNs"] = r.intervalNs;
    j["vcpuCount"] = r.vcpuCount;
    j["vcpuTimeNs"] = r.vcpuTimeNs;
    j["sinceRestart"] = r.sinceRestart;
    j["host"] = hostJson(r.host, r.vcpuTimeNs, r.intervalNs);
    ordered_json vcpus = ordered_json::array();
    for (const auto& v : r.vcpus) vcpus.push_back(hostJson(v, r.intervalNs, r.intervalNs));
    j["vcpus"] = std::move(vcpus);

    ordered_json guest;
    guest["available"] = !r.guest.unavailable;
    guest["unavailable"] = r.guest.unavailable ? ordered_json(*r.guest.unavailable) : nullptr;
    if (!r.guest.unavailable) {
        guest["note"] = r.guest.note ? ordered_json(*r.guest.note) : nullptr;
        guest["onlineCpus"] = r.guest.onlineCpus;
        guest["uptimeNs"] = nsJson(r.guest.uptimeNs);
        guest["total"] = guestJson(r.guest.total);
        ordered_json cpus = ordered_json::array();
        for (const auto& [index, g] : r.guest.cpus) {
            ordered_json cpu;
            cpu["index"] = index;
            cpu.update(guestJson(g));
            cpus.push_back(std::move(cpu));
        }
        guest["cpus"] = std::move(cpus);
    }
    j["guest"] = std::move(guest);

    const Comparison& c = r.comparison;
    auto points = [](const std::optional<double>& p) {
        return p ? ordered_json(roundedPercent(*p)) : ordered_json(nullptr);
    };
    j["comparison"] = {
        {"stealMinusRunDelayPoints", points(c.stealMinusRunDelayPoints)},
        {"agreementPoints", roundedPercent(c.agreementPoints)},
        {"stealAgrees", c.stealAgrees ? ordered_json(*c.stealAgrees) : ordered_json(nullptr)},
        {"busyMinusGuestModePoints", points(c.busyMinusGuestModePoints)},
    };

    const ResourceView& res = r.resources;
    if (res.present) {
        ordered_json resources;
        resources["cgroupCpuNs"] = nsJson(res.cgroupCpuNs);
        resources["throttledPeriods"] = optionalCountJson(res.throttledPeriods);
        resources["throttledNs"] = nsJson(res.throttledNs);
        resources["throttledPercent"] = percentJson(percentOf(res.throttledNs, r.vcpuTimeNs));
        resources["memoryCurrentBytes"] = optionalCountJson(res.memoryCurrentBytes);
        resources["memoryMaxHits"] = optionalCountJson(res.memoryMaxHits);
        resources["memoryHighHits"] = optionalCountJson(res.memoryHighHits);
        resources["oomKills"] = optionalCountJson(res.oomKills);
        resources["memoryMaxHitsSinceStart"] = optionalCountJson(res.memoryMaxHitsSinceStart);
        resources["oomKillsSinceStart"] = optionalCountJson(res.oomKillsSinceStart);
        resources["balloonTargetBytes"] = optionalCountJson(res.balloonTargetBytes);
        resources["balloonActualBytes"] = optionalCountJson(res.balloonActualBytes);
        resources["limits"] = res.limits;
        j["resources"] = std::move(resources);
    } else {
        j["resources"] = nullptr;
    }
    j["notes"] = r.notes;
    j["warnings"] = r.warnings;
    j["verdict"] = verdict(r);
    return j;
}

}  // namespace ingot::cli
