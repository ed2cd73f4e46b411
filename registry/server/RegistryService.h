// A running registry: the store under ROOT, the HTTP server and the online garbage collector,
// started and stopped together. ROOT is locked (flock on ROOT/lock) for as long as the service
// runs, so a second server or an offline `ingot registry gc` cannot work on it at the same time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "HttpServer.h"
#include "Router.h"

namespace ingot::registry {

struct ServiceOptions {
    std::string root;
    HttpOptions http;
    RouterLimits limits;
    std::chrono::seconds gcInterval{3600};  // 0: no online collection
    int64_t gcGraceSeconds = 3600;
    std::string authFile;  // empty: no access control (Access.h)
};

// Takes ROOT/lock exclusively; throws ingot::Error (kUsage) if another process holds it.
class RootLock {
public:
    explicit RootLock(const std::string& root);
    ~RootLock();
    RootLock(const RootLock&) = delete;
    RootLock& operator=(const RootLock&) = delete;

private:
    int fd_ = -1;
};

class RegistryService {
public:
    explicit RegistryService(ServiceOptions options);
    ~RegistryService();

    void start();
    uint16_t port() const;
    void stop();

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace ingot::registry
