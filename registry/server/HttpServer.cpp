#include "HttpServer.h"

// GCC 12 pairs asio's awaitable frame allocation (a recycling allocator with a sized class
// operator delete) with the wrong operator new after inlining and reports
// -Wmismatched-new-delete at every co_return; asio's own frames are correct.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <optional>
#include <thread>
#include <vector>

#include "RegistryError.h"
#include "ingot/core/Error.h"

namespace ingot::registry {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr size_t kPieceBytes = 256 << 10;
constexpr uint32_t kMaxHeaderBytes = 32 << 10;

void addCommonHeaders(http::fields& fields, const Response& response, bool keepAlive) {
    fields.set("Docker-Distribution-API-Version", "registry/2.0");
    for (const auto& [name, value] : response.headers) fields.insert(name, value);
    fields.set(http::field::connection, keepAlive ? "keep-alive" : "close");
}

// Runs a handler step, turning whatever it throws into the spec's error response.
template <typename Step>
std::optional<Response> guarded(Step&& step) {
    try {
        step();
        return std::nullopt;
    } catch (const RegistryError& e) {
        return errorResponse(e.status(), e.code(), e.what(), e.detail());
    } catch (const std::exception& e) {
        return errorResponse(500, "UNKNOWN", "internal error", e.what());
    }
}

struct FileCloser {
    int fd;
    ~FileCloser() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

struct HttpServer::State {
    Router& router;
    HttpOptions options;
    asio::io_context io;
    tcp::acceptor acceptor{io};
    std::vector<std::thread> threads;
    std::atomic<size_t> connections{0};
    std::atomic<bool> stopped{false};
    uint16_t port = 0;
    std::optional<asio::ssl::context> tls;

    State(Router& r, HttpOptions o) : router(r), options(std::move(o)), io(options.threads) {
        if (options.tlsCertificate.empty() != options.tlsKey.empty())
            throw Error("--tls-cert and --tls-key go together", ExitStatus::kUsage);
        if (options.tlsCertificate.empty()) return;
        tls.emplace(asio::ssl::context::tls_server);
        tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                         asio::ssl::context::no_tlsv1_1);
        boost::system::error_code ec;
        tls->use_certificate_chain_file(options.tlsCertificate, ec);
        if (ec)
            throw Error(
                "cannot load TLS certificate " + options.tlsCertificate + ": " + ec.message(),
                ExitStatus::kUsage);
        tls->use_private_key_file(options.tlsKey, asio::ssl::context::pem, ec);
        if (ec)
            throw Error("cannot load TLS key " + options.tlsKey + ": " + ec.message(),
                        ExitStatus::kUsage);
    }

    asio::awaitable<void> accept() {
        for (;;) {
            boost::system::error_code ec;
            tcp::socket socket = co_await acceptor.async_accept(
                asio::make_strand(io), asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
                continue;  // EMFILE and the like: keep serving the connections we have
            }
            if (connections.load() >= options.maxConnections) continue;  // closes it
            auto executor = socket.get_executor();
            if (tls)
                asio::co_spawn(executor, serveTls(std::move(socket)), asio::detached);
            else
                asio::co_spawn(executor, servePlain(std::move(socket)), asio::detached);
        }
    }

