// What the registry server parses from clients it does not trust (registry/server). The first
// input byte picks what is fuzzed:
//
//   0, 1, 2  requests through Router: 0 without access control, 1 with Basic auth, 2 with the
//            Bearer token flow (both from the fixed auth file below);
//   3        checkManifest on a pushed manifest;
//   4        the name/tag/digest grammar, the repository pattern matcher and the request target
//            parser, each against an independent oracle or a round trip.
//
// Router inputs: byte 1 holds flags (bits 0-2: body chunk size 1024 >> n; bit 3: the client
// drops the connection after the first body chunk of the last request), then up to kMaxRequests
// requests separated by "\n---\n", each written like HTTP/1.1 without the version:
//
//   METHOD TARGET
//   Name: value
//   <empty line>
//   body
//
// In the target and header values, {id} becomes the last Docker-Upload-UUID answered, {dg} the
// last Docker-Content-Digest, {tok} the last token from /token and {bd} the digest of this
// request's body: upload ids and tokens are random and digests beyond guessing, so without them
// the fuzzer could never reach a chunk, a commit or a token-authorised request.
//
// Manifest inputs: byte 1 onward is the Content-Type, up to the first '\n', then the body.
//
// The store is one temporary directory per process, kept across inputs (so later inputs see
// repositories earlier ones pushed) and emptied every kResetEvery inputs so that the disk stays
// bounded; only the uploads an input leaves open go at its end. It is removed at exit, but a
// crash leaves it behind ($TMPDIR/ingot-fuzz-registry-*) for a look at what the input did.
// FUZZ_REGISTRY_TRACE=1 prints each request's status, to check what a seed still reaches.
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "Access.h"
#include "Exchange.h"
#include "FuzzCheck.h"
#include "Grammar.h"
#include "ManifestCheck.h"
#include "RegistryError.h"
#include "Router.h"
#include "Storage.h"
#include "Target.h"
#include "Uploads.h"
#include "ingot/core/Sha256.h"

using namespace ingot::registry;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxRequests = 8;
constexpr size_t kResetEvery = 256;

// Passwords "ci-secret" and "alice-secret"; 1000 iterations (the minimum) keep a wrong password,
// which the fuzzer sends often, from dominating the run time. The rules are docs/registry.md's.
constexpr const char* kUsersAndRules = R"(
  "users": {
    "ci": "pbkdf2-sha256$1000$00112233445566778899aabbccddeeff$30f4f2bfdb7947c6270bc24d2af5dcbe12f6e1da15dd762b7101190ab3d8d442",
    "alice": "pbkdf2-sha256$1000$00112233445566778899aabbccddeeff$f122bc1c19d00e59b5ac1274a2b14c5a26fa7b59ae364f95eb71318641712d7e"
  },
  "rules": [
    {"repository": "gold/*", "users": ["ci"], "rights": ["pull", "push", "overwrite-tag"]},
    {"repository": "gold/*", "users": ["alice"], "rights": ["pull", "delete"]},
    {"repository": "public/*", "users": ["anonymous", "*"], "rights": ["pull"]}
  ])";

std::string sha256Digest(std::string_view bytes) {
    return "sha256:" + ingot::toHex(ingot::sha256(bytes));
}

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

std::optional<std::string> headerOf(const Response& r, std::string_view name) {
    for (const auto& [key, value] : r.headers)
        if (equalsIgnoringCase(key, name)) return value;
    return std::nullopt;
}

void replaceAll(std::string& text, std::string_view from, const std::string& to) {
    if (to.empty()) return;  // nothing learnt yet: the placeholder stays as hostile text
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
}

