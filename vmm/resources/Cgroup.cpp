#include "resources/Cgroup.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "ingot/core/Error.h"
#include "kvm/FileDescriptor.h"

namespace ingot::vmm {

static_assert(kMaxHostCpus <= CPU_SETSIZE, "a CPU list must fit one cpu_set_t");

namespace {

// Digits only, at least one, fitting 64 bits.
std::optional<uint64_t> parseDecimal(std::string_view s) {
    uint64_t v = 0;
    if (s.empty() || s.front() < '0' || s.front() > '9') return std::nullopt;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

// A cgroup file, whole. Nothing when it is missing, not a regular file (a FIFO planted in a
// test tree would block the reader) or longer than any cgroup file the kernel writes.
std::optional<std::string> readSmall(const std::string& path) {
    FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    struct stat st{};
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    std::string text;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return std::nullopt;
        if (n == 0) return text;
        text.append(buf, static_cast<size_t>(n));
        if (text.size() > 65536) return std::nullopt;
    }
}

std::vector<std::string> words(std::string_view text) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        size_t start = i;
        while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        if (i > start) out.emplace_back(text.substr(start, i - start));
    }
    return out;
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : " ") + item;
    return out;
}

bool has(const std::vector<std::string>& items, const std::string& item) {
    return std::find(items.begin(), items.end(), item) != items.end();
}

// "key value" lines (cpu.stat, memory.events). A key given twice or with a value that is not a
// number has no figure: there is no telling which one is right.
std::optional<uint64_t> keyedValue(std::string_view text, std::string_view key) {
    std::optional<uint64_t> value;
    bool seen = false;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view line = text.substr(start, end - start);
        start = end + 1;
        const size_t space = line.find(' ');
        if (space == std::string_view::npos || line.substr(0, space) != key) continue;
        if (seen) return std::nullopt;
        seen = true;
        value = parseDecimal(line.substr(space + 1));
    }
    return value;
}

// A file holding one number and a newline (memory.current, memory.peak).
std::optional<uint64_t> singleValue(const std::string& path) {
    auto text = readSmall(path);
    if (!text) return std::nullopt;
    std::string_view v(*text);
    if (!v.empty() && v.back() == '\n') v.remove_suffix(1);
    return parseDecimal(v);
}

// Why `root` is not a cgroup2 mount, or nothing when it is.
std::optional<std::string> notCgroup2(const std::string& root) {
    struct statfs fs{};
    if (::statfs(root.c_str(), &fs) != 0) return std::string(std::strerror(errno));
    switch (static_cast<unsigned long>(fs.f_type)) {
        case CGROUP2_SUPER_MAGIC:
            return std::nullopt;
        case TMPFS_MAGIC:
            return "it is a tmpfs: the host has cgroup v1 or the hybrid layout; booting with "
                   "systemd.unified_cgroup_hierarchy=1 gives cgroup v2";
        case CGROUP_SUPER_MAGIC:
            return "it is cgroup v1";
        default: {
            char hex[32];
            std::snprintf(hex, sizeof hex, "%lx", static_cast<unsigned long>(fs.f_type));
            return std::string("its filesystem type is 0x") + hex;
        }
    }
}

void checkName(const std::string& name) {
    bool bad = name.empty() || name.size() > 200 || name == "." ||
               name.find('/') != std::string::npos || name.find("..") != std::string::npos;
    for (char c : name)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) bad = true;
    if (bad)
        throw Error("VM name '" + name +
                        "' cannot name a cgroup (1 to 200 characters, no '/', '..' or control "
                        "characters)",
                    ExitStatus::kUsage);
}

std::string controllerOf(const std::string& file) { return file.substr(0, file.find('.')); }

// The fields of `limits` that set a limit (not "max" or "any", which only remove one) and so
// need their controller.
ResourceLimits settingFields(const ResourceLimits& limits) {
    ResourceLimits out;
    if (limits.cpuMax && limits.cpuMax->quotaUs != kUnlimited) out.cpuMax = limits.cpuMax;
    out.cpuWeight = limits.cpuWeight;
    if (limits.cpus && !limits.cpus->empty()) out.cpus = limits.cpus;
    if (limits.memoryHigh && *limits.memoryHigh != kUnlimited) out.memoryHigh = limits.memoryHigh;
    if (limits.memoryMax && *limits.memoryMax != kUnlimited) out.memoryMax = limits.memoryMax;
    return out;
}