    asio::awaitable<void> servePlain(tcp::socket socket) {
        ++connections;
        struct Count {
            std::atomic<size_t>& n;
            ~Count() { --n; }
        } count{connections};
        beast::tcp_stream stream(std::move(socket));
        co_await serve(stream);
        // Closing with unread request bytes makes the kernel send a reset, which can destroy the
        // answer (a 403 or 416 to a large upload) before the client reads it: half-close, then
        // drain for a moment.
        boost::system::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
        std::vector<char> sink(64 << 10);
        size_t drained = 0;
        while (!ec && drained < (8u << 20)) {
            stream.expires_after(std::chrono::seconds(2));
            drained += co_await stream.async_read_some(
                asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
        }
        stream.close();
    }

    asio::awaitable<void> serveTls(tcp::socket socket) {
        ++connections;
        struct Count {
            std::atomic<size_t>& n;
            ~Count() { --n; }
        } count{connections};
        beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls);
        boost::system::error_code ec;
        beast::get_lowest_layer(stream).expires_after(options.idleTimeout);
        co_await stream.async_handshake(asio::ssl::stream_base::server,
                                        asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;  // not TLS, wrong version, or too slow: nothing to answer
        co_await serve(stream);
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
        co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
        beast::get_lowest_layer(stream).close();
    }

    template <typename Stream>
    asio::awaitable<void> serve(Stream& stream) {
        beast::flat_buffer buffer;
        std::vector<char> piece(kPieceBytes);
        boost::system::error_code ec;
        for (;;) {
            http::request_parser<http::buffer_body> parser;
            parser.header_limit(kMaxHeaderBytes);
            // Limits are the router's, per request type; Beast's default would refuse blobs.
            parser.body_limit(std::numeric_limits<std::uint64_t>::max());
            beast::get_lowest_layer(stream).expires_after(options.idleTimeout);
            co_await http::async_read_header(stream, buffer, parser,
                                             asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
                    ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
                    ec == asio::error::eof)
                    break;
                // A malformed head: answer once and close, the stream is not in sync any more.
                Response bad = errorResponse(ec == http::error::header_limit ? 431 : 400,
                                             "UNSUPPORTED", "malformed HTTP request", ec.message());
                co_await send(stream, bad, /*keepAlive=*/false, 11, ec);
                break;
            }
            auto& request = parser.get();
            RequestHead head;
            head.method = std::string(request.method_string());
            head.target = std::string(request.target());
            head.header = [&request](std::string_view name) -> std::optional<std::string> {
                auto it = request.find(beast::string_view(name.data(), name.size()));
                if (it == request.end()) return std::nullopt;
                return std::string(it->value());
            };
            RequestHandler handler = router.route(head);
            bool keepAlive = request.keep_alive();
            unsigned version = request.version();
            bool hasBody = !parser.is_done();
            std::optional<Response> response;

            bool smallBody =
                parser.content_length() && *parser.content_length() <= handler.bodyLimit;
            if (handler.refused && hasBody && !smallBody) {
                keepAlive = false;  // the body stays unread; servePlain drains what it can
            } else if (parser.content_length() && *parser.content_length() > handler.bodyLimit) {
                response = errorResponse(413, "SIZE_INVALID", "request body too large",
                                         "at most " + std::to_string(handler.bodyLimit) + " bytes");
                keepAlive = false;
            } else if (hasBody) {
                auto expect = request.find(http::field::expect);
                if (expect != request.end() && beast::iequals(expect->value(), "100-continue")) {
                    http::response<http::empty_body> proceed{http::status::continue_, version};
                    beast::get_lowest_layer(stream).expires_after(options.idleTimeout);
                    co_await http::async_write(stream, proceed,
                                               asio::redirect_error(asio::use_awaitable, ec));
                    if (ec) break;
                }
                uint64_t received = 0;
                while (!parser.is_done()) {
                    request.body().data = piece.data();
                    request.body().size = piece.size();
                    beast::get_lowest_layer(stream).expires_after(options.idleTimeout);
                    co_await http::async_read_some(stream, buffer, parser,
                                                   asio::redirect_error(asio::use_awaitable, ec));
                    if (ec == http::error::need_buffer) ec = {};
                    if (ec) break;
                    size_t got = piece.size() - request.body().size;
                    received += got;
                    if (received > handler.bodyLimit) {
                        response = errorResponse(
                            413, "SIZE_INVALID", "request body too large",
                            "at most " + std::to_string(handler.bodyLimit) + " bytes");
                        break;
                    }
                    response = guarded([&] { handler.onBody(piece.data(), got); });
                    if (response) break;
                }
                if (ec || response) {
                    if (handler.onAbort) guarded([&] { handler.onAbort(); });
                    if (ec) break;  // the client is gone or too slow: nobody to answer
                    keepAlive = false;
                }
            }
            if (!response) {
                Response answer;
                response = guarded([&] { answer = handler.onEnd(); });
                if (!response) response = std::move(answer);
            }
            handler = RequestHandler{};  // releases an upload before the answer goes out
            co_await send(stream, *response, keepAlive, version, ec);
            if (ec || !keepAlive) break;
        }
    }

