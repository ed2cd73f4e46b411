// dpkg's database inside an image's tree (var/lib/dpkg): the status file as editable stanzas,
// the per-package files under info/, the diversions and the trigger interests. `ingot patch`
// does dpkg's unpack phase on the host and must leave the database exactly as dpkg would, so
// that the guest's own dpkg can finish (configure) what the host started.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ingot/imagebuild/Tree.h"

namespace ingot::patch {

inline constexpr std::string_view kDpkgStatusPath = "var/lib/dpkg/status";
inline constexpr std::string_view kDpkgInfoDir = "var/lib/dpkg/info";

// One paragraph of the status file, fields in order. Values are as Deb822 gives them: a
// multi-line value holds '\n' between its lines, continuation blanks removed.
struct StatusStanza {
    std::vector<std::pair<std::string, std::string>> fields;

    std::string get(std::string_view name) const;  // "" when absent
    bool has(std::string_view name) const;
    // Replaces the field's value, or inserts it after the field `after` (at the end when
    // `after` is absent or empty).
    void set(std::string_view name, std::string value, std::string_view after = {});
    void erase(std::string_view name);
};

class DpkgStatusFile {
public:
    // Throws ingot::Error (kUsage) naming `where` for malformed text.
    static DpkgStatusFile parse(std::string_view text, std::string_view where);
    std::string serialize() const;

    // The stanza of package `name` for `architecture` ("all" and the native architecture
    // are one namespace unless Multi-Arch: same, so an empty architecture matches any).
    StatusStanza* find(std::string_view name, std::string_view architecture);
    const StatusStanza* find(std::string_view name, std::string_view architecture) const;
    // Replaces the stanza of the same package and architecture, or appends a new one.
    void put(StatusStanza stanza);
    const std::vector<StatusStanza>& stanzas() const { return stanzas_; }
    std::vector<StatusStanza>& stanzas() { return stanzas_; }

private:
    std::vector<StatusStanza> stanzas_;
};

// The name dpkg gives a package's files under info/: "libc6:amd64" for a Multi-Arch: same
// package, the bare name otherwise.
std::string infoName(std::string_view package, std::string_view architecture,
                     std::string_view multiArch);

// var/lib/dpkg/diversions: three lines per diversion (from, to, package; ":" for a local one).
struct Diversion {
    std::string to;       // canonical tree path
    std::string package;  // who diverted it; ":" for the local admin
};
std::map<std::string, Diversion> readDiversions(const imagebuild::Tree& tree);

// var/lib/dpkg/triggers/File: "PATH PACKAGE[/noawait]" lines; a file put at or under PATH
// activates the file trigger PATH for PACKAGE.
struct FileTriggerInterest {
    std::string path;  // canonical tree path ("usr/lib/x86_64-linux-gnu")
    std::string package;
};
std::vector<FileTriggerInterest> readFileTriggerInterests(const imagebuild::Tree& tree);
// var/lib/dpkg/triggers/NAME: the packages interested in the explicit trigger NAME.
std::vector<std::string> readTriggerInterests(const imagebuild::Tree& tree, std::string_view name);

// Regular-file content at a tree path (symlinks followed), or nullopt.
std::optional<std::string> readTreeFile(const imagebuild::Tree& tree, const std::string& path,
                                        std::string_view where);

// Puts a regular file (root-owned) at canonical `path`, replacing what is there.
void putTreeFile(imagebuild::Tree& tree, const std::string& path, std::string bytes, uint32_t mode,
                 int64_t mtime, std::string_view where);

// MD5 as dpkg records it for conffiles and md5sums (32 lower-case hex digits).
std::string md5Hex(std::string_view bytes);

}  // namespace ingot::patch