// The fields of `limits` that need `controller`.
ResourceLimits fieldsOf(const ResourceLimits& limits, const std::string& controller) {
    ResourceLimits out;
    if (controller == "cpu") {
        out.cpuMax = limits.cpuMax;
        out.cpuWeight = limits.cpuWeight;
    } else if (controller == "cpuset") {
        out.cpus = limits.cpus;
    } else if (controller == "memory") {
        out.memoryHigh = limits.memoryHigh;
        out.memoryMax = limits.memoryMax;
    }
    return out;
}

// Copies into `to` the field of `from` that cgroup file `file` holds.
void copyField(ResourceLimits& to, const ResourceLimits& from, const std::string& file) {
    if (file == "cpu.max") to.cpuMax = from.cpuMax;
    if (file == "cpu.weight") to.cpuWeight = from.cpuWeight;
    if (file == "cpuset.cpus") to.cpus = from.cpus;
    if (file == "memory.high") to.memoryHigh = from.memoryHigh;
    if (file == "memory.max") to.memoryMax = from.memoryMax;
}

// Said when dedicated CPUs lose their cpuset, because the pins stay.
const char* kPinNote =
    " (the vCPU threads are still pinned to their CPUs; the monitor's other threads are not "
    "confined to them)";

// What the kernel's errno means for the file written, where it is not obvious.
std::string hint(const std::string& file, int err) {
    if (err == EACCES || err == EPERM)
        return " (this user may not change it: cgroups need root or a subtree delegated to the "
               "user)";
    if (file == "cgroup.subtree_control" && err == EBUSY)
        return " (the cgroup holds processes, and cgroup v2 lets only a cgroup without "
               "processes give controllers to its children)";
    if (file == "cpuset.cpus" && err == EINVAL)
        return " (a CPU that is offline or outside the parent cgroup's CPUs)";
    if (file == "cpuset.cpus" && err == EBUSY)
        return " (the CPUs belong to an exclusive cpuset or a partition)";
    if (err == ENOENT && file.find('.') != std::string::npos && !file.starts_with("cgroup."))
        return " (its controller is not enabled for this cgroup)";
    return "";
}

}  // namespace

CgroupStats readCgroupStats(const std::string& dir) {
    CgroupStats s;
    if (auto text = readSmall(dir + "/cpu.stat")) {
        s.cpuUsageUs = keyedValue(*text, "usage_usec");
        s.cpuUserUs = keyedValue(*text, "user_usec");
        s.cpuSystemUs = keyedValue(*text, "system_usec");
        s.cpuPeriods = keyedValue(*text, "nr_periods");
        s.cpuThrottledPeriods = keyedValue(*text, "nr_throttled");
        s.cpuThrottledUs = keyedValue(*text, "throttled_usec");
    }
    s.memoryCurrentBytes = singleValue(dir + "/memory.current");
    s.memoryPeakBytes = singleValue(dir + "/memory.peak");
    if (auto text = readSmall(dir + "/memory.events")) {
        s.memoryLowEvents = keyedValue(*text, "low");
        s.memoryHighEvents = keyedValue(*text, "high");
        s.memoryMaxEvents = keyedValue(*text, "max");
        s.memoryOomEvents = keyedValue(*text, "oom");
        s.memoryOomKillEvents = keyedValue(*text, "oom_kill");
    }
    std::vector<std::pair<std::string, std::string>> files;
    for (const char* file : {"cpu.max", "cpu.weight", "cpuset.cpus", "memory.high", "memory.max"})
        if (auto text = readSmall(dir + "/" + file)) files.emplace_back(file, *text);
    s.limits = limitsFromCgroupValues(files);
    return s;
}

nlohmann::ordered_json toJson(const CgroupStats& s) {
    using nlohmann::ordered_json;
    auto put = [](ordered_json& to, const char* key, const std::optional<uint64_t>& v) {
        if (v) to[key] = *v;
    };
    ordered_json cpu = ordered_json::object();
    put(cpu, "usageUs", s.cpuUsageUs);
    put(cpu, "userUs", s.cpuUserUs);
    put(cpu, "systemUs", s.cpuSystemUs);
    put(cpu, "periods", s.cpuPeriods);
    put(cpu, "throttledPeriods", s.cpuThrottledPeriods);
    put(cpu, "throttledUs", s.cpuThrottledUs);
    ordered_json events = ordered_json::object();
    put(events, "low", s.memoryLowEvents);
    put(events, "high", s.memoryHighEvents);
    put(events, "max", s.memoryMaxEvents);
    put(events, "oom", s.memoryOomEvents);
    put(events, "oomKill", s.memoryOomKillEvents);
    ordered_json memory = ordered_json::object();
    put(memory, "currentBytes", s.memoryCurrentBytes);
    put(memory, "peakBytes", s.memoryPeakBytes);
    memory["events"] = std::move(events);
    ordered_json doc;
    doc["cpu"] = std::move(cpu);
    doc["memory"] = std::move(memory);
    doc["limits"] = toJson(s.limits);
    return doc;
}

