// Unified diffs ("diff -u", "git diff" of one file) parsed and applied with no fuzz: every
// context and removed line must match the file exactly, or the hunk is refused by number. A
// hunk may apply at an offset from the line its header names, as with patch(1), when the text
// moved; hunks apply in order and never overlap.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ingot::patcher {

struct DiffLine {
    char kind = ' ';   // ' ' context, '-' removed, '+' added
    std::string text;  // with its "\n", unless "\ No newline at end of file" followed it
};

struct DiffHunk {
    size_t oldStart = 0, oldCount = 0, newStart = 0, newCount = 0;
    std::string header;   // "@@ -3,7 +3,8 @@ section", for errors
    size_t diffLine = 0;  // line of the header in the diff, from 1
    std::vector<DiffLine> lines;
};

struct UnifiedDiff {
    std::string oldName, newName;  // from the "---" and "+++" lines, "" when absent
    std::vector<DiffHunk> hunks;
};

// Throws ingot::Error (ExitStatus::kUsage) naming `where` and the diff's line for a malformed
// diff, a diff of several files, or one without hunks.
UnifiedDiff parseUnifiedDiff(std::string_view text, std::string_view where);

// The patched text. Throws ingot::Error naming `where` and the hunk when a hunk does not match.
std::string applyUnifiedDiff(std::string_view original, const UnifiedDiff& diff,
                             std::string_view where);

}  // namespace ingot::patcher
