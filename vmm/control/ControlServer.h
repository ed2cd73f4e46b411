#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "SmallStackThread.h"

namespace ingot::vmm {

// The monitor's control socket (docs/vmm.md, "Control socket"): one JSON request per line in,
// one JSON answer per line out, from clients of the monitor's own user (or root). `ingot stats`,
// `ingot top` and `ingot update` talk to a running VM through it.
//
// One client is served at a time on one thread: requests are rare and short, and a client that
// stalls is cut off at its deadline, so it cannot hold the socket.
class ControlServer {
public:
    // Answers one request; an exception becomes {"error": what()}.
    using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;
    static constexpr size_t kRequestLimit = 64 * 1024;

    // Listens on `name` (a path, or @NAME in the abstract namespace) at once, so a bad name is
    // a usage error before the VM boots; serves from `start`.
    explicit ControlServer(const std::string& name);
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    void start(Handler handler);

private:
    void serve();
    void serveClient(int client);

    std::string name_;
    int listener_ = -1;
    int wake_ = -1;
    Handler handler_;
    SmallStackThread thread_;
};

}  // namespace ingot::vmm
