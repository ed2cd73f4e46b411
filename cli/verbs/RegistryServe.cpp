// ingot registry serve --root DIR --listen ADDR:PORT: the OCI distribution server
// (docs/registry.md). Runs until SIGTERM or SIGINT, then stops accepting, closes connections and
// leaves uploads in progress where a restarted server can resume them.
#include <signal.h>

#include <cstdint>
#include <iostream>
#include <memory>
#include <string>

#include "Verb.h"
#include "ingot/core/Error.h"
#include "server/RegistryService.h"

namespace ingot::cli {
namespace {

struct ServeOptions {
    std::string root;
    std::string listen = "127.0.0.1:5000";
    int threads = 4;
    int64_t gcIntervalSeconds = 3600;
    int64_t gcGraceSeconds = 3600;
    std::string authFile;
    std::string tlsCertificate;
    std::string tlsKey;
};

// "ADDR:PORT", with "[v6]:PORT" for IPv6.
std::pair<std::string, uint16_t> splitListen(const std::string& listen) {
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos || colon + 1 == listen.size())
        throw Error("--listen \"" + listen + "\": expected ADDRESS:PORT, e.g. 127.0.0.1:5000",
                    ExitStatus::kUsage);
    std::string address = listen.substr(0, colon);
    if (address.size() >= 2 && address.front() == '[' && address.back() == ']')
        address = address.substr(1, address.size() - 2);
    unsigned long port = 0;
    try {
        size_t used = 0;
        port = std::stoul(listen.substr(colon + 1), &used);
        if (used != listen.size() - colon - 1 || port > 65535) throw std::out_of_range("port");
    } catch (const std::exception&) {
        throw Error("--listen \"" + listen + "\": the port is not a number from 0 to 65535",
                    ExitStatus::kUsage);
    }
    return {address, static_cast<uint16_t>(port)};
}

int runServe(const ServeOptions& options) {
    registry::ServiceOptions service;
    service.root = options.root;
    auto [address, port] = splitListen(options.listen);
    service.http.address = address;
    service.http.port = port;
    service.http.threads = options.threads;
    service.gcInterval = std::chrono::seconds(options.gcIntervalSeconds);
    service.gcGraceSeconds = options.gcGraceSeconds;
    service.authFile = options.authFile;
    service.http.tlsCertificate = options.tlsCertificate;
    service.http.tlsKey = options.tlsKey;

    // Blocked before any thread starts, so only sigwait below ever sees them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    // A client that disconnects mid-response must not kill the server.
    ::signal(SIGPIPE, SIG_IGN);

    registry::RegistryService registry(service);
    registry.start();
    std::cerr << "ingot registry: serving " << options.root << " on "
              << (options.tlsCertificate.empty() ? "http://" : "https://") << address << ":"
              << registry.port() << "\n";
    int received = 0;
    sigwait(&signals, &received);
    std::cerr << "ingot registry: " << (received == SIGTERM ? "SIGTERM" : "SIGINT")
              << ", stopping\n";
    registry.stop();
    return 0;
}

}  // namespace

Verb addRegistryServeVerb(CLI::App& app) {
    auto options = std::make_shared<ServeOptions>();
    CLI::App& group = verbGroup(app, "registry", "run an OCI distribution registry");
    CLI::App* serve = group.add_subcommand("serve", "serve OCI distribution spec v1.1 over HTTP");
    serve->add_option("--root", options->root, "directory holding the registry's content")
        ->required();
    serve->add_option("--listen", options->listen, "ADDRESS:PORT to listen on (port 0: any)")
        ->capture_default_str();
    serve->add_option("--threads", options->threads, "threads serving requests")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    serve
        ->add_option("--gc-interval", options->gcIntervalSeconds,
                     "seconds between online garbage collections (0: never)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    serve
        ->add_option("--gc-grace", options->gcGraceSeconds,
                     "seconds an unreferenced blob or idle upload is kept")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    serve
        ->add_option("--auth", options->authFile,
                     "JSON file of users and per-repository rights (docs/registry.md)")
        ->check(CLI::ExistingFile);
    CLI::Option* cert = serve
                            ->add_option("--tls-cert", options->tlsCertificate,
                                         "PEM certificate chain: serve HTTPS")
                            ->check(CLI::ExistingFile);
    CLI::Option* key = serve->add_option("--tls-key", options->tlsKey, "PEM private key")
                           ->check(CLI::ExistingFile);
    cert->needs(key);
    key->needs(cert);
    return {serve, [options] { return runServe(*options); }};
}

}  // namespace ingot::cli
