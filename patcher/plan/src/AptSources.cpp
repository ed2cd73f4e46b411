#include "ingot/patch/AptSources.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

#include "PlanText.h"
#include "ingot/core/Error.h"
#include "ingot/debian/Deb822.h"

namespace fs = std::filesystem;

namespace ingot::patch {

namespace {

// apt's own sources files are a few KiB; a larger one is a mistake or an attack on memory.
constexpr uint64_t kMaxSourcesFileBytes = 1ull << 20;

[[noreturn]] void bad(std::string_view origin, size_t line, const std::string& why) {
    throw Error(std::string(origin) + " line " + std::to_string(line) + ": " + why,
                ExitStatus::kUsage);
}

// Control characters would end up in URLs, cache keys and the user's terminal.
void checkPrintable(std::string_view origin, size_t line, std::string_view what,
                    std::string_view value) {
    for (char c : value)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            bad(origin, line,
                std::string(what) + " '" + text::printable(value) + "' has a control character");
}

bool isFlat(std::string_view suite) {
    return suite.ends_with('/');
}

void checkComponents(std::string_view origin, size_t line, const std::string& suite,
                     const std::vector<std::string>& components) {
    if (isFlat(suite) && !components.empty())
        bad(origin, line,
            "suite '" + text::printable(suite) +
                "' ends in '/' (a flat repository), so no components may follow it");
    if (!isFlat(suite) && components.empty())
        bad(origin, line, "suite '" + text::printable(suite) + "' has no components");
}

std::vector<std::string> splitList(std::string_view s, char separator) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        size_t end = s.find(separator, start);
        if (end == std::string_view::npos) end = s.size();
        const std::string_view part = text::trim(s.substr(start, end - start));
        if (!part.empty()) out.emplace_back(part);
        start = end + 1;
    }
    return out;
}

// "deb [arch=amd64 signed-by=/k.gpg] URI SUITE COMP..." after '#' comments are cut.
void parseOneLine(std::string_view line, std::string_view origin, size_t lineNumber,
                  std::vector<AptSource>& out) {
    const auto words = text::words(line);
    const std::string_view type = words.front();
    if (type != "deb" && type != "deb-src")
        bad(origin, lineNumber,
            "entry type '" + text::printable(type) + "' is not 'deb' or 'deb-src'");
    std::string_view rest =
        line.substr(static_cast<size_t>(type.data() + type.size() - line.data()));
    while (!rest.empty() && text::isBlank(rest.front())) rest.remove_prefix(1);

    AptSource source;
    if (rest.starts_with('[')) {
        const size_t close = rest.find(']');
        if (close == std::string_view::npos)
            bad(origin, lineNumber, "option list '[' is not closed with ']'");
        for (std::string_view option : text::words(rest.substr(1, close - 1))) {
            const size_t equals = option.find('=');
            if (equals == std::string_view::npos || equals == 0)
                bad(origin, lineNumber,
                    "option '" + text::printable(option) + "' is not 'name=value'");
            const std::string_view name = option.substr(0, equals);
            const std::string_view value = option.substr(equals + 1);
            checkPrintable(origin, lineNumber, "option", option);
            if (name == "arch")
                source.architectures = splitList(value, ',');
            else if (name == "signed-by")
                source.signedBy = std::string(value);
            // Other options (trusted=yes, lang=, by-hash=, arch+=) change nothing here: every
            // index is verified against a keyring whatever the entry says.
        }
        rest.remove_prefix(close + 1);
    }
    const auto fields = text::words(rest);
    if (fields.empty()) bad(origin, lineNumber, "entry has no URI");
    if (fields.size() < 2) bad(origin, lineNumber, "entry has no suite");
    if (type != "deb") return;
    source.uri = std::string(fields[0]);
    source.suite = std::string(fields[1]);
    for (size_t i = 2; i < fields.size(); ++i) source.components.emplace_back(fields[i]);
    checkPrintable(origin, lineNumber, "URI", source.uri);
    checkPrintable(origin, lineNumber, "suite", source.suite);
    checkComponents(origin, lineNumber, source.suite, source.components);
    source.origin = std::string(origin) + " line " + std::to_string(lineNumber);
    out.push_back(std::move(source));
}

std::vector<std::string> wordsOf(const debian::Paragraph& p, std::string_view field) {
    const std::string value = p.get(field);
    std::vector<std::string> out;
    for (std::string_view w : text::words(value)) out.emplace_back(w);
    return out;
}

