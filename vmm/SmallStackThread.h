#pragma once

#include <pthread.h>

#include <functional>
#include <memory>
#include <system_error>

namespace ingot::vmm {

// A joinable thread with a small stack. glibc gives each thread an 8 MiB stack mapping; with
// transparent huge pages set to "always" the first touch of such a mapping can pull in a whole
// 2 MiB page, which alone would break the monitor's 5 MiB resident-memory budget. A 256 KiB
// mapping cannot hold a huge page, and the monitor's threads never recurse deeply.
class SmallStackThread {
public:
    static constexpr size_t kStackBytes = 256 * 1024;

    SmallStackThread() = default;
    explicit SmallStackThread(std::function<void()> body) {
        auto heapBody = std::make_unique<std::function<void()>>(std::move(body));
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, kStackBytes);
        int rc = pthread_create(
            &thread_, &attr,
            [](void* arg) -> void* {
                std::unique_ptr<std::function<void()>> fn(static_cast<std::function<void()>*>(arg));
                (*fn)();
                return nullptr;
            },
            heapBody.get());
        pthread_attr_destroy(&attr);
        if (rc != 0) throw std::system_error(rc, std::generic_category(), "pthread_create");
        heapBody.release();
        joinable_ = true;
    }
    SmallStackThread(SmallStackThread&& other) noexcept
        : thread_(other.thread_), joinable_(other.joinable_) {
        other.joinable_ = false;
    }
    SmallStackThread& operator=(SmallStackThread&& other) noexcept {
        if (this != &other) {
            join();
            thread_ = other.thread_;
            joinable_ = other.joinable_;
            other.joinable_ = false;
        }
        return *this;
    }
    SmallStackThread(const SmallStackThread&) = delete;
    SmallStackThread& operator=(const SmallStackThread&) = delete;
    ~SmallStackThread() { join(); }

    bool joinable() const { return joinable_; }
    pthread_t nativeHandle() const { return thread_; }
    void join() {
        if (joinable_) {
            pthread_join(thread_, nullptr);
            joinable_ = false;
        }
    }

private:
    pthread_t thread_{};
    bool joinable_ = false;
};

}  // namespace ingot::vmm
