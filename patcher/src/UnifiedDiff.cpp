#include "ingot/patcher/UnifiedDiff.h"

#include <algorithm>
#include <optional>

#include "ingot/core/Error.h"

namespace ingot::patcher {

namespace {

// Lines with their terminator; the last one may lack it.
std::vector<std::string_view> splitLines(std::string_view text) {
    std::vector<std::string_view> lines;
    size_t at = 0;
    while (at < text.size()) {
        size_t end = text.find('\n', at);
        end = end == std::string_view::npos ? text.size() : end + 1;
        lines.push_back(text.substr(at, end - at));
        at = end;
    }
    return lines;
}

std::string_view withoutNewline(std::string_view line) {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    return line;
}

std::string shown(std::string_view line) {
    line = withoutNewline(line);
    std::string out;
    for (char c : line.substr(0, 60)) {
        unsigned char u = static_cast<unsigned char>(c);
        out += (u < 0x20 && c != '\t') || u == 0x7f ? '?' : c;
    }
    if (line.size() > 60) out += "…";
    return out;
}

[[noreturn]] void malformed(std::string_view where, size_t line, const std::string& message) {
    throw Error(std::string(where) + ": diff line " + std::to_string(line) + ": " + message,
                ExitStatus::kUsage);
}

// "3" or "3,7" from a hunk header; the count defaults to 1.
bool parseRange(std::string_view text, size_t& start, size_t& count) {
    auto number = [](std::string_view digits, size_t& out) {
        if (digits.empty() || digits.size() > 12) return false;
        out = 0;
        for (char c : digits) {
            if (c < '0' || c > '9') return false;
            out = out * 10 + static_cast<size_t>(c - '0');
        }
        return true;
    };
    auto comma = text.find(',');
    if (comma == std::string_view::npos) {
        count = 1;
        return number(text, start);
    }
    return number(text.substr(0, comma), start) && number(text.substr(comma + 1), count);
}

std::optional<DiffHunk> parseHunkHeader(std::string_view line) {
    // "@@ -OLD +NEW @@ optional section heading"
    std::string_view rest = withoutNewline(line);
    if (rest.substr(0, 4) != "@@ -") return std::nullopt;
    rest.remove_prefix(4);
    auto space = rest.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    DiffHunk hunk;
    if (!parseRange(rest.substr(0, space), hunk.oldStart, hunk.oldCount)) return std::nullopt;
    rest.remove_prefix(space + 1);
    if (rest.substr(0, 1) != "+") return std::nullopt;
    rest.remove_prefix(1);
    space = rest.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    if (!parseRange(rest.substr(0, space), hunk.newStart, hunk.newCount)) return std::nullopt;
    rest.remove_prefix(space + 1);
    if (rest.substr(0, 2) != "@@") return std::nullopt;
    if (hunk.oldCount > 0 && hunk.oldStart == 0) return std::nullopt;
    hunk.header = std::string(withoutNewline(line).substr(0, 80));
    return hunk;
}

std::string fileName(std::string_view line) {
    std::string_view name = withoutNewline(line).substr(4);
    auto tab = name.find('\t');  // diff -u puts the timestamp after a tab
    return std::string(name.substr(0, tab));
}

}  // namespace

UnifiedDiff parseUnifiedDiff(std::string_view text, std::string_view where) {
    auto lines = splitLines(text);
    UnifiedDiff diff;
    bool sawHeader = false;
    size_t i = 0;
    while (i < lines.size()) {
        std::string_view line = lines[i];
        size_t number = i + 1;
        if (line.substr(0, 4) == "--- " && i + 1 < lines.size() &&
            lines[i + 1].substr(0, 4) == "+++ ") {
            if (sawHeader || !diff.hunks.empty())
                malformed(where, number,
                          "the diff changes more than one file; give each file its own patch "
                          "operation");
            sawHeader = true;
            diff.oldName = fileName(line);
            diff.newName = fileName(lines[i + 1]);
            i += 2;
            continue;
        }
        if (line.substr(0, 2) == "@@") {
            auto parsed = parseHunkHeader(line);
            if (!parsed) malformed(where, number, "malformed hunk header '" + shown(line) + "'");
            DiffHunk hunk = std::move(*parsed);
            hunk.diffLine = number;
            size_t oldSeen = 0, newSeen = 0;
            ++i;
            while (oldSeen < hunk.oldCount || newSeen < hunk.newCount) {
                if (i >= lines.size())
                    malformed(where, number,
                              "hunk " + std::to_string(diff.hunks.size() + 1) + " (" + hunk.header +
                                  ") ends early: the diff is truncated");
                std::string_view body = lines[i];
                DiffLine entry;
                // Some tools strip the lone space of an empty context line.
                entry.kind = body.empty() || body == "\n" ? ' ' : body[0];
                if (entry.kind == '\\') {
                    if (hunk.lines.empty())
                        malformed(where, i + 1, "'\\ No newline' follows no line");
                    std::string& previous = hunk.lines.back().text;
                    if (!previous.empty() && previous.back() == '\n') previous.pop_back();
                    ++i;
                    continue;
                }
                if (entry.kind != ' ' && entry.kind != '-' && entry.kind != '+')
                    malformed(where, i + 1,
                              "'" + shown(body) + "' is no hunk line (' ', '-' or '+'); hunk " +
                                  std::to_string(diff.hunks.size() + 1) + " (" + hunk.header +
                                  ") has fewer lines than its header says");
                entry.text = std::string(withoutNewline(body.empty() ? body : body.substr(1)));
                entry.text += '\n';
                if (entry.kind != '+') ++oldSeen;
                if (entry.kind != '-') ++newSeen;
                if (oldSeen > hunk.oldCount || newSeen > hunk.newCount)
                    malformed(where, i + 1,
                              "hunk " + std::to_string(diff.hunks.size() + 1) + " (" + hunk.header +
                                  ") has more lines than its header says");
                hunk.lines.push_back(std::move(entry));
                ++i;
            }
            if (i < lines.size() && lines[i].substr(0, 1) == "\\") {
                if (hunk.lines.empty()) malformed(where, i + 1, "'\\ No newline' follows no line");
                std::string& previous = hunk.lines.back().text;
                if (!previous.empty() && previous.back() == '\n') previous.pop_back();
                ++i;
            }
            diff.hunks.push_back(std::move(hunk));
            continue;
        }
        // Before the first hunk anything goes ("diff -u a b", "index 1a2b..3c4d", mail text);
        // after it only blank lines, so that a damaged hunk is never silently dropped.
        if (!diff.hunks.empty() && !withoutNewline(line).empty()) {
            if (line.substr(0, 5) == "diff " || line.substr(0, 4) == "--- " ||
                line.substr(0, 6) == "Index:")
                malformed(where, number,
                          "the diff changes more than one file; give each file its own patch "
                          "operation");
            malformed(where, number, "'" + shown(line) + "' is outside any hunk");
        }
        ++i;
    }
    if (diff.hunks.empty())
        throw Error(std::string(where) +
                        ": the diff has no hunks (an empty diff changes nothing; "
                        "was it made from identical files?)",
                    ExitStatus::kUsage);
    return diff;
}

std::string applyUnifiedDiff(std::string_view original, const UnifiedDiff& diff,
                             std::string_view where) {
    auto lines = splitLines(original);
    std::string out;
    std::string current;  // the hunk being applied, for errors
    // Only the file's last line may lack a newline: a diff that would glue a line without one
    // to the next (hand-written, never diff's output) is refused, not obeyed.
    auto emit = [&](std::string_view piece) {
        if (piece.empty()) return;
        if (!out.empty() && out.back() != '\n')
            throw Error(std::string(where) + ": " + (current.empty() ? "the diff" : current) +
                            " would join a line that has no newline to the next one",
                        ExitStatus::kUsage);
        out += piece;
    };
    size_t cursor = 0;     // first line no earlier hunk consumed
    long long offset = 0;  // how far the previous hunk moved from its header's line
    for (size_t h = 0; h < diff.hunks.size(); ++h) {
        const DiffHunk& hunk = diff.hunks[h];
        std::vector<std::string_view> old;
        for (const auto& line : hunk.lines)
            if (line.kind != '+') old.push_back(line.text);
        size_t leading = 0, trailing = 0;
        while (leading < hunk.lines.size() && hunk.lines[leading].kind == ' ') ++leading;
        while (trailing < hunk.lines.size() - leading &&
               hunk.lines[hunk.lines.size() - 1 - trailing].kind == ' ')
            ++trailing;
        std::string name = "hunk " + std::to_string(h + 1) + " (" + hunk.header + ", diff line " +
                           std::to_string(hunk.diffLine) + ")";

        long long stated = hunk.oldCount == 0 ? static_cast<long long>(hunk.oldStart)
                                              : static_cast<long long>(hunk.oldStart) - 1;
        long long expected = stated + offset;
        auto matchesAt = [&](long long p) {
            if (p < static_cast<long long>(cursor) ||
                p + static_cast<long long>(old.size()) > static_cast<long long>(lines.size()))
                return false;
            // diff -U N shows fewer context lines on one side only at the file's start or end;
            // with no fuzz such a hunk must sit there.
            if (leading < trailing && p != 0) return false;
            if (trailing < leading && p + old.size() != lines.size()) return false;
            for (size_t k = 0; k < old.size(); ++k)
                if (lines[static_cast<size_t>(p) + k] != old[k]) return false;
            return true;
        };
        std::optional<long long> found;
        if (old.empty()) {
            if (expected >= static_cast<long long>(cursor) &&
                expected <= static_cast<long long>(lines.size()))
                found = expected;
        } else {
            long long span = static_cast<long long>(lines.size()) + 1;
            for (long long d = 0; d <= span && !found; ++d) {
                if (matchesAt(expected + d))
                    found = expected + d;
                else if (d > 0 && matchesAt(expected - d))
                    found = expected - d;
            }
        }
        if (!found) {
            std::string detail;
            if (old.empty()) {
                detail = "it inserts at line " + std::to_string(expected + 1) +
                         " but the file has " + std::to_string(lines.size()) + " lines";
            } else if (expected < 0 || expected + static_cast<long long>(old.size()) >
                                           static_cast<long long>(lines.size())) {
                detail = "its " + std::to_string(old.size()) + " lines of context and removals " +
                         "match nowhere, and at line " + std::to_string(hunk.oldStart) +
                         " the file (" + std::to_string(lines.size()) + " lines) is too short";
            } else {
                detail = "its context and removals match nowhere in the file";
                for (size_t k = 0; k < old.size(); ++k) {
                    std::string_view actual = lines[static_cast<size_t>(expected) + k];
                    if (actual != old[k]) {
                        detail += "; at line " +
                                  std::to_string(expected + 1 + static_cast<long long>(k)) +
                                  " the diff expects '" + shown(old[k]) + "'" +
                                  (old[k].back() == '\n' ? "" : " (with no newline)") +
                                  " but the file has '" + shown(actual) + "'" +
                                  (actual.back() == '\n' ? "" : " (with no newline)");
                        break;
                    }
                }
            }
            throw Error(std::string(where) + ": " + name + " does not apply: " + detail,
                        ExitStatus::kUsage);
        }
        size_t position = static_cast<size_t>(*found);
        current = name;
        for (size_t k = cursor; k < position; ++k) emit(lines[k]);
        for (const auto& line : hunk.lines)
            if (line.kind != '-') emit(line.text);
        cursor = position + old.size();
        offset = *found - stated;
    }
    for (size_t k = cursor; k < lines.size(); ++k) emit(lines[k]);
    return out;
}

}  // namespace ingot::patcher
