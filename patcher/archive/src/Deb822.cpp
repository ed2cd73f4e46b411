#include "ingot/debian/Deb822.h"

#include <unordered_set>

#include "ingot/debian/Text.h"
#include "ingot/core/Error.h"

namespace ingot::debian {

namespace {

[[noreturn]] void bad(const Deb822Options& options, size_t line, const std::string& why) {
    throw Error(options.source + " line " + std::to_string(line) + ": " + why, ExitStatus::kUsage);
}

// Debian policy 5.1: printable ASCII without space and colon, not starting with '#' or '-'.
bool isFieldName(std::string_view name) {
    if (name.empty() || name.front() == '#' || name.front() == '-') return false;
    for (char c : name)
        if (c < '!' || c > '~' || c == ':') return false;
    return true;
}

std::string lowered(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = text::lower(c);
    return out;
}

std::string_view trimBlanks(std::string_view s) {
    while (!s.empty() && text::isBlank(s.front())) s.remove_prefix(1);
    while (!s.empty() && text::isBlank(s.back())) s.remove_suffix(1);
    return s;
}

}  // namespace

const Field* Paragraph::find(std::string_view name) const {
    for (const auto& f : fields_)
        if (text::iequals(f.name, name)) return &f;
    return nullptr;
}

std::string Paragraph::get(std::string_view name) const {
    const Field* f = find(name);
    return f ? f->value : std::string();
}

std::optional<std::string> Paragraph::optional(std::string_view name) const {
    const Field* f = find(name);
    if (!f) return std::nullopt;
    return f->value;
}

std::vector<Paragraph> parseDeb822(std::string_view text, const Deb822Options& options) {
    if (text.size() > options.maxBytes)
        throw Error(options.source + ": " + std::to_string(text.size()) +
                        " bytes is more than the " + std::to_string(options.maxBytes) +
                        " bytes accepted",
                    ExitStatus::kUsage);
    std::vector<Paragraph> paragraphs;
    Paragraph current;
    std::unordered_set<std::string> names;  // lower case, to find repeats in one paragraph
    auto finish = [&] {
        if (!current.fields_.empty()) paragraphs.push_back(std::move(current));
        current = Paragraph();
        names.clear();
    };

    size_t lineNumber = 0;
    size_t start = 0;
    while (start < text.size()) {
        ++lineNumber;
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view line = text.substr(start, end - start);
        start = end + 1;
        if (line.size() > options.maxLineBytes)
            bad(options, lineNumber,
                "line longer than " + std::to_string(options.maxLineBytes) + " bytes");
        if (line.find('\0') != std::string_view::npos) bad(options, lineNumber, "NUL byte");

        if (trimBlanks(line).empty()) {
            finish();
            continue;
        }
        if (line.front() == '#') {
            if (options.allowComments) continue;
            bad(options, lineNumber, "comments are not allowed here");
        }
        if (text::isBlank(line.front())) {
            if (current.fields_.empty())
                bad(options, lineNumber, "continuation line with no field before it");
            Field& last = current.fields_.back();
            std::string_view more = line.substr(1);
            while (!more.empty() && text::isBlank(more.back())) more.remove_suffix(1);
            last.value += '\n';
            last.value += more;
            continue;
        }
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos)
            bad(options, lineNumber, "no ':' in '" + text::printable(line, 60) + "'");
        const std::string_view name = line.substr(0, colon);
        if (!isFieldName(name))
            bad(options, lineNumber, "'" + text::printable(name, 60) + "' is not a field name");
        if (!names.insert(lowered(name)).second)
            bad(options, lineNumber,
                "field " + std::string(name) + " appears twice in one paragraph");
        if (current.fields_.empty()) current.line_ = lineNumber;
        current.fields_.push_back(
            Field{std::string(name), std::string(trimBlanks(line.substr(colon + 1))), lineNumber});
    }
    finish();
    return paragraphs;
}

}  // namespace ingot::debian