void pinThreads(const std::vector<pid_t>& tids, const std::vector<unsigned>& cpus) {
    for (size_t i = 0; i < tids.size(); ++i) {
        cpu_set_t set;
        CPU_ZERO(&set);
        std::string what;
        if (cpus.empty()) {
            for (unsigned cpu = 0; cpu < CPU_SETSIZE; ++cpu) CPU_SET(cpu, &set);
            what = "cannot unpin thread " + std::to_string(tids[i]);
        } else {
            const unsigned cpu = cpus[i % cpus.size()];
            what = "cannot pin thread " + std::to_string(tids[i]) + " to host CPU " +
                   std::to_string(cpu);
            if (cpu >= CPU_SETSIZE) throw Error(what + ": beyond CPU_SETSIZE", ExitStatus::kUsage);
            CPU_SET(cpu, &set);
        }
        if (::sched_setaffinity(tids[i], sizeof set, &set) != 0) {
            const int err = errno;
            throwSystemError(what + (err == EINVAL ? " (offline, or outside the CPUs this "
                                                     "process's cpuset allows)"
                                                   : ""),
                             err, err == EINVAL ? ExitStatus::kUsage : ExitStatus::kInternal);
        }
    }
}

VmCgroup::VmCgroup(const std::string& vmName, const ResourceLimits& limits, bool allowMissing,
                   CgroupPlace place)
    : place_(std::move(place)), allowMissing_(allowMissing) {
    checkName(vmName);
    levels_.push_back(place_.root);
    for (size_t start = 0; !place_.parent.empty() && start <= place_.parent.size();) {
        size_t slash = place_.parent.find('/', start);
        if (slash == std::string::npos) slash = place_.parent.size();
        const std::string name = place_.parent.substr(start, slash - start);
        if (name.empty() || name == "." || name == "..")
            throw Error("parent cgroup '" + place_.parent +
                            "' must be a path below the cgroup root without '.', '..' or empty "
                            "parts",
                        ExitStatus::kUsage);
        levels_.push_back(levels_.back() + "/" + name);
        start = slash + 1;
    }

    if (!place_.testTree) {
        if (auto why = notCgroup2(place_.root)) {
            const std::string problem = "the host has no cgroup v2 at " + place_.root + " (" +
                                        *why + ")";
            const std::string flags = flagsOf(settingFields(limits));
            if (!allowMissing)
                throw Error(flags.empty() ? problem
                                          : problem + "; " + flags + " cannot be applied. Pass " +
                                                std::string(kAllowMissingControllersFlag) +
                                                " to run without them",
                            ExitStatus::kUsage);
            warnings_.push_back(flags.empty() ? problem
                                              : problem + "; running without " + flags +
                                                    (limits.cpus && !limits.cpus->empty()
                                                         ? kPinNote
                                                         : ""));
            requested_ = limits;
            return;
        }
    }

    for (size_t i = 1; i < levels_.size(); ++i)
        if (::mkdir(levels_[i].c_str(), 0755) != 0 && errno != EEXIST)
            throwSystemError("cannot create cgroup " + levels_[i] + hint("", errno), errno,
                             ExitStatus::kUsage);

    const std::string path = levels_.back() + "/" + vmName;
    struct stat st{};
    if (::lstat(path.c_str(), &st) == 0) {
        // A monitor that was killed leaves its cgroup behind, empty; one still running does not.
        if (!S_ISDIR(st.st_mode))
            throw Error(path + " exists and is not a cgroup", ExitStatus::kUsage);
        auto pids = words(readSmall(path + "/cgroup.procs").value_or(""));
        if (!pids.empty())
            throw Error("the cgroup " + path + " already holds processes (" + join(pids) +
                            "): is VM '" + vmName + "' running?",
                        ExitStatus::kUsage);
        if (!removeDirectory(path))
            throwSystemError("cannot remove the cgroup " + path +
                                 " left behind by an earlier monitor of VM '" + vmName + "'",
                             errno, ExitStatus::kUsage);
    }
    if (::mkdir(path.c_str(), 0755) != 0)
        throwSystemError("cannot create cgroup " + path + hint("", errno), errno,
                         ExitStatus::kUsage);
    path_ = path;
    try {
        warnings_ = apply(limits);
    } catch (...) {
        removeDirectory(path_);
        throw;
    }
}

