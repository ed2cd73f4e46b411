// The HTTP side of the registry: Boost.Beast over asio, one coroutine per connection on a strand,
// a small pool of threads, plain HTTP or TLS (OpenSSL through asio::ssl). Request bodies are read
// in pieces into the router's handler (never whole), blob responses are streamed from their file,
// every read and write has a timeout so a slow or silent client cannot hold a connection forever,
// and connections are kept alive.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "Router.h"

namespace ingot::registry {

struct HttpOptions {
    std::string address = "127.0.0.1";
    uint16_t port = 5000;  // 0: any free port (see HttpServer::port)
    int threads = 4;
    std::chrono::seconds idleTimeout{60};  // between requests and between pieces of a body
    size_t maxConnections = 1024;
    // PEM files; both empty: plain HTTP. With them every connection must speak TLS 1.2 or 1.3.
    std::string tlsCertificate;
    std::string tlsKey;
};

class HttpServer {
public:
    HttpServer(Router& router, HttpOptions options);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds and listens; throws ingot::Error naming the address when that fails.
    void start();
    // The port bound by start().
    uint16_t port() const;
    // Stops accepting, closes every connection and joins the threads; idempotent.
    void stop();

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace ingot::registry
