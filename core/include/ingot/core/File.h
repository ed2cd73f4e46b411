#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ingot {

// Reads a whole regular file. `what` names the file's role in the error ("kernel", "initrd"),
// which says what failed and where: "cannot read kernel /x/vmlinuz: No such file or directory".
// Refuses files larger than `maxBytes`.
std::vector<uint8_t> readWholeFile(const std::string& path, std::string_view what,
                                   uint64_t maxBytes = 1ull << 32);

// Writes `bytes` to a temporary name beside `path`, syncs, and renames it over `path`, so a
// reader sees the old content or the new one, never a torn file.
void writeFileAtomically(const std::string& path, std::string_view bytes, unsigned mode = 0644);

// Creates `dir` and its missing parents with `mode` (an existing one is left as it is). For
// the client's config and state directories, which are private (0700). Throws ingot::Error
// (kUsage) naming the directory that cannot be made.
void makeDirectories(const std::string& dir, unsigned mode);

// ingot's directory under an XDG base directory: $VARIABLE/ingot when VARIABLE holds an absolute
// path, else $HOME/HOME_RELATIVE/ingot (e.g. "XDG_DATA_HOME", ".local/share"). Throws
// ingot::Error (kUsage) when neither is set to an absolute path.
std::string xdgDirectory(const char* variable, const char* homeRelative);

}  // namespace ingot
