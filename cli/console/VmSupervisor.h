// The process that keeps a clone running whether or not a terminal is attached to it. `ingot run`
// forks it into a session of its own; it holds the clone's lease, runs ingot-vmm on a
// pseudo-terminal, appends everything the console prints to vms/NAME/console.log and relays the
// console to whoever connects to its socket (ConsoleClient.h; an abstract-namespace name
// derived from the clone directory's path, open to the same user only). When the monitor exits
// it hangs up on its clients, tells its starter the exit status if that one still listens, and
// exits (removing the clone first for `--rm`).
#pragma once

#include <string>
#include <vector>

namespace ingot::cli::console {

struct SupervisedVm {
    std::string storeRoot;
    std::string name;
    std::string dir;                 // vms/NAME
    std::vector<std::string> argv;   // the monitor's, argv[0] its path
    bool removeWhenStopped = false;  // --rm
    // The foreground run: the monitor starts only once the first client is attached, so the
    // terminal sees the console from the firmware's first line.
    bool waitForAttach = false;
};

// A started supervisor, as the process that started it sees it.
class Supervisor {
public:
    // Returns once the socket listens (and, unless waitForAttach, the monitor runs); throws
    // ingot::Error with the supervisor's reason when it could not get there.
    static Supervisor start(const SupervisedVm& vm);

    Supervisor(Supervisor&& other) noexcept : pipe_(other.pipe_) { other.pipe_ = -1; }
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;
    ~Supervisor();

    // Blocks until the monitor has exited; its exit status (128 + signal when killed).
    int waitForExit();

private:
    explicit Supervisor(int pipe) : pipe_(pipe) {}
    int pipe_;  // the supervisor's report: "ok\n" once started, "exit N\n" at the end
};

std::string consoleLogPath(const std::string& dir);

// A socket connected to the clone's console; throws ingot::Error (kUsage) when nothing listens
// there (the clone is not running).
int connectConsole(const std::string& dir, const std::string& name);

// The console log is rotated to console.log.1 when it passes this size: a guest that prints
// forever must not fill the host's disk.
constexpr size_t kConsoleLogLimit = 8 << 20;

}  // namespace ingot::cli::console