VmCgroup::~VmCgroup() { remove(); }

std::optional<std::string> VmCgroup::writeFile(const std::string& path,
                                               const std::string& value) const {
    const int flags = O_WRONLY | O_CLOEXEC | (place_.testTree ? O_CREAT | O_TRUNC : 0);
    FileDescriptor fd(::open(path.c_str(), flags, 0644));
    // One write per value: cgroupfs parses each write() on its own.
    const std::string line = value + "\n";
    int err = 0;
    if (!fd.valid()) {
        err = errno;
    } else {
        ssize_t n;
        do n = ::write(fd.get(), line.data(), line.size());
        while (n < 0 && errno == EINTR);
        if (n < 0) err = errno;
        else if (static_cast<size_t>(n) != line.size()) err = EIO;
    }
    if (err == 0) return std::nullopt;
    const std::string file = std::filesystem::path(path).filename().string();
    return "cannot write '" + value + "' to " + path + ": " + std::strerror(err) + hint(file, err);
}

void VmCgroup::writeLimit(const std::string& file, const std::string& value) const {
    if (auto error = writeFile(path_ + "/" + file, value)) throw Error(*error, ExitStatus::kUsage);
}

std::vector<std::pair<std::string, std::string>> VmCgroup::enableControllers(
    const std::set<std::string>& needed) {
    std::vector<std::pair<std::string, std::string>> missing;
    std::set<std::string> wanted;
    for (const auto& c : needed)
        if (!enabled_.count(c)) wanted.insert(c);
    for (const auto& level : levels_) {
        if (wanted.empty()) break;
        const auto subtree = words(readSmall(level + "/cgroup.subtree_control").value_or(""));
        std::optional<std::vector<std::string>> offered;
        std::vector<std::string> toEnable;
        for (auto it = wanted.begin(); it != wanted.end();) {
            const std::string& c = *it;
            if (has(subtree, c)) {
                ++it;
                continue;
            }
            if (!offered) offered = words(readSmall(level + "/cgroup.controllers").value_or(""));
            if (!has(*offered, c)) {
                missing.emplace_back(c, "the host has no cgroup v2 '" + c + "' controller at " +
                                            level + " (cgroup.controllers: " + join(*offered) +
                                            ")");
                it = wanted.erase(it);
                continue;
            }
            toEnable.push_back(c);
            ++it;
        }
        if (toEnable.empty()) continue;
        std::string problem;
        if (level != place_.root) {
            const auto pids = words(readSmall(level + "/cgroup.procs").value_or(""));
            if (!pids.empty())
                problem = "it holds processes (" + join(pids) +
                          "), and cgroup v2 lets only a cgroup without processes give controllers "
                          "to its children; give a parent cgroup without processes";
        }
        if (problem.empty()) {
            std::string value;
            for (const auto& c : toEnable) value += (value.empty() ? "+" : " +") + c;
            if (auto error = writeFile(level + "/cgroup.subtree_control", value)) problem = *error;
        }
        if (problem.empty()) continue;
        for (const auto& c : toEnable) {
            missing.emplace_back(c, "cannot enable the cgroup v2 '" + c + "' controller at " +
                                        level + ": " + problem);
            wanted.erase(c);
        }
    }
    enabled_.insert(wanted.begin(), wanted.end());
    return missing;
}

void VmCgroup::checkCpusAvailable(const std::vector<unsigned>& cpus) const {
    // In cgroup v2 a CPU outside the parent's is not refused but silently dropped from the
    // effective set, so it is checked here.
    const std::string file = levels_.back() + "/cpuset.cpus.effective";
    auto text = readSmall(file);
    if (!text) return;
    std::string value(*text);
    if (!value.empty() && value.back() == '\n') value.pop_back();
    std::vector<unsigned> available;
    try {
        available = parseCpuList(value);
    } catch (const Error&) {
        return;  // not a list: the kernel's own check has to do
    }
    for (unsigned cpu : cpus)
        if (std::find(available.begin(), available.end(), cpu) == available.end())
            throw Error(std::string(kCpusOnFlag) + " " + formatCpuList(cpus) + ": host CPU " +
                            std::to_string(cpu) + " is not available in " + levels_.back() +
                            " (cpuset.cpus.effective: " + value +
                            "; offline CPUs are not listed)",
                        ExitStatus::kUsage);
}

