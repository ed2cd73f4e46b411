// The smoke boot: a candidate image has to show, in a throwaway clone, that it comes up and
// works before any client can get it. The clone is driven through its console the way a person
// would: wait for the prompt, type each check, read its exit status back.
#pragma once

#include <string>
#include <vector>

#include "ingot/rollout/RolloutConfig.h"
#include "ingot/rollout/RolloutReport.h"

namespace ingot::rollout {

struct SmokeRequest {
    // What boots the clone with its console on stdin and stdout (`ingot run --rm … IMAGE`).
    // It runs in a process group of its own; SIGTERM must stop the clone.
    std::vector<std::string> command;
    SmokeSpec spec;
    std::string consoleLog;  // everything the console printed, written as it comes
};

// Boots, checks and stops. Never throws for what the guest does: a clone that does not reach
// the prompt in time, stops early or fails a check gives result "failed" and a reason with the
// console's last line, as does a command that cannot be executed (exit status 127); only
// what the rollout itself cannot do (pipes, fork, the log file) throws.
SmokeOutcome runSmoke(const SmokeRequest& request);

// The console text as a person reads it: carriage returns and terminal escape sequences
// (colours, bracketed paste, cursor moves) taken out. Keeps its state between calls, since a
// sequence may be split across reads.
class ConsoleText {
public:
    std::string feed(const std::string& bytes);

private:
    enum class State { kText, kEscape, kCsi, kString } state_ = State::kText;
};

}  // namespace ingot::rollout