    template <typename Stream>
    asio::awaitable<void> send(Stream& stream, const Response& response, bool keepAlive,
                               unsigned version, boost::system::error_code& ec) {
        auto status = static_cast<http::status>(response.status);
        beast::get_lowest_layer(stream).expires_after(options.idleTimeout);
        if (response.headOnly) {
            http::response<http::empty_body> r{status, version};
            addCommonHeaders(r.base(), response, keepAlive);
            r.set(http::field::content_length,
                  std::to_string(response.headLength.value_or(response.body.size())));
            http::response_serializer<http::empty_body> serializer{r};
            co_await http::async_write_header(stream, serializer,
                                              asio::redirect_error(asio::use_awaitable, ec));
            co_return;
        }
        if (response.filePath.empty()) {
            http::response<http::string_body> r{status, version};
            addCommonHeaders(r.base(), response, keepAlive);
            r.body() = response.body;
            r.prepare_payload();
            co_await http::async_write(stream, r, asio::redirect_error(asio::use_awaitable, ec));
            co_return;
        }
        FileCloser file{::open(response.filePath.c_str(), O_RDONLY | O_CLOEXEC)};
        if (file.fd < 0) {
            // Collected between the lookup and now.
            Response gone = errorResponse(404, "BLOB_UNKNOWN", "blob unknown to registry");
            co_await send(stream, gone, keepAlive, version, ec);
            co_return;
        }
        http::response<http::buffer_body> r{status, version};
        addCommonHeaders(r.base(), response, keepAlive);
        r.content_length(response.fileLength);
        r.body().data = nullptr;
        r.body().more = true;
        http::response_serializer<http::buffer_body> serializer{r};
        co_await http::async_write_header(stream, serializer,
                                          asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        std::vector<char> piece(kPieceBytes);
        uint64_t offset = response.fileOffset, left = response.fileLength;
        while (left > 0) {
            ssize_t n = ::pread(file.fd, piece.data(), std::min<uint64_t>(left, piece.size()),
                                static_cast<off_t>(offset));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                // The length is promised already: closing is the only honest signal left.
                ec = asio::error::broken_pipe;
                co_return;
            }
            r.body().data = piece.data();
            r.body().size = static_cast<size_t>(n);
            r.body().more = true;
            beast::get_lowest_layer(stream).expires_after(options.idleTimeout);
            co_await http::async_write(stream, serializer,
                                       asio::redirect_error(asio::use_awaitable, ec));
            if (ec == http::error::need_buffer) ec = {};
            if (ec) co_return;
            offset += static_cast<uint64_t>(n);
            left -= static_cast<uint64_t>(n);
        }
        r.body().data = nullptr;
        r.body().size = 0;
        r.body().more = false;
        co_await http::async_write(stream, serializer,
                                   asio::redirect_error(asio::use_awaitable, ec));
    }
};

HttpServer::HttpServer(Router& router, HttpOptions options)
    : state_(std::make_unique<State>(router, std::move(options))) {}

HttpServer::~HttpServer() {
    stop();
}

void HttpServer::start() {
    State& s = *state_;
    boost::system::error_code ec;
    asio::ip::address address = asio::ip::make_address(s.options.address, ec);
    if (ec)
        throw Error("--listen: \"" + s.options.address + "\" is not an IP address",
                    ExitStatus::kUsage);
    tcp::endpoint endpoint(address, s.options.port);
    s.acceptor.open(endpoint.protocol(), ec);
    if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) s.acceptor.bind(endpoint, ec);
    if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        throw Error("cannot listen on " + s.options.address + ":" + std::to_string(s.options.port) +
                        ": " + ec.message(),
                    ExitStatus::kUsage);
    s.port = s.acceptor.local_endpoint().port();
    asio::co_spawn(s.io, s.accept(), asio::detached);
    for (int i = 0; i < std::max(1, s.options.threads); ++i)
        s.threads.emplace_back([&s] { s.io.run(); });
}

uint16_t HttpServer::port() const {
    return state_->port;
}

void HttpServer::stop() {
    State& s = *state_;
    if (s.stopped.exchange(true)) return;
    s.io.stop();
    for (std::thread& t : s.threads)
        if (t.joinable()) t.join();
    boost::system::error_code ec;
    s.acceptor.close(ec);
}

}  // namespace ingot::registry
