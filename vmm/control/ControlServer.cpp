#include "control/ControlServer.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "ingot/core/Error.h"
#include "ingot/core/LineSocket.h"

namespace ingot::vmm {
namespace {

// A client gets this long per request to send it and to take the answer. Answers that ask the
// guest agent wait for it within this too.
constexpr auto kClientDeadline = std::chrono::seconds(10);

}  // namespace

ControlServer::ControlServer(const std::string& name)
    : name_(name), listener_(listenUnixSocket(name)), wake_(::eventfd(0, EFD_CLOEXEC)) {
    if (wake_ < 0) {
        ::close(listener_);
        throwSystemError("eventfd", errno);
    }
}

ControlServer::~ControlServer() {
    uint64_t one = 1;
    if (::write(wake_, &one, sizeof one) < 0) {
    }
    if (thread_.joinable()) thread_.join();
    ::close(listener_);
    ::close(wake_);
    if (!name_.empty() && name_[0] != '@') ::unlink(name_.c_str());
}

void ControlServer::start(Handler handler) {
    handler_ = std::move(handler);
    thread_ = SmallStackThread([this] { serve(); });
}

void ControlServer::serve() {
    pthread_setname_np(pthread_self(), "control");
    for (;;) {
        pollfd fds[2] = {{listener_, POLLIN, 0}, {wake_, POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (fds[1].revents) return;
        int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) continue;
        if (peerIsSameUser(client)) serveClient(client);
        ::close(client);
    }
}

void ControlServer::serveClient(int client) {
    std::string buffer;
    for (;;) {
        const auto deadline = std::chrono::steady_clock::now() + kClientDeadline;
        nlohmann::json answer;
        bool hangUp = false;
        try {
            std::optional<std::string> line = readLine(client, buffer, kRequestLimit, deadline);
            if (!line) return;
            nlohmann::json request = nlohmann::json::parse(*line, nullptr, false);
            if (request.is_discarded() || !request.is_object()) {
                answer = {{"error", "a request is one JSON object per line"}};
            } else {
                try {
                    answer = handler_(request);
                } catch (const std::exception& e) {
                    answer = {{"error", e.what()}};
                }
            }
        } catch (const std::exception& e) {
            // The framing is lost once a line was too long or too slow: answer, then hang up.
            answer = {{"error", std::string("request refused: ") + e.what()}};
            hangUp = true;
        }
        try {
            writeAllBefore(
                client,
                answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                deadline);
        } catch (const std::exception&) {
            return;
        }
        if (hangUp) return;
    }
}

}  // namespace ingot::vmm