// Lenient: what a naive server that decodes before checking would see.
std::string percentDecode(std::string_view text) {
    auto hex = [](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 &&
            hex(text[i + 2]) >= 0) {
            out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

std::vector<std::string_view> split(std::string_view text, std::string_view separator) {
    std::vector<std::string_view> parts;
    while (true) {
        size_t at = text.find(separator);
        parts.push_back(text.substr(0, at));
        if (at == std::string_view::npos) return parts;
        text.remove_prefix(at + separator.size());
    }
}

struct World {
    std::string root;
    std::unique_ptr<Access> basic;
    std::unique_ptr<Access> bearer;
    std::unique_ptr<Storage> storage;
    std::unique_ptr<Uploads> uploads;
    std::unique_ptr<Router> routers[3];
    size_t inputs = 0;

    // Small limits, so that 413 and the abort paths are within the fuzzer's reach.
    static RouterLimits limits() {
        RouterLimits l;
        l.maxManifestBytes = 8192;
        l.maxBlobBytes = 16384;
        l.maxCatalogEntries = 4;
        l.maxDiscardedBody = 256;
        return l;
    }

    void open() {
        storage = std::make_unique<Storage>(root);
        uploads = std::make_unique<Uploads>(*storage);
        routers[0] = std::make_unique<Router>(*storage, *uploads, limits());
        routers[1] = std::make_unique<Router>(*storage, *uploads, limits(), basic.get());
        routers[2] = std::make_unique<Router>(*storage, *uploads, limits(), bearer.get());
    }

    void close() {
        for (auto& router : routers) router.reset();
        uploads.reset();  // closes the upload files still open
        storage.reset();
    }

    void resetIfDue() {
        if (++inputs % kResetEvery != 0) return;
        close();
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(root, ec)) fs::remove_all(entry.path(), ec);
        open();
    }
};

World* world = nullptr;

void removeStore() {
    if (!world) return;
    world->close();
    std::error_code ec;
    fs::remove_all(world->root, ec);
}

// The server's treatment of a handler step (HttpServer.cpp, guarded()): RegistryError becomes
// its answer. Anything else would be a 500 on a healthy disk, i.e. a request the router failed
// to check, so it is a finding here.
template <typename Step>
std::optional<Response> guarded(Step&& step, const char* what) {
    try {
        step();
        return std::nullopt;
    } catch (const RegistryError& e) {
        return errorResponse(e.status(), e.code(), e.what(), e.detail());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s threw %s\n", what, e.what());
        FUZZ_CHECK(!"a handler step threw something other than RegistryError");
    } catch (...) {
        FUZZ_CHECK(!"a handler step threw a non-exception");
    }
    return std::nullopt;
}

// Targets the server hands out (Location, Link) are requests clients make next.
void checkServedTarget(const std::string& target) {
    try {
        Target t = parseTarget(target);
        FUZZ_CHECK(t.path.rfind("/v2/", 0) == 0);
        for (std::string_view segment : split(t.path, "/"))
            FUZZ_CHECK(segment != ".." && segment != ".");
    } catch (const RegistryError&) {
        FUZZ_CHECK(!"the server handed out a target it refuses");
    }
}

void checkFile(const Response& r, const std::string& root) {
    FUZZ_CHECK(r.status == 200 || r.status == 206);
    // Lexically and on disk: a symlink or ".." would pass the first check alone.
    fs::path normal = fs::path(r.filePath).lexically_normal();
    std::string blobs = root + "/blobs/sha256/";
    FUZZ_CHECK(normal.string().rfind(blobs, 0) == 0);
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(r.filePath, ec);
    FUZZ_CHECK(!ec);
    FUZZ_CHECK(canonical.string().rfind(fs::weakly_canonical(blobs).string(), 0) == 0);
    struct stat st {};
    FUZZ_CHECK(::stat(r.filePath.c_str(), &st) == 0 && S_ISREG(st.st_mode));
    uint64_t size = static_cast<uint64_t>(st.st_size);
    FUZZ_CHECK(r.fileOffset <= size && r.fileLength <= size - r.fileOffset);
    FUZZ_CHECK(r.headLength && *r.headLength == r.fileLength);
    if (r.status == 206) FUZZ_CHECK(headerOf(r, "Content-Range").has_value());
}

void checkResponse(const Response& r, const std::string& method, const std::string& target,
                   const std::string& root) {
    FUZZ_CHECK(r.status >= 200 && r.status <= 599);
    // The store is a healthy temporary directory: a 5xx means a hostile request got past the
    // checks into code that could not handle it.
    FUZZ_CHECK(r.status < 500);
    for (const auto& [name, value] : r.headers) {
        FUZZ_CHECK(!name.empty());
        // Response splitting: nothing from the request may end a header line.
        FUZZ_CHECK(name.find_first_of(std::string_view("\r\n\0:", 4)) == std::string::npos);
        FUZZ_CHECK(value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos);
    }
    if (r.headOnly) FUZZ_CHECK(method == "HEAD");
    if (r.status >= 400) {
        FUZZ_CHECK(r.filePath.empty() && !r.headOnly);
        json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
        FUZZ_CHECK(body.is_object() && body.contains("errors") && body["errors"].is_array() &&
                   !body["errors"].empty());
        for (const json& e : body["errors"])
            FUZZ_CHECK(e.is_object() && e.contains("code") && e["code"].is_string() &&
                       e.contains("message") && e["message"].is_string());
        if (r.status == 401) FUZZ_CHECK(headerOf(r, "WWW-Authenticate").has_value());
        return;
    }
    if (!r.filePath.empty()) checkFile(r, root);
    if (auto type = headerOf(r, "Content-Type");
        type && type->find("json") != std::string::npos && r.filePath.empty())
        FUZZ_CHECK(!json::parse(r.body, nullptr, false).is_discarded());
    if (auto location = headerOf(r, "Location")) checkServedTarget(*location);
    if (auto link = headerOf(r, "Link")) {
        FUZZ_CHECK(link->size() > 2 && (*link)[0] == '<' && link->find('>') != std::string::npos);
        checkServedTarget(link->substr(1, link->find('>') - 1));
    }
    for (const char* name : {"Docker-Content-Digest", "OCI-Subject"})
        if (auto digest = headerOf(r, name)) FUZZ_CHECK(isValidDigest(*digest));

    // A 2xx never comes from a path that a decoding or traversing server would misread.
    std::string rawPath = target.substr(0, target.find('?'));
    FUZZ_CHECK(target.find('\0') == std::string::npos);
    FUZZ_CHECK(rawPath.find('%') == std::string::npos);
    std::string path = percentDecode(rawPath);
    FUZZ_CHECK(path.find('\0') == std::string::npos);
    std::vector<std::string_view> segments = split(path, "/");
    for (size_t i = 0; i < segments.size(); ++i) {
        FUZZ_CHECK(segments[i] != ".." && segments[i] != ".");
        // The last segment may be a tag, and "v1..2" is a valid tag (a file name, not a
        // traversal); everything before it is a repository name or a fixed word.
        if (i + 1 < segments.size()) FUZZ_CHECK(segments[i].find("..") == std::string_view::npos);
    }
}

struct Session {
    std::string lastId, lastDigest, lastToken;
};

struct Request {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

Request parseRequest(std::string_view text, const Session& session) {
    Request request;
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    size_t space = line.find(' ');
    request.method = std::string(line.substr(0, space));
    if (space != std::string_view::npos) request.target = std::string(line.substr(space + 1));
    std::string_view rest = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    while (!rest.empty()) {
        size_t end = rest.find('\n');
        std::string_view header = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
        if (header.empty()) {
            request.body = std::string(rest);
            break;
        }
        size_t colon = header.find(':');
        if (colon == std::string_view::npos) continue;
        std::string_view value = header.substr(colon + 1);
        if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
        request.headers.emplace_back(std::string(header.substr(0, colon)), std::string(value));
    }
    std::string bodyDigest = sha256Digest(request.body);
    auto substitute = [&](std::string& s) {
        replaceAll(s, "{id}", session.lastId);
        replaceAll(s, "{dg}", session.lastDigest);
        replaceAll(s, "{tok}", session.lastToken);
        replaceAll(s, "{bd}", bodyDigest);
    };
    substitute(request.target);
    for (auto& header : request.headers) substitute(header.second);
    return request;
}

// A committed blob or manifest must read back as what was pushed: GET its Location on the
// router without access control.
void checkReadBack(const Response& created, const std::string& method, const Request& request) {
    std::optional<std::string> location = headerOf(created, "Location");
    std::optional<std::string> digest = headerOf(created, "Docker-Content-Digest");
    FUZZ_CHECK(location && digest);
    RequestHead head;
    head.method = "GET";
    head.target = *location;
    head.header = [](std::string_view) { return std::optional<std::string>(); };
    RequestHandler handler = world->routers[0]->route(head);
    std::optional<Response> fetched;
    Response answer;
    fetched = guarded([&] { answer = handler.onEnd(); }, "read-back onEnd");
    if (!fetched) fetched = std::move(answer);
    handler = RequestHandler{};
    FUZZ_CHECK(fetched->status == 200);
    FUZZ_CHECK(headerOf(*fetched, "Docker-Content-Digest") == digest);
    checkResponse(*fetched, "GET", *location, world->root);
    // A repository may be called ".../manifests", so only the ending tells.
    if (location->ends_with("/manifests/" + *digest)) {
        FUZZ_CHECK(method == "PUT" && *digest == sha256Digest(request.body));
        FUZZ_CHECK(fetched->body == request.body);
    } else {
        FUZZ_CHECK(!fetched->filePath.empty());
        // Read whole: blobs here are at most maxBlobBytes, and sha256File's 1 MiB buffer per
        // call would be most of the run time under ASan.
        std::ifstream in(fetched->filePath, std::ios::binary);
        std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        FUZZ_CHECK(in.good() || in.eof());
        FUZZ_CHECK(sha256Digest(bytes) == *digest);
        FUZZ_CHECK(bytes.size() == fetched->fileLength);
    }
}

void runRequest(Router& router, const Request& request, size_t chunk, bool dropAfterFirstChunk,
                Session& session) {
    RequestHead head;
    head.method = request.method;
    head.target = request.target;
    head.header = [&request](std::string_view name) -> std::optional<std::string> {
        for (const auto& [key, value] : request.headers)
            if (equalsIgnoringCase(key, name)) return value;
        return std::nullopt;
    };
    RequestHandler handler;
    try {
        handler = router.route(head);
    } catch (...) {
        FUZZ_CHECK(!"Router::route threw");
    }
    FUZZ_CHECK(handler.onBody && handler.onEnd);

    // As HttpServer: the body in pieces, 413 once it passes bodyLimit, onAbort when the body was
    // not received whole.
    std::optional<Response> response;
    bool dropped = false;
    uint64_t received = 0;
    for (size_t at = 0; at < request.body.size(); at += chunk) {
        size_t n = std::min(chunk, request.body.size() - at);
        received += n;
        if (received > handler.bodyLimit) {
            response = errorResponse(413, "SIZE_INVALID", "request body too large");
            break;
        }
        response = guarded([&] { handler.onBody(request.body.data() + at, n); }, "onBody");
        if (response) break;
        if (dropAfterFirstChunk) {
            dropped = true;
            break;
        }
    }
    if ((response || dropped) && handler.onAbort) guarded([&] { handler.onAbort(); }, "onAbort");
    if (dropped) return;  // nobody left to answer
    if (!response) {
        Response answer;
        response = guarded([&] { answer = handler.onEnd(); }, "onEnd");
        if (!response) response = std::move(answer);
    }
    bool refused = handler.refused;
    handler = RequestHandler{};  // as the server: releases an upload before answering

    // For checking that seeds still reach what they were written for.
    static const bool trace = std::getenv("FUZZ_REGISTRY_TRACE") != nullptr;
    if (trace)
        std::fprintf(stderr, "%s %s -> %d %s\n", request.method.c_str(), request.target.c_str(),
                     response->status, response->body.substr(0, 160).c_str());
    checkResponse(*response, request.method, request.target, world->root);
    if (refused) FUZZ_CHECK(response->status >= 400);
    if (response->status == 201) checkReadBack(*response, request.method, request);

    if (auto id = headerOf(*response, "Docker-Upload-UUID")) session.lastId = *id;
    if (auto digest = headerOf(*response, "Docker-Content-Digest")) session.lastDigest = *digest;
    if (response->status == 200 && request.target.rfind("/token", 0) == 0) {
        json body = json::parse(response->body, nullptr, false);
        FUZZ_CHECK(body.is_object() && body.contains("token") && body["token"].is_string());
        session.lastToken = body["token"].get<std::string>();
    }
}

void fuzzRouter(int mode, const uint8_t* data, size_t size) {
    if (size < 1) return;
    size_t chunk = size_t{1024} >> (data[0] & 7);
    bool drop = (data[0] & 8) != 0;
    std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    std::vector<std::string_view> requests = split(text, "\n---\n");
    if (requests.size() > kMaxRequests) requests.resize(kMaxRequests);
    Session session;
    for (size_t i = 0; i < requests.size(); ++i) {
        Request request = parseRequest(requests[i], session);
        runRequest(*world->routers[mode], request, chunk, drop && i + 1 == requests.size(),
                   session);
    }
    // Uploads left open are unreachable from later inputs (their ids are random), and their
    // sessions would make every input look like a leak to libFuzzer, whose leak check then
    // triples the run time. The server's own sweep removes them, so it is fuzzed too.
    world->uploads->removeStale(0);
}

void fuzzManifest(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    size_t eol = text.find('\n');
    std::string_view contentType = text.substr(0, eol);
    std::string_view bytes = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    ManifestFacts facts;
    try {
        facts = checkManifest(bytes, contentType);
    } catch (const RegistryError& e) {
        FUZZ_CHECK(e.status() == 400);
        return;
    } catch (...) {
        FUZZ_CHECK(!"checkManifest threw something other than RegistryError");
    }
    FUZZ_CHECK(isManifestMediaType(facts.mediaType));
    for (const std::string& digest : facts.blobs) FUZZ_CHECK(isValidDigest(digest));
    for (const std::string& digest : facts.manifests) FUZZ_CHECK(isValidDigest(digest));
    if (facts.subject) FUZZ_CHECK(isValidDigest(*facts.subject));
    // An image manifest always names its config; an index names no blobs.
    if (facts.isIndex)
        FUZZ_CHECK(facts.blobs.empty());
    else
        FUZZ_CHECK(!facts.blobs.empty() && facts.manifests.empty());
    // What was accepted, read again independently: the fields the facts came from.
    json document = json::parse(bytes, nullptr, false);
    FUZZ_CHECK(document.is_object() && document.contains("schemaVersion"));
    FUZZ_CHECK(document["schemaVersion"] == 2);
    if (document.contains("mediaType")) FUZZ_CHECK(document["mediaType"] == facts.mediaType);
    std::vector<const json*> descriptors;
    if (facts.isIndex) {
        FUZZ_CHECK(facts.manifests.size() == document["manifests"].size());
        for (const json& d : document["manifests"]) descriptors.push_back(&d);
    } else {
        FUZZ_CHECK(facts.blobs.size() == 1 + document["layers"].size());
        descriptors.push_back(&document["config"]);
        for (const json& d : document["layers"]) descriptors.push_back(&d);
    }
    // The router looks every blob and manifest up in facts.sizes (with at()): a digest missing
    // there would be a 500, a wrong size a blob served with a size its descriptor denies.
    for (const json* d : descriptors) {
        auto size = facts.sizes.find((*d)["digest"].get<std::string>());
        FUZZ_CHECK(size != facts.sizes.end() && (*d)["size"] == size->second);
    }
    if (!facts.annotationsJson.empty())
        FUZZ_CHECK(json::parse(facts.annotationsJson, nullptr, false).is_object());
    // The descriptor is what the referrers API serves, so it must be JSON naming the manifest.
    std::string digest = sha256Digest(bytes);
    json descriptor = json::parse(referrerDescriptor(facts, digest, bytes.size()), nullptr, false);
    FUZZ_CHECK(descriptor.is_object() && descriptor["digest"] == digest &&
               descriptor["mediaType"] == facts.mediaType && descriptor["size"] == bytes.size());
}

// The spec's grammars as regular expressions: slow and recursive, hence only on short text,
// but an oracle written independently of Grammar.cpp's hand-written matchers.
bool regexMatch(const std::regex& re, std::string_view text) {
    return std::regex_match(text.begin(), text.end(), re);
}

// Textbook dynamic programming glob match ('*' only): an oracle for matchesPattern.
bool globOracle(std::string_view pattern, std::string_view text) {
    std::vector<bool> row(text.size() + 1, false), next(text.size() + 1);
    row[0] = true;
    for (char p : pattern) {
        if (p == '*') {
            next[0] = row[0];
            for (size_t t = 1; t <= text.size(); ++t) next[t] = row[t] || next[t - 1];
        } else {
            next[0] = false;
            for (size_t t = 1; t <= text.size(); ++t) next[t] = row[t - 1] && text[t - 1] == p;
        }
        std::swap(row, next);
    }
    return row[text.size()];
}

void fuzzGrammar(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    static const std::regex name(
        "[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*");
    static const std::regex tag("[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}");
    static const std::regex digest("sha256:[a-f0-9]{64}");
    static const std::regex anyDigest("[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+");

    bool validName = isValidRepositoryName(text);
    if (text.size() <= 512) FUZZ_CHECK(validName == (text.size() <= 255 && regexMatch(name, text)));
    else FUZZ_CHECK(!validName);
    if (validName) {
        // What makes a name safe to put in a path.
        FUZZ_CHECK(text.find("..") == std::string_view::npos);
        FUZZ_CHECK(text.find("//") == std::string_view::npos);
        for (std::string_view component : split(text, "/"))
            FUZZ_CHECK(isValidRepositoryName(component) && component[0] != '.' &&
                       component[0] != '_' && component[0] != '-');
    }
    bool validTag = isValidTag(text);
    if (text.size() <= 512) FUZZ_CHECK(validTag == regexMatch(tag, text));
    else FUZZ_CHECK(!validTag);
    if (validTag) FUZZ_CHECK(text.find('/') == std::string_view::npos && text[0] != '.');

    bool validDigest = isValidDigest(text);
    if (text.size() <= 512) FUZZ_CHECK(validDigest == regexMatch(digest, text));
    if (validDigest) FUZZ_CHECK(looksLikeDigest(text));
    if (text.size() <= 1024) FUZZ_CHECK(looksLikeDigest(text) == regexMatch(anyDigest, text));
    else FUZZ_CHECK(!looksLikeDigest(text));

    // "pattern\ntext", both bounded: the oracle is quadratic, and so, by design, is the matcher.
    size_t eol = text.find('\n');
    if (eol != std::string_view::npos && eol <= 256 && text.size() - eol - 1 <= 256) {
        std::string_view pattern = text.substr(0, eol), subject = text.substr(eol + 1);
        FUZZ_CHECK(matchesPattern(pattern, subject) == globOracle(pattern, subject));
        FUZZ_CHECK(matchesPattern("*", subject));
        if (pattern.find('*') == std::string_view::npos)
            FUZZ_CHECK(matchesPattern(pattern, subject) == (pattern == subject));
    }

    // Query values survive encodeQueryValue and parseTarget unchanged (NUL excepted: refused).
    if (text.size() <= 1000 && text.find('\0') == std::string_view::npos) {
        std::string encoded = encodeQueryValue(text);
        for (char c : encoded)
            FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~' ||
                       c == '%');
        try {
            Target t = parseTarget("/v2/x/tags/list?last=" + encoded + "&n=1");
            FUZZ_CHECK(t.get("last") == std::string(text));
            FUZZ_CHECK(t.get("n") == std::string("1"));
        } catch (const RegistryError&) {
            FUZZ_CHECK(!"parseTarget refused an encoded query value");
        }
    }

    // The text itself as a target: refused with 400, or a plain path.
    try {
        Target t = parseTarget(text);
        FUZZ_CHECK(!t.path.empty() && t.path[0] == '/');
        for (char c : t.path) {
            unsigned char u = static_cast<unsigned char>(c);
            FUZZ_CHECK(u > 0x20 && u < 0x7f && c != '%' && c != '#' && c != '?');
        }
        for (const auto& [key, value] : t.query)
            FUZZ_CHECK(key.find('\0') == std::string::npos &&
                       value.find('\0') == std::string::npos);
    } catch (const RegistryError& e) {
        FUZZ_CHECK(e.status() == 400);
    } catch (...) {
        FUZZ_CHECK(!"parseTarget threw something other than RegistryError");
    }
}

std::unique_ptr<Access> parseAccess(const std::string& extra) {
    std::string text = "{" + extra + kUsersAndRules + "}";
    try {
        return Access::parse(text, "fuzz auth file");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "the fixed auth file no longer parses: %s\n", e.what());
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/ingot-fuzz-registry-XXXXXX";
    if (!::mkdtemp(pattern.data())) {
        std::perror("mkdtemp");
        std::abort();
    }
    world = new World;
    world->root = pattern;
    world->basic = parseAccess("");
    world->bearer = parseAccess(R"("challenge": "bearer", "service": "ingot-fuzz",)");
    world->open();
    std::atexit(removeStore);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    int mode = data[0] % 5;
    if (mode <= 2) {
        world->resetIfDue();
        fuzzRouter(mode, data + 1, size - 1);
    } else if (mode == 3) {
        fuzzManifest(data + 1, size - 1);
    } else {
        fuzzGrammar(data + 1, size - 1);
    }
    return 0;
}
