#include "ingot/rollout/ConsolePattern.h"

#include "ingot/core/Error.h"

namespace ingot::rollout {

ConsolePattern::ConsolePattern(const std::string& pattern) {
    const int error = ::regcomp(&regex_, pattern.c_str(), REG_EXTENDED | REG_NEWLINE);
    if (error != 0) {
        char message[256];
        ::regerror(error, &regex_, message, sizeof message);
        throw Error("'" + pattern + "' is not a POSIX extended regular expression: " + message,
                    ExitStatus::kUsage);
    }
}

ConsolePattern::~ConsolePattern() { ::regfree(&regex_); }

std::optional<std::vector<std::string>> ConsolePattern::search(const std::string& text) const {
    regmatch_t groups[10];
    if (::regexec(&regex_, text.c_str(), 10, groups, 0) != 0) return std::nullopt;
    std::vector<std::string> out;
    // A group that took no part in the match is empty; the groups after it still count.
    for (size_t k = 0; k < 10 && k <= regex_.re_nsub; ++k) {
        const regmatch_t& g = groups[k];
        out.push_back(g.rm_so < 0 ? std::string()
                                  : text.substr(static_cast<size_t>(g.rm_so),
                                                static_cast<size_t>(g.rm_eo - g.rm_so)));
    }
    return out;
}

}  // namespace ingot::rollout
