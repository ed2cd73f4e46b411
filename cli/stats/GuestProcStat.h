#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace ingot::cli {

// A guest's own account of its CPUs: its /proc/stat and /proc/uptime, read through the agent
// channel. The guest writes this text, so it is parsed as hostile input: bounded in size, lines
// and CPUs, every number checked, and anything unexpected refused with the line it was on.

// /proc/stat's CPU columns are in USER_HZ, which Linux fixes at 100 for user space whatever
// the kernel's own HZ.
inline constexpr uint64_t kGuestUserHz = 100;

// Far beyond a real guest (4096 CPUs and their interrupt counters) but small enough that a
// hostile text costs little to refuse.
inline constexpr std::size_t kMaxProcStatBytes = 4u << 20;
inline constexpr unsigned kMaxGuestCpus = 4096;
inline constexpr std::size_t kMaxProcStatLines = kMaxGuestCpus + 64;
inline constexpr std::size_t kMaxUptimeBytes = 256;

// The columns of a cpu line, in the kernel's order. guest and guestNice are already included in
// user and nice.
enum class CpuColumn : std::size_t {
    kUser,
    kNice,
    kSystem,
    kIdle,
    kIowait,
    kIrq,
    kSoftirq,
    kSteal,
    kGuest,
    kGuestNice,
};
inline constexpr std::size_t kCpuColumnCount = 10;
// Linux 2.4 printed the first four; every later column came with a later kernel.
inline constexpr std::size_t kMinCpuColumns = 4;
// A future kernel may append a column; more than this many is not /proc/stat.
inline constexpr std::size_t kMaxCpuColumns = 16;

std::string_view cpuColumnName(CpuColumn column);

// One cpu line, in USER_HZ ticks since the guest booted. A column the guest's kernel does not
// print is nullopt: unavailable, which is not the same as zero.
struct CpuTicks {
    std::array<std::optional<uint64_t>, kCpuColumnCount> columns;

    std::optional<uint64_t> operator[](CpuColumn column) const {
        return columns[static_cast<std::size_t>(column)];
    }
};

struct GuestProcStat {
    CpuTicks total;                     // the aggregate "cpu" line
    std::map<unsigned, CpuTicks> cpus;  // "cpuN" by N; an offline CPU has no line
};

// Throws ingot::Error saying what is wrong and on which line (1-based).
GuestProcStat parseGuestProcStat(std::string_view text);

// /proc/uptime: seconds since boot and idle seconds summed over CPUs, both with two decimals.
struct GuestUptime {
    uint64_t uptimeNs = 0;
    uint64_t idleNs = 0;
};

// Throws ingot::Error when the text is not "SECONDS.FF SECONDS.FF".
GuestUptime parseGuestUptime(std::string_view text);

// `text` safe to show on a terminal or in a message: printable ASCII kept, every other byte as
// \xNN, cut at `maxBytes` of the input with "..." appended. Guest and sample strings go through
// this before they are printed.
std::string escapedText(std::string_view text, std::size_t maxBytes = 80);

}  // namespace ingot::cli