std::string readSourcesFile(const fs::path& path) {
    std::error_code ec;
    const uintmax_t size = fs::file_size(path, ec);
    if (ec) throw Error("cannot read " + path.string() + ": " + ec.message(), ExitStatus::kUsage);
    if (size > kMaxSourcesFileBytes)
        throw Error(path.string() + ": " + std::to_string(size) + " bytes is more than the " +
                        std::to_string(kMaxSourcesFileBytes) + " an apt sources file may have",
                    ExitStatus::kUsage);
    std::ifstream in(path, std::ios::binary);
    std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (!in.good() && !in.eof()) throw Error("cannot read " + path.string(), ExitStatus::kUsage);
    // The file may have grown since its size was taken.
    if (bytes.size() > kMaxSourcesFileBytes)
        throw Error(
            path.string() + ": more than " + std::to_string(kMaxSourcesFileBytes) + " bytes",
            ExitStatus::kUsage);
    return bytes;
}

// apt ignores files whose names have other characters (editor backups, dpkg's leftovers).
bool isSourcesFileName(const std::string& name, std::string_view extension) {
    if (name.size() <= extension.size() || !name.ends_with(extension)) return false;
    for (char c : name)
        if (!text::isDigit(c) && !text::isAlpha(c) && c != '_' && c != '-' && c != '.')
            return false;
    return true;
}

std::string withoutTrailingSlashes(std::string uri) {
    while (uri.size() > 1 && uri.back() == '/') uri.pop_back();
    return uri;
}

// The entry ready for ArchiveClient, or the reason it cannot be used.
std::optional<std::string> prepare(AptSource& source) {
    const std::string& uri = source.uri;
    if (!(uri.starts_with("http://") || uri.starts_with("https://") || uri.starts_with("file://")))
        return "URI '" + text::printable(uri) +
               "' is not http://, https:// or file:// (ingot fetches nothing else)";
    if (isFlat(source.suite))
        return "suite '" + text::printable(source.suite) +
               "' is a flat repository, which has no dists/ to verify";
    const std::string_view signedBy = text::trim(source.signedBy);
    if (signedBy.empty()) {
        source.signedBy = kDefaultKeyring;
        return std::nullopt;
    }
    if (signedBy.find('\n') != std::string_view::npos ||
        signedBy.find("BEGIN PGP") != signedBy.npos)
        return "Signed-By holds an inline key block; put the key in a keyring file and name "
               "that file instead";
    std::vector<std::string> keys;
    for (const std::string& part : splitList(signedBy, ','))
        for (std::string_view w : text::words(part)) keys.emplace_back(w);
    if (keys.size() != 1)
        return "Signed-By '" + text::printable(signedBy) +
               "' names several keyrings or fingerprints; ingot takes exactly one keyring file";
    if (!keys[0].starts_with('/'))
        return "Signed-By '" + text::printable(keys[0]) +
               "' is not an absolute keyring path (fingerprints are not supported)";
    source.signedBy = keys[0];
    return std::nullopt;
}

// Joins entries that would fetch the same indexes, so nothing is downloaded twice.
void addMerged(std::vector<AptSource>& out, AptSource source) {
    source.uri = withoutTrailingSlashes(std::move(source.uri));
    for (AptSource& existing : out) {
        if (existing.uri != source.uri || existing.suite != source.suite ||
            existing.signedBy != source.signedBy)
            continue;
        for (const std::string& c : source.components)
            if (std::find(existing.components.begin(), existing.components.end(), c) ==
                existing.components.end())
                existing.components.push_back(c);
        if (existing.architectures.empty() || source.architectures.empty()) {
            existing.architectures.clear();
        } else {
            for (const std::string& a : source.architectures)
                if (std::find(existing.architectures.begin(), existing.architectures.end(), a) ==
                    existing.architectures.end())
                    existing.architectures.push_back(a);
        }
        return;
    }
    out.push_back(std::move(source));
}

}  // namespace

std::vector<AptSource> parseOneLineSources(std::string_view text, std::string_view origin) {
    if (text.find('\0') != std::string_view::npos)
        throw Error(std::string(origin) + ": NUL byte", ExitStatus::kUsage);
    std::vector<AptSource> out;
    size_t lineNumber = 0;
    for (std::string_view line : text::lines(text)) {
        ++lineNumber;
        if (const size_t hash = line.find('#'); hash != std::string_view::npos)
            line = line.substr(0, hash);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (text::trim(line).empty()) continue;
        parseOneLine(line, origin, lineNumber, out);
    }
    return out;
}

