// A POSIX extended regular expression (libc's regcomp/regexec), what the rollout file's smoke
// `expect` is written in.
#pragma once

#include <regex.h>

#include <optional>
#include <string>
#include <vector>

namespace ingot::rollout {

class ConsolePattern {
public:
    // Throws ingot::Error (kUsage) with regcomp's message for a pattern it refuses.
    explicit ConsolePattern(const std::string& pattern);
    ~ConsolePattern();
    ConsolePattern(const ConsolePattern&) = delete;
    ConsolePattern& operator=(const ConsolePattern&) = delete;

    // The whole match and its groups, or nullopt.
    std::optional<std::vector<std::string>> search(const std::string& text) const;

private:
    regex_t regex_;
};

}  // namespace ingot::rollout
