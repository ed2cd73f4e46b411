// Runs a host program (apt-get, mmdebstrap) with an argument vector, never through a shell, and
// collects what it printed. The builder calls peers this way where the field's own tool is the
// right one: apt resolves and downloads with the host's configuration, mmdebstrap bootstraps.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace ingot {

struct ProcessSpec {
    std::vector<std::string> argv;  // argv[0] is looked up in PATH
    std::vector<std::pair<std::string, std::string>> environment;  // added to the current one
    std::string directory;  // working directory; "" keeps the current one
    bool captureStdout = true;  // otherwise stdout is inherited (progress the user should see)
    // Kill the program (SIGKILL) once it has run this long; 0 waits for ever. A guest the
    // builder boots can hang where a host tool would not.
    int timeoutSeconds = 0;
};

struct ProcessOutput {
    int exitStatus = -1;  // -1 when killed by a signal
    std::string out;      // stdout when captured
    std::string err;      // stderr, always captured (the last 64 KiB)
    bool timedOut = false;  // killed because timeoutSeconds passed
};

// Starts the program and waits for it. Throws ingot::Error only when it cannot be started.
ProcessOutput runProcess(const ProcessSpec& spec);

// As runProcess, but a non-zero exit is an ingot::Error naming `what`, the command and the end
// of its stderr.
std::string runProcessOrThrow(const ProcessSpec& spec, const std::string& what);

}  // namespace ingot
