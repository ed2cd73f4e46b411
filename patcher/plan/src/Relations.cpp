#include "Relations.h"

#include "PlanText.h"
#include "ingot/core/Error.h"

namespace ingot::patch {

namespace {

[[noreturn]] void bad(std::string_view field, const std::string& why) {
    throw Error(std::string(field) + ": " + why, ExitStatus::kUsage);
}

bool isNameChar(char c) {
    return text::isDigit(c) || (c >= 'a' && c <= 'z') || c == '+' || c == '-' || c == '.';
}

Alternative parseAlternative(std::string_view s, std::string_view field) {
    const std::string_view whole = s;
    Alternative a;
    size_t i = 0;
    while (i < s.size() && isNameChar(s[i])) ++i;
    a.name = std::string(s.substr(0, i));
    // Policy: at least two characters, starting with a letter or digit.
    if (a.name.size() < 2 || !(text::isDigit(a.name[0]) || (a.name[0] >= 'a' && a.name[0] <= 'z')))
        bad(field, "'" + text::printable(whole) + "' does not start with a package name");
    if (i < s.size() && s[i] == ':') {
        const size_t start = ++i;
        while (i < s.size() && (text::isDigit(s[i]) || (s[i] >= 'a' && s[i] <= 'z') || s[i] == '-'))
            ++i;
        a.archQualifier = std::string(s.substr(start, i - start));
        if (a.archQualifier.empty())
            bad(field, "'" + text::printable(whole) + "' has an empty architecture qualifier");
    }
    std::string_view rest = text::trim(s.substr(i));
    if (!rest.empty() && rest.front() == '(') {
        const size_t close = rest.find(')');
        if (close == std::string_view::npos)
            bad(field, "'" + text::printable(whole) + "' lacks its ')'");
        std::string_view inside = text::trim(rest.substr(1, close - 1));
        size_t opLength = 0;
        while (opLength < inside.size() && opLength < 2 &&
               (inside[opLength] == '<' || inside[opLength] == '>' || inside[opLength] == '='))
            ++opLength;
        std::string op(inside.substr(0, opLength));
        // dpkg still reads the obsolete "<" and ">" as "<=" and ">=".
        if (op == "<") op = "<=";
        if (op == ">") op = ">=";
        if (op != "<<" && op != "<=" && op != "=" && op != ">=" && op != ">>")
            bad(field, "'" + text::printable(whole) + "' has no valid relation operator");
        a.op = op;
        try {
            a.version = debian::Version::parse(inside.substr(opLength));
        } catch (const Error& e) {
            bad(field, "'" + text::printable(whole) + "': " + e.what());
        }
        rest = text::trim(rest.substr(close + 1));
    }
    if (!rest.empty())
        bad(field, "'" + text::printable(whole) + "' has '" + text::printable(rest, 40) +
                       "' after the relation (architecture lists and build profiles are for "
                       "source packages)");
    a.text = a.name + (a.archQualifier.empty() ? "" : ":" + a.archQualifier) +
             (a.version ? " (" + a.op + " " + a.version->text() + ")" : "");
    return a;
}

}  // namespace

bool Alternative::accepts(const debian::Version& candidate) const {
    if (!version) return true;
    const int c = debian::compareVersions(candidate, *version);
    if (op == "<<") return c < 0;
    if (op == "<=") return c <= 0;
    if (op == "=") return c == 0;
    if (op == ">=") return c >= 0;
    return c > 0;  // ">>"
}

std::vector<std::string_view> splitRelations(std::string_view s) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (start <= s.size()) {
        size_t end = s.find(',', start);
        if (end == std::string_view::npos) end = s.size();
        const std::string_view group = text::trim(s.substr(start, end - start));
        start = end + 1;
        if (!group.empty()) out.push_back(group);
    }
    return out;
}

std::vector<Relation> parseRelations(std::string_view s, std::string_view field) {
    std::vector<Relation> out;
    for (const std::string_view group : splitRelations(s)) {
        Relation relation;
        size_t from = 0;
        while (from <= group.size()) {
            size_t bar = group.find('|', from);
            if (bar == std::string_view::npos) bar = group.size();
            const std::string_view alternative = text::trim(group.substr(from, bar - from));
            from = bar + 1;
            if (alternative.empty())
                bad(field, "'" + text::printable(group) + "' has an empty alternative");
            relation.push_back(parseAlternative(alternative, field));
        }
        out.push_back(std::move(relation));
    }
    return out;
}

std::string relationText(const Relation& relation) {
    std::string out;
    for (const Alternative& a : relation) out += (out.empty() ? "" : " | ") + a.text;
    return out;
}

}  // namespace ingot::patch
