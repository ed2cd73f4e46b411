#include "RegistryService.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include "GarbageCollector.h"
#include "ingot/core/Error.h"

namespace ingot::registry {

RootLock::RootLock(const std::string& root) {
    std::error_code ec;
    std::filesystem::create_directories(root, ec);
    std::string path = root + "/lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throwSystemError("cannot open " + path, errno, ExitStatus::kUsage);
    if (::flock(fd_, LOCK_EX | LOCK_NB) < 0) {
        ::close(fd_);
        throw Error(root + " is in use by another ingot registry process (" + path + " is locked)",
                    ExitStatus::kUsage);
    }
}

RootLock::~RootLock() {
    if (fd_ >= 0) ::close(fd_);
}

struct RegistryService::State {
    ServiceOptions options;
    RootLock lock;
    Storage storage;
    Uploads uploads{storage};
    std::unique_ptr<Access> access;
    Router router{storage, uploads, options.limits, access.get()};
    HttpServer server{router, options.http};
    std::thread collector;
    std::mutex mutex;
    std::condition_variable wake;
    bool stopping = false;

    explicit State(ServiceOptions o)
        : options(std::move(o)),
          lock(options.root),
          storage(options.root),
          access(options.authFile.empty() ? nullptr : Access::load(options.authFile)) {
        if (access) access->setTls(!options.http.tlsCertificate.empty());
    }

    void collectPeriodically() {
        std::unique_lock guard(mutex);
        while (!wake.wait_for(guard, options.gcInterval, [this] { return stopping; })) {
            guard.unlock();
            try {
                CollectionReport r = collectGarbage(storage, uploads, options.gcGraceSeconds);
                if (r.blobsDeleted || r.uploadsRemoved)
                    std::cerr << "ingot registry: collected " << r.blobsDeleted << " blob(s), "
                              << r.bytesDeleted << " bytes, " << r.uploadsRemoved
                              << " stale upload(s)\n";
            } catch (const std::exception& e) {
                std::cerr << "ingot registry: garbage collection failed: " << e.what() << "\n";
            }
            guard.lock();
        }
    }
};

RegistryService::RegistryService(ServiceOptions options)
    : state_(std::make_unique<State>(std::move(options))) {}

RegistryService::~RegistryService() {
    stop();
}

void RegistryService::start() {
    state_->server.start();
    if (state_->options.gcInterval.count() > 0)
        state_->collector = std::thread([s = state_.get()] { s->collectPeriodically(); });
}

uint16_t RegistryService::port() const {
    return state_->server.port();
}

void RegistryService::stop() {
    {
        std::lock_guard guard(state_->mutex);
        state_->stopping = true;
    }
    state_->wake.notify_all();
    if (state_->collector.joinable()) state_->collector.join();
    state_->server.stop();
}

}  // namespace ingot::registry