std::vector<AptSource> parseDeb822Sources(std::string_view text, std::string_view origin) {
    debian::Deb822Options options;
    options.source = std::string(origin);
    options.allowComments = true;
    options.maxBytes = kMaxSourcesFileBytes;
    options.maxLineBytes = kMaxSourcesFileBytes;
    std::vector<AptSource> out;
    for (const debian::Paragraph& p : debian::parseDeb822(text, options)) {
        const size_t line = p.line();
        if (const auto enabled = p.optional("Enabled")) {
            const std::string_view e = text::trim(*enabled);
            if (e == "no") continue;
            if (e != "yes")
                bad(origin, line, "Enabled is '" + text::printable(e) + "', not 'yes' or 'no'");
        }
        const auto types = wordsOf(p, "Types");
        if (types.empty()) bad(origin, line, "the paragraph has no Types");
        for (const std::string& t : types)
            if (t != "deb" && t != "deb-src")
                bad(origin, line, "type '" + text::printable(t) + "' is not 'deb' or 'deb-src'");
        const auto uris = wordsOf(p, "URIs");
        if (uris.empty()) bad(origin, line, "the paragraph has no URIs");
        const auto suites = wordsOf(p, "Suites");
        if (suites.empty()) bad(origin, line, "the paragraph has no Suites");
        const auto components = wordsOf(p, "Components");
        std::vector<std::string> architectures = wordsOf(p, "Architectures");
        for (const auto& uri : uris) checkPrintable(origin, line, "URI", uri);
        for (const auto& suite : suites) {
            checkPrintable(origin, line, "suite", suite);
            checkComponents(origin, line, suite, components);
        }
        for (const auto& c : components) checkPrintable(origin, line, "component", c);
        for (const auto& a : architectures) checkPrintable(origin, line, "architecture", a);
        if (std::find(types.begin(), types.end(), "deb") == types.end()) continue;
        // The keyring may be a multi-line inline key: it is kept as written and judged only
        // if this entry is used (securitySources).
        const std::string signedBy = p.get("Signed-By");
        for (const auto& uri : uris)
            for (const auto& suite : suites)
                out.push_back(AptSource{
                    uri, suite, isFlat(suite) ? std::vector<std::string>{} : components, signedBy,
                    architectures, std::string(origin) + " line " + std::to_string(line)});
    }
    return out;
}

std::vector<AptSource> readAptSources(const std::string& aptDirectory) {
    std::vector<AptSource> out;
    auto append = [&out](std::vector<AptSource> more) {
        for (auto& s : more) out.push_back(std::move(s));
    };
    const fs::path dir(aptDirectory);
    std::error_code ec;
    const fs::path list = dir / "sources.list";
    if (fs::is_regular_file(list, ec))
        append(parseOneLineSources(readSourcesFile(list), list.string()));
    const fs::path parts = dir / "sources.list.d";
    if (!fs::is_directory(parts, ec)) return out;
    std::vector<std::string> names;
    fs::directory_iterator it(parts, ec);
    if (ec) throw Error("cannot list " + parts.string() + ": " + ec.message(), ExitStatus::kUsage);
    for (; it != fs::directory_iterator(); it.increment(ec)) {
        if (ec)
            throw Error("cannot list " + parts.string() + ": " + ec.message(), ExitStatus::kUsage);
        const std::string name = it->path().filename().string();
        if (!isSourcesFileName(name, ".list") && !isSourcesFileName(name, ".sources")) continue;
        std::error_code typeError;
        if (!fs::is_regular_file(it->path(), typeError)) continue;
        names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
        const fs::path path = parts / name;
        const std::string bytes = readSourcesFile(path);
        if (name.ends_with(".sources"))
            append(parseDeb822Sources(bytes, path.string()));
        else
            append(parseOneLineSources(bytes, path.string()));
    }
    return out;
}

bool isSecuritySuite(std::string_view suite) {
    return suite.size() > 9 && suite.ends_with("-security");
}

std::vector<AptSource> securitySources(const std::vector<AptSource>& entries) {
    std::vector<AptSource> out;
    for (AptSource source : entries) {
        if (!isSecuritySuite(source.suite)) continue;
        if (const auto why = prepare(source))
            throw Error(source.origin + ": " + *why, ExitStatus::kUsage);
        addMerged(out, std::move(source));
    }
    return out;
}

std::vector<AptSource> baseSources(const std::vector<AptSource>& entries,
                                   const std::vector<AptSource>& security) {
    std::vector<std::string> suites;
    for (const AptSource& s : security)
        if (isSecuritySuite(s.suite)) {
            std::string base = s.suite.substr(0, s.suite.size() - 9);
            if (std::find(suites.begin(), suites.end(), base) == suites.end())
                suites.push_back(std::move(base));
        }
    std::vector<AptSource> out;
    for (AptSource source : entries) {
        if (std::find(suites.begin(), suites.end(), source.suite) == suites.end()) continue;
        if (prepare(source)) continue;
        addMerged(out, std::move(source));
    }
    return out;
}

}  // namespace ingot::patch
