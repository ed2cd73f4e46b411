#pragma once

// For interop tests that drive real tools through a shell: finding a program and quoting words.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace ingot::test {

// The program's path on $PATH (then the sbin directories, where sfdisk lives), or "".
inline std::string findProgram(const std::string& name) {
    std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
    path += ":/usr/local/sbin:/usr/sbin:/sbin";
    size_t start = 0;
    while (start <= path.size()) {
        size_t colon = std::min(path.find(':', start), path.size());
        std::filesystem::path candidate = std::filesystem::path(path.substr(start, colon - start)) / name;
        if (colon > start && ::access(candidate.c_str(), X_OK) == 0) return candidate.string();
        start = colon + 1;
    }
    return {};
}

// `text` as one single-quoted shell word.
inline std::string quote(const std::string& text) {
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

struct ShellResult {
    int status;          // the exit status, -1 when the shell did not exit normally
    std::string output;  // stdout, and stderr too when merged
};

// Runs `command` through /bin/sh, in `directory` when one is given, with stdin from /dev/null
// (no tool may sit waiting for a terminal or a password; a command's own "<" still wins).
// Unmerged, stderr goes to the test's log.
inline ShellResult runShell(const std::string& command, const std::string& directory = {},
                            bool mergeStderr = true) {
    std::string shell = "{ " + command + "; } </dev/null";
    if (mergeStderr) shell += " 2>&1";
    if (!directory.empty()) shell = "cd " + quote(directory) + " && " + shell;
    FILE* pipe = ::popen(shell.c_str(), "r");
    if (!pipe) return {-1, "popen failed"};
    std::string output;
    char chunk[4096];
    while (size_t n = std::fread(chunk, 1, sizeof chunk, pipe)) output.append(chunk, n);
    int status = ::pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

}  // namespace ingot::test
