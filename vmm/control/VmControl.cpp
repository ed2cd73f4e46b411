#include "control/VmControl.h"

#include <chrono>
#include <thread>

#include "ingot/core/Error.h"
#include "ingot/core/Size.h"

namespace ingot::vmm {
namespace {

// The agent's answer is awaited this long: a guest that is alive answers in milliseconds
// even on a loaded host; one that is not must not hold `ingot stats` for long.
constexpr auto kAgentDeadline = std::chrono::seconds(3);

std::string stringField(const nlohmann::json& request, const char* key) {
    const auto& v = request.at(key);
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
    throw Error(std::string("\"") + key + "\" must be a string such as the command line takes");
}

// The agent's "stat" answer (docs/agent.md): "uptime UP IDLE", "clk_tck N", then /proc/stat.
// The guest wrote it, so it is passed on as text for `ingot stats` to parse (and refuse);
// only the framing is taken apart here.
nlohmann::json parseAgentStat(const std::string& payload) {
    nlohmann::json view = nlohmann::json::object();
    size_t at = 0;
    for (int header = 0; header < 2; ++header) {
        size_t end = payload.find('\n', at);
        if (end == std::string::npos) break;
        std::string_view line(payload.data() + at, end - at);
        if (line.rfind("uptime ", 0) == 0)
            view["uptime"] = std::string(line.substr(7));
        else if (line.rfind("clk_tck ", 0) == 0)
            view["clkTck"] = std::string(line.substr(8));
        else
            break;
        at = end + 1;
    }
    if (!view.contains("uptime") || !view.contains("clkTck"))
        return {{"error", "the agent's stat answer lacks its uptime and clk_tck lines"}};
    view["procStat"] = payload.substr(at);
    return view;
}

}  // namespace

nlohmann::json VmControl::handle(const nlohmann::json& request) {
    const auto op = request.find("op");
    if (op == request.end() || !op->is_string())
        throw Error("a request names its \"op\": \"stats\" or \"update\"");
    if (*op == "stats") return stats();
    if (*op == "update") return update(request);
    throw Error("unknown op " + op->dump() + ": \"stats\" or \"update\"");
}

void VmControl::pinVcpus() {
    if (!cgroup_) return;
    // The threads publish their ids as they start: wait for all (they start in microseconds).
    std::vector<pid_t> tids;
    for (int tries = 0; tries < 2000; ++tries) {
        tids = vm_.vcpuThreadIds();
        bool all = true;
        for (pid_t t : tids) all = all && t != 0;
        if (all) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::lock_guard lock(mutex_);
    cgroup_->pinVcpus(tids);
}

nlohmann::json VmControl::stats() {
    // The guest first: its answer is the slower part, and the accounting read right after it
    // is then the closer of the two to the moment the guest read its /proc/stat.
    nlohmann::json answer;
    answer["guest"] = guestView();
    nlohmann::ordered_json doc = vm_.accountingDocument();
    answer["stopReason"] = doc["stopReason"];
    answer["cpus"] = doc["cpus"];
    answer["memoryBytes"] = doc["memoryBytes"];
    answer["accounting"] = doc["accounting"];
    answer["resources"] = resources();
    return answer;
}

nlohmann::json VmControl::guestView() {
    virtio::VirtioConsole* agent = vm_.agent();
    if (!agent) return {{"error", "no agent channel: the monitor runs without --agent"}};
    std::string error;
    auto reply = agent->ask("stat", std::chrono::steady_clock::now() + kAgentDeadline, error);
    if (!reply) return {{"error", error}};
    return parseAgentStat(*reply);
}

nlohmann::json VmControl::resources() {
    nlohmann::json r = nlohmann::json::object();
    if (cgroup_) {
        r["cgroup"] = toJson(cgroup_->stats());
        r["cgroup"]["path"] = cgroup_->path();
        r["limits"] = toJson(cgroup_->limits());
    }
    if (virtio::VirtioBalloon* balloon = vm_.balloon())
        r["balloon"] = {{"targetBytes", balloon->targetBytes()},
                        {"actualBytes", balloon->actualBytes()},
                        {"discardedBytes", balloon->discardedBytes()}};
    return r;
}

nlohmann::json VmControl::update(const nlohmann::json& request) {
    static const std::pair<const char*, std::string_view> kFields[] = {
        {"cpuMax", kCpuMaxFlag},         {"cpuWeight", kCpuWeightFlag},
        {"cpusOn", kCpusOnFlag},         {"memoryHigh", kMemoryHighFlag},
        {"memoryMax", kMemoryMaxFlag}};
    ResourceLimits update;
    for (const auto& [key, flag] : kFields)
        if (request.contains(key)) setLimitFromFlag(update, flag, stringField(request, key));
    std::optional<uint64_t> balloonBytes;
    if (request.contains("balloon")) balloonBytes = parseSize(stringField(request, "balloon"));
    for (const auto& [key, value] : request.items())
        if (key != "op" && key != "force" && key != "balloon" &&
            std::none_of(std::begin(kFields), std::end(kFields),
                         [&](const auto& f) { return key == f.first; }))
            throw Error("unknown field \"" + key +
                        "\": cpuMax, cpuWeight, cpusOn, memoryHigh, memoryMax, balloon");
    if (balloonBytes && !vm_.balloon())
        throw Error("this VM has no balloon (the monitor runs without --balloon)");

    nlohmann::json answer;
    std::vector<std::string> warnings;
    if (!update.empty()) {
        if (!cgroup_)
            throw Error("this VM runs without a cgroup (the host's cgroup v2 was not usable when "
                        "it started), so " + flagsOf(update) + " cannot be changed");
        const bool force = request.value("force", false);
        std::lock_guard lock(mutex_);
        // A memory.max below what the VM holds makes the kernel reclaim what it can and then
        // OOM-kill the monitor, the guest with it: say so instead, unless forced.
        if (update.memoryMax && *update.memoryMax != kUnlimited && !force) {
            const CgroupStats now = cgroup_->stats();
            if (now.memoryCurrentBytes && *now.memoryCurrentBytes > *update.memoryMax)
                throw Error("memory.max " + formatSize(*update.memoryMax) +
                            " is below what the VM holds now (" +
                            formatSize(*now.memoryCurrentBytes) +
                            "): the kernel would reclaim what it can and then OOM-kill the VM. "
                            "Take memory back with the balloon first, squeeze it with "
                            "memory.high, or force it");
        }
        for (std::string& w : cgroup_->apply(update)) warnings.push_back(std::move(w));
        for (std::string& w : limitWarnings(update, vm_.config().cpus, vm_.config().memoryBytes))
            warnings.push_back(std::move(w));
    }
    if (balloonBytes) vm_.balloon()->setTarget(*balloonBytes);
    answer["warnings"] = warnings;
    nlohmann::json inForce = nlohmann::json::object();
    if (cgroup_) {
        // Named: a range-for over items() of a temporary would outlive it.
        const nlohmann::ordered_json limits = toJson(cgroup_->limits());
        for (const auto& [key, value] : limits.items()) inForce[key] = value;
    }
    if (virtio::VirtioBalloon* balloon = vm_.balloon())
        inForce["balloonTargetBytes"] = balloon->targetBytes();
    answer["inForce"] = inForce;
    return answer;
}

}  // namespace ingot::vmm