std::vector<std::string> VmCgroup::apply(const ResourceLimits& update) {
    std::vector<std::string> warnings;
    const ResourceLimits setting = settingFields(update);
    if (!active()) {
        const std::string flags = flagsOf(setting);
        if (!flags.empty())
            warnings.push_back("the host has no cgroup v2 at " + place_.root +
                               "; running without " + flags +
                               (setting.cpus ? kPinNote : ""));
    } else {
        std::set<std::string> needed;
        for (const auto& [file, value] : cgroupFileValues(setting)) needed.insert(controllerOf(file));
        const auto missing = enableControllers(needed);
        std::string refusal;
        for (const auto& [controller, why] : missing) {
            const std::string flags = flagsOf(fieldsOf(setting, controller));
            if (allowMissing_) {
                warnings.push_back(why + "; running without " + flags +
                                   (controller == "cpuset" ? kPinNote : ""));
            } else {
                if (!refusal.empty()) refusal += "\n";
                refusal += why + "; " + flags + " cannot be applied. Pass " +
                           std::string(kAllowMissingControllersFlag) + " to run without " +
                           (flags.find(',') == std::string::npos ? "it" : "them");
            }
        }
        if (!refusal.empty()) throw Error(refusal, ExitStatus::kUsage);
        if (setting.cpus && enabled_.count("cpuset")) checkCpusAvailable(*setting.cpus);
        // A controller that is not enabled has nothing to remove, and a missing one was
        // skipped above.
        for (const auto& [file, value] : cgroupFileValues(update)) {
            if (!enabled_.count(controllerOf(file))) continue;
            writeLimit(file, value);
            copyField(inForce_, update, file);
        }
    }
    requested_ = merged(requested_, update);
    if (update.cpus && !vcpuTids_.empty()) pinThreads(vcpuTids_, *update.cpus);
    return warnings;
}

std::vector<std::pair<std::string, std::string>> VmCgroup::enableForFigures(
    const std::set<std::string>& controllers) {
    if (!active()) return {};
    return enableControllers(controllers);
}

void VmCgroup::enter(pid_t pid) {
    if (!active()) return;
    if (pid == ::getpid()) {
        origin_.clear();
        const std::string text = readSmall(place_.procSelfCgroup).value_or("");
        // cgroup v2's line is "0::/path"; the others belong to v1 hierarchies.
        size_t start = 0;
        while (start < text.size()) {
            size_t end = text.find('\n', start);
            if (end == std::string::npos) end = text.size();
            const std::string line = text.substr(start, end - start);
            start = end + 1;
            if (line.starts_with("0::/") && line.find(" (deleted)") == std::string::npos &&
                line.find("/..") == std::string::npos)
                origin_ = place_.root + (line == "0::/" ? "" : line.substr(3));
        }
    }
    if (auto error = writeFile(path_ + "/cgroup.procs", std::to_string(pid)))
        throw Error("cannot move process " + std::to_string(pid) + " into its VM's cgroup: " +
                        *error,
                    ExitStatus::kUsage);
}

void VmCgroup::pinVcpus(std::vector<pid_t> tids) {
    vcpuTids_ = std::move(tids);
    // No dedicated CPUs: the threads keep the affinity they were started with (a monitor
    // started under taskset stays there).
    if (requested_.cpus && !requested_.cpus->empty()) pinThreads(vcpuTids_, *requested_.cpus);
}

CgroupStats VmCgroup::stats() const {
    if (!active()) return {};
    return readCgroupStats(path_);
}

bool VmCgroup::removeDirectory(const std::string& dir) const {
    if (place_.testTree) {
        std::error_code ignored;
        for (const auto& entry : std::filesystem::directory_iterator(dir, ignored))
            if (entry.is_regular_file(ignored)) std::filesystem::remove(entry.path(), ignored);
    }
    return ::rmdir(dir.c_str()) == 0;
}

std::string VmCgroup::remove() {
    if (!active() || removed_) return "";
    removed_ = true;
    std::string problems;
    // A cgroup with a process in it cannot be removed, and the parent cannot take the monitor
    // (it gives controllers to its children): back to where the monitor came from.
    if (!origin_.empty())
        if (auto error = writeFile(origin_ + "/cgroup.procs", std::to_string(::getpid())))
            problems = "cannot move the monitor back to its cgroup: " + *error + "; ";
    if (!removeDirectory(path_))
        problems += "cannot remove cgroup " + path_ + ": " + std::strerror(errno) +
                    " (the next start of a VM of this name removes it)";
    return problems;
}

}  // namespace ingot::vmm
