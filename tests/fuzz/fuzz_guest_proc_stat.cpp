// The guest's /proc/stat and /proc/uptime as the agent hands them over: the input is the text,
// given to both parsers. Refusing it with ingot::Error is fine; any other exception escaping
// is a bug (libFuzzer reports it as a crash). What must hold: a refusal's message is safe for a
// terminal (the guest's bytes in it are escaped), and what parses stays within the limits the
// parser promises: at most kMaxGuestCpus CPUs, each with at least the four columns every kernel
// prints and no gaps after them, and uptimes in whole centiseconds.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "FuzzCheck.h"
#include "GuestProcStat.h"
#include "ingot/core/Error.h"

using namespace ingot::cli;

namespace {

bool printable(std::string_view text) {
    for (char c : text)
        if (c < 0x20 || c >= 0x7f) return false;
    return true;
}

void checkTicks(const CpuTicks& ticks) {
    size_t present = 0;
    while (present < kCpuColumnCount && ticks.columns[present]) ++present;
    FUZZ_CHECK(present >= kMinCpuColumns);
    for (size_t i = present; i < kCpuColumnCount; ++i) FUZZ_CHECK(!ticks.columns[i]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    try {
        const GuestProcStat stat = parseGuestProcStat(text);
        checkTicks(stat.total);
        FUZZ_CHECK(stat.cpus.size() <= kMaxGuestCpus);
        for (const auto& [index, ticks] : stat.cpus) {
            FUZZ_CHECK(index < kMaxGuestCpus);
            checkTicks(ticks);
        }
        FUZZ_CHECK(size <= kMaxProcStatBytes);
    } catch (const ingot::Error& e) {
        FUZZ_CHECK(printable(e.what()));
    }

    try {
        const GuestUptime uptime = parseGuestUptime(text);
        FUZZ_CHECK(size <= kMaxUptimeBytes);
        FUZZ_CHECK(uptime.uptimeNs % 10'000'000 == 0 && uptime.idleNs % 10'000'000 == 0);
    } catch (const ingot::Error& e) {
        FUZZ_CHECK(printable(e.what()));
    }

    // The escaping every message above relies on.
    const size_t maxBytes = size == 0 ? 0 : data[0];
    const std::string escaped = escapedText(text, maxBytes);
    FUZZ_CHECK(printable(escaped));
    FUZZ_CHECK(escaped.size() <= 4 * std::min(size, maxBytes) + 3);
    return 0;
}
