#include "resources/ResourceLimits.h"

#include <algorithm>
#include <charconv>

#include "ingot/core/Error.h"
#include "ingot/core/Size.h"

namespace ingot::vmm {

namespace {

Error usage(std::string_view flag, std::string_view text, const std::string& problem) {
    return Error(std::string(flag) + " '" + std::string(text) + "': " + problem,
                 ExitStatus::kUsage);
}

// Digits only, at least one, fitting 64 bits: no sign, no spaces, no base prefix.
std::optional<uint64_t> parseDecimal(std::string_view s) {
    uint64_t v = 0;
    if (s.empty() || s.front() < '0' || s.front() > '9') return std::nullopt;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

// "1.5" as 15 with one decimal: exact, unlike a double, so "0.3" CPUs is 30000 µs and not
// 29999. The whole part is capped by the caller before it multiplies.
struct Fixed {
    uint64_t whole = 0;
    uint64_t mantissa = 0;
    uint64_t scale = 1;  // 10^decimals
};
std::optional<Fixed> parseFixed(std::string_view s) {
    const size_t dot = s.find('.');
    const std::string_view whole = s.substr(0, dot);
    const std::string_view fraction = dot == std::string_view::npos ? "" : s.substr(dot + 1);
    if (whole.empty() || whole.size() > 12 || fraction.size() > 6 ||
        (dot != std::string_view::npos && fraction.empty()))
        return std::nullopt;
    Fixed f;
    auto w = parseDecimal(whole);
    if (!w) return std::nullopt;
    f.whole = f.mantissa = *w;
    for (char c : fraction) {
        if (c < '0' || c > '9') return std::nullopt;
        f.mantissa = f.mantissa * 10 + static_cast<uint64_t>(c - '0');
        f.scale *= 10;
    }
    return f;
}

std::string trimNewline(std::string_view s) {
    if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
    return std::string(s);
}

// The list syntax shared by the flag and the kernel's cpuset files. `why` says what is wrong.
std::optional<std::vector<unsigned>> tryParseCpuList(std::string_view text, std::string* why) {
    std::vector<unsigned> cpus;
    std::vector<bool> seen(kMaxHostCpus);
    auto fail = [&](std::string problem) -> std::optional<std::vector<unsigned>> {
        if (why) *why = std::move(problem);
        return std::nullopt;
    };
    if (text.empty()) return fail("the list is empty");
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = text.find(',', start);
        if (comma == std::string_view::npos) comma = text.size();
        const std::string_view item = text.substr(start, comma - start);
        const size_t dash = item.find('-');
        auto first = parseDecimal(item.substr(0, dash));
        auto last = dash == std::string_view::npos ? first : parseDecimal(item.substr(dash + 1));
        if (!first || !last) return fail("'" + std::string(item) + "' is not a CPU number or range");
        if (*first > *last)
            return fail("the range '" + std::string(item) + "' runs backwards");
        if (*last >= kMaxHostCpus)
            return fail("CPU numbers go up to " + std::to_string(kMaxHostCpus - 1));
        for (uint64_t cpu = *first; cpu <= *last; ++cpu) {
            if (seen[cpu]) return fail("CPU " + std::to_string(cpu) + " is listed twice");
            seen[cpu] = true;
            cpus.push_back(static_cast<unsigned>(cpu));
        }
        start = comma + 1;
    }
    return cpus;
}

}  // namespace

CpuMax parseCpuMax(std::string_view text) {
    const std::string forms =
        "give a share of one CPU (50%), a number of CPUs (1.5), QUOTA/PERIOD in microseconds "
        "(50000/100000) or max";
    CpuMax m;
    if (text == "max") return m;
    const size_t separator = text.find_first_of("/ ");
    if (separator != std::string_view::npos) {
        const std::string_view quota = text.substr(0, separator);
        auto period = parseDecimal(text.substr(separator + 1));
        auto quotaUs = quota == "max" ? std::optional<uint64_t>(kUnlimited) : parseDecimal(quota);
        if (!period || !quotaUs) throw usage(kCpuMaxFlag, text, forms);
        if (*period < 1000 || *period > 1'000'000)
            throw usage(kCpuMaxFlag, text,
                        "the period must be 1000 to 1000000 µs (1 ms to 1 s; the default is "
                        "100000)");
        m.periodUs = *period;
        m.quotaUs = *quotaUs;
    } else {
        const bool percent = text.ends_with('%');
        auto f = parseFixed(percent ? text.substr(0, text.size() - 1) : text);
        if (!f) throw usage(kCpuMaxFlag, text, forms);
        const uint64_t maxWhole = percent ? uint64_t{kMaxCpuMaxCpus} * 100 : kMaxCpuMaxCpus;
        if (f->whole > maxWhole)
            throw usage(kCpuMaxFlag, text,
                        "more than " + std::to_string(kMaxCpuMaxCpus) +
                            " CPUs; write max for no cap");
        // Below the caps the products stay far inside 64 bits (8.2e11 * 1e5).
        m.quotaUs = f->mantissa * m.periodUs / (f->scale * (percent ? 100 : 1));
    }
    if (m.quotaUs != kUnlimited && m.quotaUs < 1000)
        throw usage(kCpuMaxFlag, text,
                    "that is a quota of " + std::to_string(m.quotaUs) + " µs per " +
                        std::to_string(m.periodUs) +
                        " µs; the kernel's smallest quota is 1000 µs (1% or 0.01 CPUs with the "
                        "default period)");
    if (m.quotaUs != kUnlimited && m.quotaUs > m.periodUs * kMaxCpuMaxCpus)
        throw usage(kCpuMaxFlag, text,
                    "more than " + std::to_string(kMaxCpuMaxCpus) + " CPUs; write max for no cap");
    return m;
}

uint64_t parseCpuWeight(std::string_view text) {
    auto weight = parseDecimal(text);
    if (!weight || *weight < 1 || *weight > 10000)
        throw usage(kCpuWeightFlag, text,
                    "give a whole number from 1 to 10000 (the host's default share is 100)");
    return *weight;
}

std::vector<unsigned> parseCpuList(std::string_view text) {
    if (text == "any") return {};
    std::string why;
    auto cpus = tryParseCpuList(text, &why);
    if (!cpus)
        throw usage(kCpusOnFlag, text,
                    why + " (give host CPU numbers and ranges, 2,3 or 0-3,6, or any)");
    return *cpus;
}

uint64_t parseMemoryLimit(std::string_view flag, std::string_view text) {
    if (text == "max") return kUnlimited;
    uint64_t bytes = 0;
    try {
        bytes = parseSize(text);
    } catch (const Error& e) {
        throw usage(flag, text, std::string("give a size (512M, 2G) or max: ") + e.what());
    }
    if (bytes < kMinMemoryLimit || bytes > kMaxMemoryLimit)
        throw usage(flag, text,
                    "that is " + formatSize(bytes) +
                        "; a limit must be 16 MiB to 1 PiB, or max (a size without a unit is "
                        "bytes: write 512M, not 512)");
    return bytes;
}

void setLimitFromFlag(ResourceLimits& limits, std::string_view flag, std::string_view value) {
    auto once = [&](bool given) {
        if (given)
            throw Error(std::string(flag) + " given twice", ExitStatus::kUsage);
    };
    if (flag == kCpuMaxFlag) {
        once(limits.cpuMax.has_value());
        limits.cpuMax = parseCpuMax(value);
    } else if (flag == kCpuWeightFlag) {
        once(limits.cpuWeight.has_value());
        limits.cpuWeight = parseCpuWeight(value);
    } else if (flag == kCpusOnFlag) {
        once(limits.cpus.has_value());
        limits.cpus = parseCpuList(value);
    } else if (flag == kMemoryHighFlag) {
        once(limits.memoryHigh.has_value());
        limits.memoryHigh = parseMemoryLimit(flag, value);
    } else if (flag == kMemoryMaxFlag) {
        once(limits.memoryMax.has_value());
        limits.memoryMax = parseMemoryLimit(flag, value);
    } else {
        throw Error("unknown resource limit " + std::string(flag) + " (limits: " +
                        std::string(kCpuMaxFlag) + ", " + std::string(kCpuWeightFlag) + ", " +
                        std::string(kCpusOnFlag) + ", " + std::string(kMemoryHighFlag) + ", " +
                        std::string(kMemoryMaxFlag) + ")",
                    ExitStatus::kUsage);
    }
}

ResourceLimits merged(ResourceLimits current, const ResourceLimits& update) {
    if (update.cpuMax) current.cpuMax = update.cpuMax;
    if (update.cpuWeight) current.cpuWeight = update.cpuWeight;
    if (update.cpus) current.cpus = update.cpus;
    if (update.memoryHigh) current.memoryHigh = update.memoryHigh;
    if (update.memoryMax) current.memoryMax = update.memoryMax;
    return current;
}

std::string flagsOf(const ResourceLimits& limits) {
    std::string out;
    auto add = [&](bool given, std::string_view flag) {
        if (!given) return;
        if (!out.empty()) out += ", ";
        out += flag;
    };
    add(limits.cpuMax.has_value(), kCpuMaxFlag);
    add(limits.cpuWeight.has_value(), kCpuWeightFlag);
    add(limits.cpus.has_value(), kCpusOnFlag);
    add(limits.memoryHigh.has_value(), kMemoryHighFlag);
    add(limits.memoryMax.has_value(), kMemoryMaxFlag);
    return out;
}

std::string formatCpuList(std::vector<unsigned> cpus) {
    std::sort(cpus.begin(), cpus.end());
    cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
    std::string out;
    for (size_t i = 0; i < cpus.size();) {
        size_t j = i;
        while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
        if (!out.empty()) out += ',';
        out += std::to_string(cpus[i]);
        if (j > i) out += '-' + std::to_string(cpus[j]);
        i = j + 1;
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> cgroupFileValues(const ResourceLimits& limits) {
    auto bytes = [](uint64_t v) { return v == kUnlimited ? std::string("max") : std::to_string(v); };
    std::vector<std::pair<std::string, std::string>> files;
    if (limits.cpuMax)
        files.emplace_back("cpu.max",
                           bytes(limits.cpuMax->quotaUs) + " " +
                               std::to_string(limits.cpuMax->periodUs));
    if (limits.cpuWeight) files.emplace_back("cpu.weight", std::to_string(*limits.cpuWeight));
    if (limits.cpus) files.emplace_back("cpuset.cpus", formatCpuList(*limits.cpus));
    // high before max: when both come down, throttling starts before the hard limit bites.
    if (limits.memoryHigh) files.emplace_back("memory.high", bytes(*limits.memoryHigh));
    if (limits.memoryMax) files.emplace_back("memory.max", bytes(*limits.memoryMax));
    return files;
}

ResourceLimits limitsFromCgroupValues(
    const std::vector<std::pair<std::string, std::string>>& files) {
    auto bytes = [](const std::string& v) -> std::optional<uint64_t> {
        return v == "max" ? std::optional<uint64_t>(kUnlimited) : parseDecimal(v);
    };
    ResourceLimits limits;
    for (const auto& [file, raw] : files) {
        const std::string value = trimNewline(raw);
        if (file == "cpu.max") {
            const size_t space = value.find(' ');
            if (space == std::string::npos) continue;
            auto quota = bytes(value.substr(0, space));
            auto period = parseDecimal(std::string_view(value).substr(space + 1));
            if (quota && period && *period > 0) limits.cpuMax = CpuMax{*quota, *period};
        } else if (file == "cpu.weight") {
            limits.cpuWeight = parseDecimal(value);
        } else if (file == "cpuset.cpus") {
            if (!value.empty()) limits.cpus = tryParseCpuList(value, nullptr);
        } else if (file == "memory.high") {
            limits.memoryHigh = bytes(value);
        } else if (file == "memory.max") {
            limits.memoryMax = bytes(value);
        }
    }
    return limits;
}

nlohmann::ordered_json toJson(const ResourceLimits& limits) {
    using nlohmann::ordered_json;
    auto bytes = [](uint64_t v) { return v == kUnlimited ? ordered_json("max") : ordered_json(v); };
    ordered_json doc = ordered_json::object();
    if (limits.cpuMax) {
        if (limits.cpuMax->quotaUs == kUnlimited)
            doc["cpuMax"] = "max";
        else
            doc["cpuMax"] = {{"quotaUs", limits.cpuMax->quotaUs},
                             {"periodUs", limits.cpuMax->periodUs}};
    }
    if (limits.cpuWeight) doc["cpuWeight"] = *limits.cpuWeight;
    if (limits.cpus) doc["cpus"] = limits.cpus->empty() ? ordered_json("any") : ordered_json(*limits.cpus);
    if (limits.memoryHigh) doc["memoryHighBytes"] = bytes(*limits.memoryHigh);
    if (limits.memoryMax) doc["memoryMaxBytes"] = bytes(*limits.memoryMax);
    return doc;
}

std::vector<std::string> limitWarnings(const ResourceLimits& limits, unsigned vcpus,
                                       uint64_t guestMemoryBytes) {
    std::vector<std::string> warnings;
    if (limits.memoryMax && *limits.memoryMax != kUnlimited && *limits.memoryMax < guestMemoryBytes)
        warnings.push_back(std::string(kMemoryMaxFlag) + " " + formatSize(*limits.memoryMax) +
                           " is less than the guest's " + formatSize(guestMemoryBytes) +
                           " of RAM: the VM is killed (out of memory) once the guest has used "
                           "that much");
    if (limits.cpus && !limits.cpus->empty() && limits.cpus->size() < vcpus)
        warnings.push_back(std::string(kCpusOnFlag) + " gives " +
                           std::to_string(limits.cpus->size()) + " host CPUs to " +
                           std::to_string(vcpus) + " vCPUs: vCPU i runs on the (i mod " +
                           std::to_string(limits.cpus->size()) + ")th CPU of the list, so " +
                           "vCPUs share CPUs");
    return warnings;
}

}  // namespace ingot::vmm
