#include "MonitorControl.h"

#include <unistd.h>

#include <filesystem>

#include "ingot/core/Error.h"
#include "ingot/core/LineSocket.h"
#include "ingot/oci/Manifests.h"

namespace ingot::cli {

namespace {
// Answers carry the accounting of every vCPU and the guest's /proc/stat: well under this.
constexpr size_t kAnswerLimit = 4 << 20;
}  // namespace

namespace {
// sha256 of the directory's real path, in hex.
std::string directoryHash(const std::string& dir) {
    std::error_code error;
    std::string real = std::filesystem::canonical(dir, error).string();
    if (error) throw Error("cannot find " + dir + ": " + error.message(), ExitStatus::kUsage);
    return oci::sha256Digest(real).substr(7);
}
}  // namespace

std::string controlSocketName(const std::string& dir) {
    return "@ingot-control-" + directoryHash(dir).substr(0, 40);
}

std::string monitorName(const std::string& dir, const std::string& name) {
    return name + "." + directoryHash(dir).substr(0, 8);
}

nlohmann::json askMonitor(const store::Store& store, const std::string& name,
                          const nlohmann::json& request, std::chrono::seconds timeout) {
    store.vm(name);  // a clear error for a name that is no clone
    if (!store.state(name).running) throw Error(name + " is not running", ExitStatus::kUsage);
    const std::string socket = controlSocketName(store.vmDir(name));
    int fd = -1;
    try {
        fd = connectUnixSocket(socket);
    } catch (const Error& e) {
        throw Error(name + " is running, but its monitor has no control socket (" + e.what() +
                        "); it was started by an older ingot: restart it to use this",
                    ExitStatus::kUsage);
    }
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string buffer;
    std::optional<std::string> line;
    try {
        writeAllBefore(fd, request.dump() + "\n", deadline);
        line = readLine(fd, buffer, kAnswerLimit, deadline);
    } catch (const Error& e) {
        throw Error("the monitor of " + name + ": " + e.what());
    }
    if (!line) throw Error("the monitor of " + name + " hung up without answering");
    nlohmann::json answer = nlohmann::json::parse(*line, nullptr, false);
    if (answer.is_discarded() || !answer.is_object())
        throw Error("the monitor of " + name + " answered with something that is not a JSON object");
    if (auto error = answer.find("error"); error != answer.end())
        throw Error(name + ": " + (error->is_string() ? error->get<std::string>() : error->dump()),
                    ExitStatus::kUsage);
    return answer;
}

}  // namespace ingot::cli
