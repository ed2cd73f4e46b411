#include "ingot/debian/Changelog.h"

#include <set>

#include "ingot/debian/Text.h"
#include "ingot/core/Error.h"

namespace ingot::debian {

namespace {

constexpr size_t kMaxChangelogBytes = 64u << 20;

[[noreturn]] void bad(std::string_view source, size_t line, const std::string& why) {
    throw Error(std::string(source) + " line " + std::to_string(line) + ": " + why,
                ExitStatus::kUsage);
}

bool isNameChar(char c) {
    return text::isDigit(c) || text::isAlpha(c) || c == '-' || c == '+' || c == '.';
}

struct Header {
    std::string package, version, distributions, options;
};

// dpkg's header expression: ^(\w[-+0-9a-z.]*) \(([^\(\) \t]+)\)((?:\s+[-+0-9a-z.]+)+)\;(.*?)\s*$
// (case-insensitive), written out by hand.
std::optional<Header> matchHeader(std::string_view line) {
    size_t i = 0;
    if (line.empty() || !(text::isDigit(line[0]) || text::isAlpha(line[0]) || line[0] == '_'))
        return std::nullopt;
    ++i;
    while (i < line.size() && isNameChar(line[i])) ++i;
    Header h;
    h.package = std::string(line.substr(0, i));
    if (line.substr(i, 2) != " (") return std::nullopt;
    i += 2;
    const size_t versionStart = i;
    while (i < line.size() && line[i] != '(' && line[i] != ')' && !text::isBlank(line[i])) ++i;
    if (i == versionStart || i >= line.size() || line[i] != ')') return std::nullopt;
    h.version = std::string(line.substr(versionStart, i - versionStart));
    ++i;
    const size_t distStart = i;
    int dists = 0;
    for (;;) {
        const size_t blanks = i;
        while (i < line.size() && text::isBlank(line[i])) ++i;
        if (i == blanks) break;
        const size_t word = i;
        while (i < line.size() && isNameChar(line[i])) ++i;
        if (i == word) return std::nullopt;
        ++dists;
    }
    if (dists == 0 || i >= line.size() || line[i] != ';') return std::nullopt;
    h.distributions = std::string(text::trim(line.substr(distStart, i - distStart)));
    h.options = std::string(text::trim(line.substr(i + 1)));
    return h;
}

// " -- Name <email>  date": the name may be empty, the date must not be.
bool matchTrailer(std::string_view line, std::string& maintainer, std::string& date) {
    if (!line.starts_with(" -- ")) return false;
    const std::string_view rest = line.substr(4);
    const size_t gt = rest.rfind('>');
    if (gt == std::string_view::npos) return false;
    const size_t lt = rest.rfind('<', gt);
    if (lt == std::string_view::npos) return false;
    const std::string_view after = rest.substr(gt + 1);
    if (after.empty() || !text::isBlank(after.front())) return false;
    date = std::string(text::trim(after));
    if (date.empty()) return false;
    maintainer = std::string(text::trim(rest.substr(0, gt + 1)));
    return true;
}

bool startsWithCaseless(std::string_view line, std::string_view prefix) {
    return line.size() >= prefix.size() && text::iequals(line.substr(0, prefix.size()), prefix);
}

// Lines dpkg-parsechangelog skips: RCS keywords ($Id: ...$) and comments.
bool isSkippedLine(std::string_view line) {
    if (line.starts_with("# ")) return true;
    if (line.starts_with("/*") && line.find("*/") != std::string_view::npos) return true;
    if (line.starts_with("$")) {
        size_t i = 1;
        while (i < line.size() &&
               (text::isAlpha(line[i]) || text::isDigit(line[i]) || line[i] == '_'))
            ++i;
        return i > 1 && i < line.size() && line[i] == ':' &&
               line.find('$', i) != std::string_view::npos;
    }
    return false;
}

// The end of the parseable part: editor variables, dpkg's "Old Changelog:" convention.
bool endsParsing(std::string_view line) {
    std::string_view l = line;
    if (l.starts_with(";;")) {
        l.remove_prefix(2);
        while (!l.empty() && text::isBlank(l.front())) l.remove_prefix(1);
    }
    return startsWithCaseless(l, "Local variables:") || startsWithCaseless(line, "vim:") ||
           startsWithCaseless(line, "Old Changelog:");
}

enum class Expect { kFirstHeading, kStartChanges, kChangesOrTrailer, kNextOrEof };

}  // namespace

std::vector<ChangelogEntry> parseChangelog(std::string_view text, std::string_view source,
                                           const std::optional<Version>& stopAt) {
    if (text.size() > kMaxChangelogBytes)
        throw Error(std::string(source) + ": more than " + std::to_string(kMaxChangelogBytes) +
                        " bytes; not a changelog",
                    ExitStatus::kUsage);
    std::vector<ChangelogEntry> entries;
    std::optional<ChangelogEntry> current;
    Expect expect = Expect::kFirstHeading;
    size_t lineNumber = 0;
    size_t start = 0;
    bool stopped = false;
    while (start < text.size() && !stopped) {
        ++lineNumber;
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(start, end - start);
        start = end + 1;
        if (line.find('\0') != std::string_view::npos) bad(source, lineNumber, "NUL byte");
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

        if (text::trim(line).empty()) continue;
        if (!text::isBlank(line.front())) {
            if (auto h = matchHeader(line)) {
                if (expect == Expect::kStartChanges || expect == Expect::kChangesOrTrailer)
                    bad(source, lineNumber,
                        "a new entry starts, but the entry for " + current->version.text() +
                            " at line " + std::to_string(current->line) + " has no trailer");
                std::optional<Version> version;
                try {
                    version = Version::parse(h->version);
                } catch (const Error& e) {
                    bad(source, lineNumber, e.what());
                }
                if (stopAt && compareVersions(*version, *stopAt) <= 0) {
                    stopped = true;
                    break;
                }
                current = ChangelogEntry{h->package, *version, h->distributions, h->options, {},
                                         {},         {},       lineNumber};
                expect = Expect::kStartChanges;
                continue;
            }
            if (endsParsing(line)) break;
            if (isSkippedLine(line)) continue;
            if (expect == Expect::kNextOrEof) break;  // an ancient format below complete entries
            bad(source, lineNumber,
                "'" + text::printable(line, 80) + "' is not a changelog entry header");
        }
        if (line.starts_with(" --")) {
            std::string maintainer, date;
            if (!matchTrailer(line, maintainer, date))
                bad(source, lineNumber, "malformed trailer line (' -- Name <email>  date')");
            if (expect != Expect::kStartChanges && expect != Expect::kChangesOrTrailer)
                bad(source, lineNumber, "a trailer with no entry header before it");
            current->maintainer = std::move(maintainer);
            current->date = std::move(date);
            entries.push_back(std::move(*current));
            current.reset();
            expect = Expect::kNextOrEof;
            continue;
        }
        if (expect != Expect::kStartChanges && expect != Expect::kChangesOrTrailer)
            bad(source, lineNumber, "change lines outside an entry");
        current->changes.emplace_back(line);
        expect = Expect::kChangesOrTrailer;
    }
    if (current)
        bad(source, lineNumber,
            "the entry for " + current->version.text() + " at line " +
                std::to_string(current->line) + " has no trailer");
    if (entries.empty() && !stopped && expect == Expect::kFirstHeading)
        bad(source, lineNumber, "no changelog entry found");
    return entries;
}

std::vector<std::string> findCves(std::string_view text) {
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (size_t i = 0; i + 13 <= text.size(); ++i) {
        if (!text::iequals(text.substr(i, 4), "CVE-")) continue;
        if (i > 0 && (text::isAlpha(text[i - 1]) || text::isDigit(text[i - 1]))) continue;
        size_t j = i + 4;
        size_t yearDigits = 0;
        while (j < text.size() && text::isDigit(text[j]) && yearDigits < 5) ++j, ++yearDigits;
        if (yearDigits != 4 || j >= text.size() || text[j] != '-') continue;
        ++j;
        const size_t numberStart = j;
        while (j < text.size() && text::isDigit(text[j])) ++j;
        const size_t digits = j - numberStart;
        if (digits < 4 || digits > 19) continue;
        std::string id = "CVE-" + std::string(text.substr(i + 4, j - i - 4));
        if (seen.insert(id).second) out.push_back(std::move(id));
        i = j - 1;
    }
    return out;
}

std::vector<SecurityFixes> fixesSince(std::string_view changelogText, std::string_view source,
                                      const Version& installed) {
    std::vector<SecurityFixes> out;
    for (const ChangelogEntry& e : parseChangelog(changelogText, source, installed)) {
        std::string body;
        for (const auto& line : e.changes) body.append(line).append("\n");
        out.push_back(SecurityFixes{e.version, findCves(body)});
    }
    return out;
}

}  // namespace ingot::debian
