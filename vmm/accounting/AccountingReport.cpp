#include "AccountingReport.h"

#include <linux/kvm.h>

#include <algorithm>

namespace ingot::vmm {

namespace {

uint64_t since(uint64_t later, uint64_t earlier) { return later > earlier ? later - earlier : 0; }

uint64_t sinceOptional(const std::optional<uint64_t>& later, const std::optional<uint64_t>& earlier) {
    return later && earlier ? since(*later, *earlier) : 0;
}

void add(ExitFigure& into, const ExitFigure& e) {
    into.count += e.count;
    into.ns += e.ns;
}

nlohmann::ordered_json figuresJson(const VcpuFigures& f) {
    using nlohmann::ordered_json;
    ordered_json j;
    j["wallNs"] = f.wallNs;
    j["cpuNs"] = f.cpuNs;
    j["guestNs"] = f.guestNs;
    j["monitorNs"] = f.monitorNs;
    j["deviceNs"] = f.deviceNs;
    j["runDelayNs"] = f.runDelayNs;
    j["haltWaitNs"] = f.haltWaitNs;
    j["haltPollNs"] = f.haltPollNs;
    ordered_json exits = ordered_json::object();
    for (const auto& [name, e] : f.monitorExits) exits[name] = {{"count", e.count}, {"ns", e.ns}};
    j["monitorExits"] = exits;
    ordered_json devices = ordered_json::object();
    for (const auto& [name, d] : f.devices)
        devices[name] = {{"bus", d.bus}, {"count", d.exits.count}, {"ns", d.exits.ns}};
    j["devices"] = devices;
    ordered_json kvm = ordered_json::object();
    for (const auto& [name, value] : f.kvmExits) kvm[name] = value;
    j["kvmExits"] = kvm;
    return j;
}

}  // namespace

uint64_t ticksToNs(uint64_t ticks, long ticksPerSecond) {
    if (ticksPerSecond <= 0) return 0;
    const auto hz = static_cast<uint64_t>(ticksPerSecond);
    // Whole seconds and the remainder apart: ticks * 10^9 overflows after 58 years at 100 Hz,
    // but a hostile /proc (or a bug) should not wrap to a small number either.
    uint64_t seconds = ticks / hz;
    if (seconds > UINT64_MAX / 1'000'000'000ull) return UINT64_MAX;
    return seconds * 1'000'000'000ull + (ticks % hz) * 1'000'000'000ull / hz;
}

VcpuFigures vcpuFigures(unsigned index, const VcpuSample& start, const VcpuSample& now,
                        const VcpuExitCounts& counts, const std::map<std::string, uint64_t>& kvm,
                        long ticksPerSecond) {
    VcpuFigures f;
    f.index = index;
    f.wallNs = since(now.monotonicNs, start.monotonicNs);
    f.cpuNs = since(now.cpuNs, start.cpuNs);
    f.runDelayNs = sinceOptional(now.runDelayNs, start.runDelayNs);
    if (!now.runDelayNs || !start.runDelayNs) f.unavailable.insert("runDelayNs");
    // guest_time is charged a whole tick at a time to whatever the thread was doing when the
    // tick came, so it can run ahead of the thread's exact CPU time; guest mode is CPU time,
    // hence the cap.
    f.guestNs = std::min(ticksToNs(sinceOptional(now.guestTicks, start.guestTicks), ticksPerSecond),
                         f.cpuNs);
    if (!now.guestTicks || !start.guestTicks) f.unavailable.insert("guestNs");

    f.monitorExits = counts.byReason;
    for (const auto& [name, e] : counts.byReason) f.monitorNs += e.ns;
    f.devices = counts.byDevice;
    for (const auto& [name, d] : counts.byDevice) f.deviceNs += d.exits.ns;

    auto kvmValue = [&](const char* name, const char* figure) -> uint64_t {
        auto it = kvm.find(name);
        if (it != kvm.end()) return it->second;
        f.unavailable.insert(figure);
        return 0;
    };
    f.haltWaitNs = kvmValue("halt_wait_ns", "haltWaitNs");
    f.haltPollNs = kvmValue("halt_poll_success_ns", "haltPollNs") +
                   kvmValue("halt_poll_fail_ns", "haltPollNs");
    for (auto name : kvmExitCounterNames()) {
        auto it = kvm.find(std::string(name));
        if (it != kvm.end()) f.kvmExits[it->first] = it->second;
    }
    if (!f.kvmExits.count("exits")) f.unavailable.insert("kvmExits");
    return f;
}

VcpuFigures sumFigures(const std::vector<VcpuFigures>& vcpus) {
    VcpuFigures t;
    for (const auto& f : vcpus) {
        t.wallNs += f.wallNs;
        t.cpuNs += f.cpuNs;
        t.guestNs += f.guestNs;
        t.monitorNs += f.monitorNs;
        t.deviceNs += f.deviceNs;
        t.runDelayNs += f.runDelayNs;
        t.haltWaitNs += f.haltWaitNs;
        t.haltPollNs += f.haltPollNs;
        for (const auto& [name, e] : f.monitorExits) add(t.monitorExits[name], e);
        for (const auto& [name, d] : f.devices) {
            auto& into = t.devices[name];
            into.bus = d.bus;
            add(into.exits, d.exits);
        }
        for (const auto& [name, value] : f.kvmExits) t.kvmExits[name] += value;
        t.unavailable.insert(f.unavailable.begin(), f.unavailable.end());
    }
    return t;
}

nlohmann::ordered_json accountingJson(const AccountingSnapshot& s) {
    using nlohmann::ordered_json;
    ordered_json j;
    j["snapshotMonotonicNs"] = s.snapshotMonotonicNs;
    j["wallNs"] = s.wallNs;
    j["guestTimeResolutionNs"] = ticksToNs(1, s.ticksPerSecond);
    auto total = sumFigures(s.vcpus);
    j["unavailable"] = total.unavailable;
    j["total"] = figuresJson(total);
    ordered_json vcpus = ordered_json::array();
    for (const auto& f : s.vcpus) {
        ordered_json v;
        v["index"] = f.index;
        v.update(figuresJson(f));
        vcpus.push_back(std::move(v));
    }
    j["vcpus"] = std::move(vcpus);
    return j;
}

std::string exitReasonName(uint32_t reason) {
    switch (reason) {
        case KVM_EXIT_IO: return "io";
        case KVM_EXIT_MMIO: return "mmio";
        case KVM_EXIT_HLT: return "hlt";
        case KVM_EXIT_INTR: return "intr";
        case KVM_EXIT_SHUTDOWN: return "shutdown";
        case KVM_EXIT_SYSTEM_EVENT: return "system-event";
        case KVM_EXIT_FAIL_ENTRY: return "fail-entry";
        case KVM_EXIT_INTERNAL_ERROR: return "internal-error";
        default: return "reason-" + std::to_string(reason);
    }
}

const std::vector<std::string_view>& kvmExitCounterNames() {
    static const std::vector<std::string_view> names = {
        "exits", "io_exits", "mmio_exits", "halt_exits", "irq_exits", "irq_window_exits",
        "nmi_window_exits", "signal_exits", "request_irq_exits", "notify_window_exits",
        "hypercalls", "l1d_flush", "insn_emulation", "insn_emulation_fail"};
    return names;
}

}  // namespace ingot::vmm
