#include "ingot/debian/DpkgStatus.h"

#include "ingot/debian/Text.h"
#include "ingot/core/Error.h"
#include "ingot/debian/Deb822.h"

namespace ingot::debian {

namespace {

[[noreturn]] void bad(std::string_view source, size_t line, const std::string& why) {
    throw Error(std::string(source) + " line " + std::to_string(line) + ": " + why,
                ExitStatus::kUsage);
}

Version parseVersionAt(std::string_view source, size_t line, std::string_view who,
                       std::string_view text) {
    try {
        return Version::parse(text);
    } catch (const Error& e) {
        bad(source, line, std::string(who) + ": " + e.what());
    }
}

// " /etc/foo.conf 0123...def [obsolete] [remove-on-upgrade]": the flags and the md5 are read
// from the end, so a path with blanks in it still parses. `place` starts the error message.
Conffile parseConffile(std::string_view place, std::string_view entry) {
    auto w = text::words(entry);
    Conffile c;
    while (w.size() > 2 && (w.back() == "obsolete" || w.back() == "remove-on-upgrade")) {
        (w.back() == "obsolete" ? c.obsolete : c.removeOnUpgrade) = true;
        w.pop_back();
    }
    if (w.size() < 2 || !w.front().starts_with("/"))
        throw Error(std::string(place) + ": a Conffiles line is '/path md5', not '" +
                        text::printable(entry) + "'",
                    ExitStatus::kUsage);
    c.md5 = std::string(w.back());
    const std::string_view first = w.front();
    const std::string_view last = w[w.size() - 2];
    c.path =
        std::string(first.data(), static_cast<size_t>(last.data() + last.size() - first.data()));
    return c;
}

}  // namespace

std::vector<InstalledPackage> parseDpkgStatus(std::string_view text, std::string_view source) {
    Deb822Options options;
    options.source = std::string(source);
    std::vector<InstalledPackage> out;
    for (const Paragraph& p : parseDeb822(text, options)) {
        const Field* package = p.find("Package");
        if (!package || package->value.empty())
            bad(source, p.line(), "a paragraph with no Package");
        const Field* status = p.find("Status");
        if (!status) bad(source, p.line(), "package " + package->value + " has no Status");
        const auto s = text::words(status->value);
        if (s.size() != 3)
            bad(source, status->line,
                "package " + package->value + ": Status '" + text::printable(status->value) +
                    "' is not 'want flag status'");
        if (s[1] != "ok" || s[2] != "installed") continue;
        const std::string who = "package " + package->value;
        const Field* version = p.find("Version");
        if (!version || version->value.empty())
            bad(source, p.line(), who + " is installed but has no Version");
        const Version v = parseVersionAt(source, version->line, who, version->value);
        std::string sourceName = package->value;
        Version sourceVersion = v;
        if (const Field* src = p.find("Source"); src && !src->value.empty()) {
            const std::string_view value = src->value;
            const size_t paren = value.find('(');
            sourceName = std::string(text::trim(value.substr(0, paren)));
            if (paren != std::string_view::npos) {
                const std::string_view rest = text::trim(value.substr(paren + 1));
                if (!rest.ends_with(')'))
                    bad(source, src->line,
                        who + ": Source '" + text::printable(value) + "' lacks its ')'");
                sourceVersion =
                    parseVersionAt(source, src->line, who, rest.substr(0, rest.size() - 1));
            }
        }
        InstalledPackage installed{package->value,        v,
                                   p.get("Architecture"), sourceName,
                                   sourceVersion,         p.get("Multi-Arch"),
                                   status->value,         {}};
        if (const Field* conffiles = p.find("Conffiles")) {
            size_t line = conffiles->line;
            for (std::string_view entry : text::lines(conffiles->value)) {
                if (!text::trim(entry).empty())
                    installed.conffiles.push_back(parseConffile(
                        std::string(source) + " line " + std::to_string(line) + ": " +
                            std::string(who),
                        entry));
                ++line;
            }
        }
        out.push_back(std::move(installed));
    }
    return out;
}

std::vector<Conffile> parseConffiles(std::string_view value, std::string_view where) {
    std::vector<Conffile> out;
    for (std::string_view entry : text::lines(value))
        if (!text::trim(entry).empty()) out.push_back(parseConffile(where, entry));
    return out;
}

}  // namespace ingot::debian
