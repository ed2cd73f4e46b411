// registry_bench: the wire-level half of bench/registry (bench/registry/run drives it).
//
// `registry_bench get`: manifest GET latency under concurrent clients. Each of --clients threads
// owns one libcurl handle (so one kept-alive connection, as a puller's session has) and does
// --requests GETs of the same manifest by tag with an Accept header naming its media type
// (distribution answers 404 to an OCI manifest GET that does not accept OCI). The threads start
// together after one untimed GET each has opened its connection; a request counts only when it
// got 200 and the body it expected. Prints one line of key=value pairs: latency percentiles in
// microseconds over all requests, and requests per second over the wall time of the timed part.
//
// `registry_bench proxy`: a TCP relay on a free loopback port that counts the bytes it moves each
// way, so what a pull transferred is measured on the wire, headers and manifests included,
// whatever the server and client are written in (the server's /proc/PID/io cannot say: asio
// sends with sendmsg, which the kernel does not count as wchar). Prints "port=N" once it
// listens, and the counts when SIGTERM or SIGINT stops it.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <barrier>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../support/Median.h"

namespace {

using Clock = std::chrono::steady_clock;

size_t countBytes(char*, size_t size, size_t count, void* total) {
    *static_cast<uint64_t*>(total) += size * count;
    return size * count;
}

// Nearest rank: the smallest value with at least p percent of the values at or below it.
double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t rank = static_cast<size_t>(std::ceil(p / 100 * v.size()));
    return v[rank == 0 ? 0 : rank - 1];
}

struct Client {
    std::vector<double> micros;
    uint64_t failures = 0;
    uint64_t bytes = 0;
    std::string firstFailure;
};

// One relayed connection; the last of its two pumps to finish closes both sockets.
struct Relay {
    int client, server;
    Relay(int c, int s) : client(c), server(s) {}
    Relay(const Relay&) = delete;
    Relay& operator=(const Relay&) = delete;
    ~Relay() {
        ::close(client);
        ::close(server);
    }
};

// Holding `relay` keeps both sockets open until this direction is done.
void pump(std::shared_ptr<Relay> relay, bool fromServer, std::atomic<uint64_t>& counter) {
    const int from = fromServer ? relay->server : relay->client;
    const int to = fromServer ? relay->client : relay->server;
    std::vector<char> buffer(256 * 1024);
    for (;;) {
        ssize_t n = ::read(from, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = ::write(to, buffer.data() + done, static_cast<size_t>(n - done));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                ::shutdown(from, SHUT_RD);
                return;
            }
            done += w;
        }
        counter += static_cast<uint64_t>(n);
    }
    // Half-close, so the other side sees the end of this direction and the other pump goes on.
    ::shutdown(to, SHUT_WR);
}

int runProxy(const std::string& upstream) {
    auto colon = upstream.rfind(':');
    sockaddr_in target{};
    target.sin_family = AF_INET;
    char* end = nullptr;
    unsigned long port = colon == std::string::npos ? 0 : std::strtoul(upstream.c_str() + colon + 1, &end, 10);
    if (colon == std::string::npos || ::inet_pton(AF_INET, upstream.substr(0, colon).c_str(), &target.sin_addr) != 1 ||
        port == 0 || port > 65535 || *end) {
        std::fprintf(stderr, "registry_bench proxy: --upstream %s is not IPv4-ADDRESS:PORT\n", upstream.c_str());
        return 2;
    }
    target.sin_port = htons(static_cast<uint16_t>(port));

    // Blocked before any thread exists, so only the sigwait below receives them.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) < 0 ||
        ::listen(listener, 128) < 0 || ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) < 0) {
        std::perror("registry_bench proxy: cannot listen on 127.0.0.1");
        return 1;
    }
    std::printf("port=%u\n", ntohs(address.sin_port));
    std::fflush(stdout);

    static std::atomic<uint64_t> toClient{0}, toServer{0}, connections{0};
    std::thread([listener, target] {
        for (;;) {
            int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
            if (client < 0) {
                if (errno == EINTR || errno == ECONNABORTED) continue;
                std::perror("registry_bench proxy: accept");
                return;
            }
            int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (server < 0 || ::connect(server, reinterpret_cast<const sockaddr*>(&target), sizeof target) < 0) {
                ::close(client);
                if (server >= 0) ::close(server);
                continue;
            }
            int one = 1;
            ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            ++connections;
            auto relay = std::make_shared<Relay>(client, server);
            std::thread(pump, relay, false, std::ref(toServer)).detach();
            std::thread(pump, relay, true, std::ref(toClient)).detach();
        }
    }).detach();

    int received = 0;
    sigwait(&stop, &received);
    std::printf("to_client_bytes=%llu to_server_bytes=%llu connections=%llu\n",
                static_cast<unsigned long long>(toClient.load()), static_cast<unsigned long long>(toServer.load()),
                static_cast<unsigned long long>(connections.load()));
    std::fflush(stdout);
    // The relay threads are detached and may sit in read(): leave without unwinding them.
    ::_exit(0);
}

