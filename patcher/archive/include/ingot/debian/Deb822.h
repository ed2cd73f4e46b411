// Control-file paragraphs (deb822: Packages, Release, var/lib/dpkg/status): "Name: value"
// fields, continuation lines starting with a blank, paragraphs separated by blank lines.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ingot::debian {

struct Field {
    std::string name;  // as spelled in the file
    // The text after the colon without surrounding blanks; each continuation line follows a
    // '\n' with its first blank (the one that makes it a continuation) and trailing blanks
    // removed, so " ." stays ".", and "Description" keeps its inner indentation.
    std::string value;
    size_t line = 0;  // 1-based
};

struct Deb822Options;

class Paragraph {
public:
    const std::vector<Field>& fields() const { return fields_; }  // in file order
    size_t line() const { return line_; }  // where the paragraph starts, 1-based

    // Field names compare case-insensitively, as Debian policy says they do.
    const Field* find(std::string_view name) const;
    bool has(std::string_view name) const { return find(name) != nullptr; }
    // The value, or "" when the field is absent.
    std::string get(std::string_view name) const;
    std::optional<std::string> optional(std::string_view name) const;

private:
    friend std::vector<Paragraph> parseDeb822(std::string_view, const Deb822Options&);
    std::vector<Field> fields_;
    size_t line_ = 0;
};

struct Deb822Options {
    // Names the input in errors: "Packages.xz of main/binary-amd64 line 12: ...".
    std::string source = "control data";
    // Lines starting with '#' are comments in source-package control files, never in Packages,
    // Release or the dpkg status file; there, such a line is an error.
    bool allowComments = false;
    // The Debian main Packages file is under 100 MiB, its longest lines (Provides of Rust
    // library packages) well under 1 MiB.
    uint64_t maxBytes = 512ull << 20;
    uint64_t maxLineBytes = 1ull << 20;
};

// Parses all paragraphs. Throws ingot::Error (kUsage) naming the source and the line for: a NUL
// byte, a line over the limit, a line with no colon, an empty or malformed field name, a
// continuation line with no field before it, a repeated field in one paragraph, a comment
// where none are allowed, input over maxBytes.
std::vector<Paragraph> parseDeb822(std::string_view text, const Deb822Options& options = {});

}  // namespace ingot::debian
