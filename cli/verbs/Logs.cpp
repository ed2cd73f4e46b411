// ingot logs NAME [-f]: what a clone's console printed (vms/NAME/console.log, kept by its
// supervisor, with the rotated console.log.1 first); -f follows it while the clone runs.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "Verb.h"
#include "console/VmSupervisor.h"
#include "console/WriteAll.h"
#include "ingot/core/Error.h"
#include "ingot/store/Store.h"

namespace ingot::cli {
namespace {

struct LogsOptions {
    std::string name;
    bool follow = false;
    std::string root;
};

// Copies what `fd` holds from its offset on to stdout.
void copyToStdout(int fd) {
    std::vector<char> buffer(65536);
    for (;;) {
        ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        if (!console::writeAll(STDOUT_FILENO, buffer.data(), static_cast<size_t>(n)))
            throw Error("cannot write to stdout", ExitStatus::kInternal);
    }
}

int runLogs(const LogsOptions& o) {
    store::Store store(o.root.empty() ? store::defaultRoot() : o.root);
    store.vm(o.name);
    const std::string path = console::consoleLogPath(store.vmDir(o.name));
    if (int old = ::open((path + ".1").c_str(), O_RDONLY | O_CLOEXEC); old >= 0) {
        copyToStdout(old);
        ::close(old);
    }
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) throwSystemError("cannot read " + path, errno);
    if (fd >= 0) copyToStdout(fd);
    if (!o.follow) {
        if (fd >= 0) ::close(fd);
        return 0;
    }
    for (;;) {
        bool running = store.state(o.name).running;
        // Rotated (or first created) under us: the new file, from its start.
        struct stat onDisk {}, open {};
        if (::stat(path.c_str(), &onDisk) == 0 &&
            (fd < 0 || (::fstat(fd, &open) == 0 && open.st_ino != onDisk.st_ino))) {
            if (fd >= 0) {
                copyToStdout(fd);
                ::close(fd);
            }
            fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        }
        if (fd >= 0) copyToStdout(fd);
        if (!running) break;  // read once more after it stopped: its last lines
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (fd >= 0) ::close(fd);
    return 0;
}

}  // namespace

Verb addLogsVerb(CLI::App& app) {
    auto o = std::make_shared<LogsOptions>();
    CLI::App* cmd = app.add_subcommand("logs", "print a clone's console output");
    cmd->add_option("NAME", o->name, "clone name")->required();
    cmd->add_flag("-f,--follow", o->follow, "keep printing while the clone runs");
    addStoreOption(cmd, o->root);
    return {cmd, [o] { return runLogs(*o); }};
}

}  // namespace ingot::cli