int runGet(const std::string& url, const std::string& accept, unsigned clients, unsigned requests,
           uint64_t expectBytes) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    std::vector<Client> results(clients);
    std::barrier ready(static_cast<std::ptrdiff_t>(clients) + 1);
    std::barrier done(static_cast<std::ptrdiff_t>(clients) + 1);
    std::vector<std::thread> threads;
    for (unsigned c = 0; c < clients; ++c) {
        threads.emplace_back([&, c] {
            Client& me = results[c];
            CURL* curl = curl_easy_init();
            const std::string header = "Accept: " + accept;
            curl_slist* headers = curl_slist_append(nullptr, header.c_str());
            uint64_t body = 0;
            curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
            curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
            curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, countBytes);
            curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
            curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
            auto get = [&]() {
                body = 0;
                CURLcode rc = curl_easy_perform(curl);
                long status = 0;
                curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
                bool ok = rc == CURLE_OK && status == 200 && body > 0 && (!expectBytes || body == expectBytes);
                if (!ok && me.firstFailure.empty())
                    me.firstFailure = std::string(curl_easy_strerror(rc)) + ", HTTP " + std::to_string(status) +
                                      ", " + std::to_string(body) + " bytes";
                return ok;
            };
            get();
            ready.arrive_and_wait();
            me.micros.reserve(requests);
            for (unsigned i = 0; i < requests; ++i) {
                auto start = Clock::now();
                bool ok = get();
                auto elapsed = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
                if (ok) {
                    me.micros.push_back(elapsed);
                    me.bytes += body;
                } else {
                    ++me.failures;
                }
            }
            done.arrive_and_wait();
            curl_slist_free_all(headers);
            curl_easy_cleanup(curl);
        });
    }
    ready.arrive_and_wait();
    auto start = Clock::now();
    done.arrive_and_wait();
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (auto& t : threads) t.join();
    curl_global_cleanup();

    std::vector<double> all;
    uint64_t failures = 0, bytes = 0;
    std::string firstFailure;
    for (const auto& r : results) {
        all.insert(all.end(), r.micros.begin(), r.micros.end());
        failures += r.failures;
        bytes += r.bytes;
        if (firstFailure.empty()) firstFailure = r.firstFailure;
    }
    std::printf("requests=%zu failures=%llu seconds=%.3f p50_us=%.0f p99_us=%.0f rps=%.0f body_bytes=%llu\n",
                all.size(), static_cast<unsigned long long>(failures), seconds, ingot::bench::median(all),
                percentile(all, 99), all.size() / seconds,
                static_cast<unsigned long long>(all.empty() ? 0 : bytes / all.size()));
    if (failures) std::fprintf(stderr, "registry_bench: %llu failed GETs of %s; first: %s\n",
                               static_cast<unsigned long long>(failures), url.c_str(), firstFailure.c_str());
    return failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"registry_bench: manifest GET latency under concurrent clients, and a byte-counting relay"};
    app.require_subcommand(1);
    std::string url, accept = "application/vnd.oci.image.manifest.v1+json", upstream;
    unsigned clients = 32, requests = 200;
    uint64_t expectBytes = 0;
    CLI::App* get = app.add_subcommand("get", "GET one URL from concurrent clients; latency percentiles and req/s");
    get->add_option("--url", url, "http://HOST:PORT/v2/REPOSITORY/manifests/TAG")->required();
    get->add_option("--accept", accept, "Accept header value")->capture_default_str();
    get->add_option("--clients", clients, "concurrent clients (threads)")->capture_default_str()->check(CLI::Range(1, 1024));
    get->add_option("--requests", requests, "GETs per client")->capture_default_str()->check(CLI::Range(1u, 1000000u));
    get->add_option("--expect-bytes", expectBytes, "body size a good answer has (0: any non-empty body)");
    CLI::App* proxy = app.add_subcommand("proxy", "relay 127.0.0.1:<free port> to --upstream, counting bytes");
    proxy->add_option("--upstream", upstream, "IPv4-ADDRESS:PORT to relay to")->required();
    CLI11_PARSE(app, argc, argv);
    if (proxy->parsed()) return runProxy(upstream);
    return runGet(url, accept, clients, requests, expectBytes);
}
