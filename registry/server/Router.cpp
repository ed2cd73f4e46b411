#include "Router.h"

#include <charconv>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "Grammar.h"
#include "ManifestCheck.h"
#include "RegistryError.h"
#include "Target.h"
#include "ingot/core/Sha256.h"

namespace ingot::registry {
namespace {

using nlohmann::json;

constexpr const char* kIndexType = "application/vnd.oci.image.index.v1+json";

RequestHandler answer(Response response, uint64_t discardLimit) {
    RequestHandler handler;
    handler.bodyLimit = discardLimit;
    handler.onBody = [](const char*, size_t) {};
    auto shared = std::make_shared<Response>(std::move(response));
    handler.onEnd = [shared] { return *shared; };
    return handler;
}

// A handler whose work happens once the (ignored) body is in.
RequestHandler later(std::function<Response()> work, uint64_t discardLimit) {
    RequestHandler handler;
    handler.bodyLimit = discardLimit;
    handler.onBody = [](const char*, size_t) {};
    handler.onEnd = std::move(work);
    return handler;
}

std::optional<uint64_t> parseNumber(std::string_view text) {
    uint64_t value = 0;
    if (text.empty() || text.size() > 19) return std::nullopt;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

void checkName(std::string_view name) {
    if (!isValidRepositoryName(name))
        throw RegistryError(400, "NAME_INVALID", "invalid repository name",
                            "names are lower-case components separated by '/', at most 255 bytes");
}

void checkDigest(std::string_view digest) {
    if (isValidDigest(digest)) return;
    if (looksLikeDigest(digest))
        throw RegistryError(400, "DIGEST_INVALID", "unsupported digest algorithm",
                            "this registry stores sha256 digests only");
    throw RegistryError(400, "DIGEST_INVALID", "invalid digest",
                        "expected sha256: and 64 lower-case hex digits");
}

void checkReference(std::string_view reference) {
    if (reference.find(':') != std::string_view::npos) {
        checkDigest(reference);
        return;
    }
    if (!isValidTag(reference))
        throw RegistryError(400, "TAG_INVALID", "invalid tag",
                            "tags are 1 to 128 of [A-Za-z0-9_.-], not starting with . or -");
}

RegistryError methodNotAllowed() {
    return RegistryError(405, "UNSUPPORTED", "the operation is unsupported", "method not allowed");
}

std::string uploadLocation(std::string_view name, std::string_view id) {
    return "/v2/" + std::string(name) + "/blobs/uploads/" + std::string(id);
}

std::string rangeHeader(uint64_t size) {
    // As distribution: "0-0" for an empty upload, which clients expect rather than "0--1".
    return "0-" + std::to_string(size == 0 ? 0 : size - 1);
}

Response uploadStatus(int status, std::string_view name, std::string_view id, uint64_t size) {
    Response r;
    r.status = status;
    r.set("Location", uploadLocation(name, id));
    r.set("Docker-Upload-UUID", std::string(id));
    r.set("Range", rangeHeader(size));
    return r;
}

Response blobCreated(std::string_view name, std::string_view digest) {
    Response r;
    r.status = 201;
    r.set("Location", "/v2/" + std::string(name) + "/blobs/" + std::string(digest));
    r.set("Docker-Content-Digest", std::string(digest));
    return r;
}

// "a-b", "bytes a-b/total" or "bytes=a-b": the first and last byte of a chunk.
std::optional<std::pair<uint64_t, uint64_t>> parseContentRange(std::string text) {
    if (text.rfind("bytes", 0) == 0) text = text.substr(5);
    while (!text.empty() && (text[0] == ' ' || text[0] == '=')) text.erase(0, 1);
    text = text.substr(0, text.find('/'));
    size_t dash = text.find('-');
    if (dash == std::string::npos) return std::nullopt;
    auto first = parseNumber(std::string_view(text).substr(0, dash));
    auto last = parseNumber(std::string_view(text).substr(dash + 1));
    if (!first || !last || *last < *first) return std::nullopt;
    return std::make_pair(*first, *last);
}

// The byte range a blob GET asks for, given the blob's size: nullopt for the whole blob, and
// RegistryError 416 for one that cannot be satisfied.
std::optional<std::pair<uint64_t, uint64_t>> parseRange(const std::string& header, uint64_t size) {
    auto unsatisfiable = [&] {
        return RegistryError(416, "BLOB_UNKNOWN", "requested range not satisfiable",
                             "blob has " + std::to_string(size) + " bytes");
    };
    std::string_view text = header;
    if (text.rfind("bytes=", 0) != 0) return std::nullopt;  // unknown unit: ignore the header
    text.remove_prefix(6);
    if (text.find(',') != std::string_view::npos) return std::nullopt;  // multipart: whole blob
    size_t dash = text.find('-');
    if (dash == std::string_view::npos) throw unsatisfiable();
    std::string_view a = text.substr(0, dash), b = text.substr(dash + 1);
    if (a.empty()) {  // suffix: the last b bytes
        auto suffix = parseNumber(b);
        if (!suffix || *suffix == 0 || size == 0) throw unsatisfiable();
        uint64_t n = std::min(*suffix, size);
        return std::make_pair(size - n, size - 1);
    }
    auto first = parseNumber(a);
    if (!first || *first >= size) throw unsatisfiable();
    uint64_t last = size - 1;
    if (!b.empty()) {
        auto parsed = parseNumber(b);
        if (!parsed || *parsed < *first) throw unsatisfiable();
        last = std::min(*parsed, size - 1);
    }
    return std::make_pair(*first, last);
}

// n and last of a paginated list; `cap` bounds n.
struct Page {
    std::optional<uint64_t> n;
    std::string last;
};

Page parsePage(const Target& target, uint64_t cap) {
    Page page;
    if (auto n = target.get("n")) {
        auto parsed = parseNumber(*n);
        if (!parsed)
            throw RegistryError(400, "PAGINATION_NUMBER_INVALID", "invalid number of results",
                                "n must be a non-negative integer");
        page.n = std::min(*parsed, cap);
    } else if (cap != UINT64_MAX) {
        page.n = cap;
    }
    page.last = target.get("last").value_or("");
    return page;
}

// Fills `out` with the page of the sorted `all` after `last`; returns whether more remain.
bool paginate(const std::vector<std::string>& all, const Page& page,
              std::vector<std::string>& out) {
    auto it = page.last.empty() ? all.begin() : std::upper_bound(all.begin(), all.end(), page.last);
    for (; it != all.end(); ++it) {
        if (page.n && out.size() >= *page.n) return true;
        out.push_back(*it);
    }
    return false;
}

Response jsonResponse(const json& body, const std::string& contentType = "application/json") {
    Response r;
    r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    r.set("Content-Type", contentType);
    return r;
}

}  // namespace

RequestHandler Router::streamChunk(const std::string& name, const std::string& id,
                                   std::optional<uint64_t> rangeStart,
                                   std::optional<std::string> digest, bool cancelOnAbort) {
    // Held from the head to the end of the body, and handed to finish(), so no other request
    // writes this upload in between.
    auto appender =
        std::make_shared<std::unique_ptr<UploadAppender>>(uploads_.append(name, id, rangeStart));
    RequestHandler handler;
    handler.bodyLimit = limits_.maxBlobBytes;
    handler.onBody = [appender](const char* data, size_t size) { (*appender)->write(data, size); };
    handler.onEnd = [this, name, id, digest, appender] {
        if (!digest) {
            uint64_t size = (*appender)->size();
            appender->reset();
            return uploadStatus(202, name, id, size);
        }
        uploads_.finish(name, id, *digest, std::move(*appender));
        return blobCreated(name, *digest);
    };
    handler.onAbort = [this, name, id, appender, cancelOnAbort] {
        appender->reset();
        if (cancelOnAbort) {
            try {
                uploads_.cancel(name, id);
            } catch (...) {
            }
        }
    };
    return handler;
}

Router::Router(Storage& storage, Uploads& uploads, RouterLimits limits, Access* access)
    : storage_(storage), uploads_(uploads), limits_(limits), access_(access) {}

RequestHandler Router::route(const RequestHead& head) {
    std::optional<std::string> host = head.header("Host");
    try {
        RequestHandler handler = dispatch(head);
        if (access_) {
            // Rights checked once the body is in (moving a tag) refuse from onEnd; their 401
            // needs the challenge as much as one refused from the head.
            handler.onEnd = [this, host, inner = std::move(handler.onEnd)] {
                try {
                    return inner();
                } catch (const RegistryError& e) {
                    if (e.status() != 401) throw;
                    return refusal(e, host);
                }
            };
        }
        return handler;
    } catch (const RegistryError& e) {
        RequestHandler handler = answer(refusal(e, host), limits_.maxDiscardedBody);
        handler.refused = true;
        return handler;
    } catch (const std::exception& e) {
        RequestHandler handler = answer(errorResponse(500, "UNKNOWN", "internal error", e.what()),
                                        limits_.maxDiscardedBody);
        handler.refused = true;
        return handler;
    }
}

Response Router::refusal(const RegistryError& e, const std::optional<std::string>& host) const {
    Response response = errorResponse(e.status(), e.code(), e.what(), e.detail());
    if (e.status() == 401 && access_)
        response.set("WWW-Authenticate", access_->challenge(host, e.scope()));
    return response;
}

RequestHandler Router::dispatch(const RequestHead& head) {
    const std::string& method = head.method;
    const uint64_t discard = limits_.maxDiscardedBody;
    Target target = parseTarget(head.target);
    const std::string& path = target.path;
    if (path == "/token" && access_) {
        if (method != "GET") throw methodNotAllowed();
        std::vector<std::string> scopes = target.getAll("scope");
        std::string body = access_->issueToken(head.header("Authorization"), scopes,
                                               static_cast<int64_t>(time(nullptr)));
        Response r;
        r.body = std::move(body);
        r.set("Content-Type", "application/json");
        r.set("Cache-Control", "no-store");
        return answer(std::move(r), discard);
    }
    if (path.rfind("/v2", 0) != 0 || (path.size() > 3 && path[3] != '/'))
        throw RegistryError(404, "NOT_FOUND", "not a registry API path", "paths start with /v2/");

    // Credentials are checked before the path says anything about what exists.
    Identity who;
    if (access_) who = access_->authenticate(head.header("Authorization"));
    auto need = [&](const std::string& name, Right right) {
        if (access_) access_->require(who, name, right);
    };

    if (path == "/v2" || path == "/v2/") {
        if (method != "GET" && method != "HEAD") throw methodNotAllowed();
        // The 401 here is how clients learn that they should log in.
        if (access_ && !who.user && !who.token)
            throw RegistryError(401, "UNAUTHORIZED", "authentication required",
                                "this registry needs credentials");
        Response r = jsonResponse(json::object());
        r.headOnly = method == "HEAD";
        return answer(std::move(r), discard);
    }

    std::vector<std::string> segments;
    {
        std::string_view rest = std::string_view(path).substr(4);
        size_t start = 0;
        while (true) {
            size_t slash = rest.find('/', start);
            segments.emplace_back(rest.substr(
                start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
            if (slash == std::string_view::npos) break;
            start = slash + 1;
        }
    }
    auto nameOf = [&](size_t tail) {
        if (segments.size() <= tail) throw RegistryError(400, "NAME_INVALID", "missing name");
        std::string name;
        for (size_t i = 0; i + tail < segments.size(); ++i) {
            if (i) name += '/';
            name += segments[i];
        }
        checkName(name);
        return name;
    };
    auto tailIs = [&](std::initializer_list<const char*> tail, size_t fromEnd) {
        if (segments.size() < fromEnd + 1) return false;
        size_t i = segments.size() - fromEnd;
        for (const char* word : tail)
            if (segments[i++] != word) return false;
        return true;
    };
    const size_t n = segments.size();

    if (n == 1 && segments[0] == "_catalog") {
        if (method != "GET") throw methodNotAllowed();
        Page page = parsePage(target, limits_.maxCatalogEntries);
        if (access_ && !access_->mayListCatalog(who))
            throw RegistryError(401, "UNAUTHORIZED", "authentication required",
                                "the bearer token does not grant the catalog")
                .withScope("registry:catalog:*");
        // The catalog lists what the user may pull, whatever repositories a token names.
        Identity lister{who.user, std::nullopt};
        return later(
            [this, page, lister] {
                std::vector<std::string> visible;
                for (std::string& name : storage_.repositories())
                    if (!access_ || access_->allows(lister, name, Right::kPull))
                        visible.push_back(std::move(name));
                std::vector<std::string> repositories;
                bool more = paginate(visible, page, repositories);
                Response r = jsonResponse({{"repositories", repositories}});
                if (more && !repositories.empty())
                    r.set("Link", "</v2/_catalog?n=" + std::to_string(*page.n) + "&last=" +
                                      encodeQueryValue(repositories.back()) + ">; rel=\"next\"");
                return r;
            },
            discard);
    }

    if (n >= 3 && tailIs({"tags", "list"}, 2)) {
        std::string name = nameOf(2);
        if (method != "GET") throw methodNotAllowed();
        need(name, Right::kPull);
        Page page = parsePage(target, UINT64_MAX);
        return later(
            [this, name, page] {
                if (!storage_.repositoryExists(name))
                    throw RegistryError(404, "NAME_UNKNOWN",
                                        "repository name not known to registry", name);
                std::vector<std::string> tags;
                bool more = paginate(storage_.tags(name), page, tags);
                Response r = jsonResponse({{"name", name}, {"tags", tags}});
                if (more && page.n && !tags.empty())
                    r.set("Link", "</v2/" + name + "/tags/list?n=" + std::to_string(*page.n) +
                                      "&last=" + encodeQueryValue(tags.back()) + ">; rel=\"next\"");
                return r;
            },
            discard);
    }

    if (n >= 3 && segments[n - 2] == "referrers") {
        std::string name = nameOf(2);
        std::string digest = segments[n - 1];
        checkDigest(digest);
        if (method != "GET") throw methodNotAllowed();
        need(name, Right::kPull);
        std::optional<std::string> filter = target.get("artifactType");
        return later(
            [this, name, digest, filter] {
                json manifests = json::array();
                for (const std::string& text : storage_.referrers(name, digest)) {
                    json d = json::parse(text, nullptr, false);
                    if (!d.is_object()) continue;
                    if (filter && d.value("artifactType", std::string()) != *filter) continue;
                    manifests.push_back(std::move(d));
                }
                Response r = jsonResponse(
                    {{"schemaVersion", 2}, {"mediaType", kIndexType}, {"manifests", manifests}},
                    kIndexType);
                if (filter) r.set("OCI-Filters-Applied", "artifactType");
                return r;
            },
            discard);
    }

    if (n >= 3 && segments[n - 2] == "manifests") {
        std::string name = nameOf(2);
        std::string reference = segments[n - 1];
        checkReference(reference);
        if (method == "GET" || method == "HEAD") {
            need(name, Right::kPull);
            bool headOnly = method == "HEAD";
            return later(
                [this, name, reference, headOnly] {
                    std::optional<std::string> digest = storage_.resolve(name, reference);
                    std::optional<StoredManifest> manifest;
                    if (digest) manifest = storage_.readManifest(name, *digest);
                    if (!manifest) {
                        if (!storage_.repositoryExists(name))
                            throw RegistryError(404, "NAME_UNKNOWN",
                                                "repository name not known to registry", name);
                        throw RegistryError(404, "MANIFEST_UNKNOWN", "manifest unknown",
                                            name + ":" + reference);
                    }
                    Response r;
                    r.set("Content-Type", manifest->mediaType);
                    r.set("Docker-Content-Digest", manifest->digest);
                    r.set("ETag", "\"" + manifest->digest + "\"");
                    r.headOnly = headOnly;
                    r.headLength = manifest->bytes.size();
                    r.body = std::move(manifest->bytes);
                    return r;
                },
                discard);
        }
        if (method == "DELETE") {
            need(name, Right::kDelete);
            return later(
                [this, name, reference] {
                    bool deleted = isValidDigest(reference)
                                       ? storage_.deleteManifest(name, reference)
                                       : storage_.deleteTag(name, reference);
                    if (!deleted)
                        throw RegistryError(404, "MANIFEST_UNKNOWN", "manifest unknown",
                                            name + ":" + reference);
                    Response r;
                    r.status = 202;
                    return r;
                },
                discard);
        }
        if (method != "PUT") throw methodNotAllowed();
        need(name, Right::kPush);
        std::string contentType = head.header("Content-Type").value_or("");
        auto body = std::make_shared<std::string>();
        RequestHandler handler;
        handler.bodyLimit = limits_.maxManifestBytes;
        handler.onBody = [body](const char* data, size_t size) { body->append(data, size); };
        handler.onEnd = [this, name, reference, contentType, body, who] {
            std::string digest = "sha256:" + toHex(sha256(*body));
            if (access_ && !isValidDigest(reference)) {
                std::optional<std::string> current = storage_.resolve(name, reference);
                if (current && *current != digest)
                    access_->require(who, name, Right::kOverwriteTag);
            }
            if (isValidDigest(reference) && reference != digest)
                throw RegistryError(400, "DIGEST_INVALID",
                                    "provided digest did not match uploaded content",
                                    "the manifest's digest is " + digest);
            ManifestFacts facts = checkManifest(*body, contentType);
            auto unknown = [](const std::string& digest) {
                return RegistryError(400, "MANIFEST_BLOB_UNKNOWN",
                                     "manifest references a manifest or blob unknown to registry",
                                     digest);
            };
            auto checkSize = [&](const std::string& digest, std::optional<uint64_t> stored) {
                if (stored && *stored != facts.sizes.at(digest))
                    throw RegistryError(400, "MANIFEST_INVALID", "manifest invalid",
                                        "the descriptor of " + digest + " says " +
                                            std::to_string(facts.sizes.at(digest)) +
                                            " bytes; the registry holds " +
                                            std::to_string(*stored));
            };
            for (const std::string& blob : facts.blobs) {
                std::optional<uint64_t> size = storage_.repositoryBlobSize(name, blob);
                if (!size) throw unknown(blob);
                checkSize(blob, size);
                if (!storage_.linkExistingBlob(name, blob)) throw unknown(blob);
            }
            for (const std::string& child : facts.manifests) {
                if (!storage_.resolve(name, child)) throw unknown(child);
                checkSize(child, storage_.blobSize(child));
                if (!storage_.linkExistingBlob(name, child)) throw unknown(child);
            }
            std::optional<ReferrerLink> referrer;
            if (facts.subject)
                referrer =
                    ReferrerLink{*facts.subject, referrerDescriptor(facts, digest, body->size())};
            storage_.putManifest(name, digest, facts.mediaType, *body,
                                 isValidDigest(reference) ? "" : reference, referrer);
            Response r;
            r.status = 201;
            r.set("Location", "/v2/" + name + "/manifests/" + digest);
            r.set("Docker-Content-Digest", digest);
            if (facts.subject) r.set("OCI-Subject", *facts.subject);
            return r;
        };
        return handler;
    }

    // Uploads: <name>/blobs/uploads/ (start) and <name>/blobs/uploads/<id>.
    if (n >= 4 && segments[n - 3] == "blobs" && segments[n - 2] == "uploads") {
        std::string name = nameOf(3);
        std::string id = segments[n - 1];
        need(name, Right::kPush);
        if (id.empty()) {
            if (method != "POST") throw methodNotAllowed();
            if (auto mount = target.get("mount")) {
                checkDigest(*mount);
                auto from = target.get("from");
                // An unknown or invalid source is not an error: the client uploads instead.
                if (from && isValidRepositoryName(*from) &&
                    (!access_ || access_->allows(who, *from, Right::kPull)) &&
                    storage_.repositoryBlobSize(*from, *mount) &&
                    storage_.linkExistingBlob(name, *mount))
                    return answer(blobCreated(name, *mount), discard);
            }
            auto digest = target.get("digest");
            if (digest) checkDigest(*digest);
            std::string started = uploads_.start(name);
            if (!digest) return answer(uploadStatus(202, name, started, 0), discard);
            return streamChunk(name, started, std::nullopt, *digest, /*cancelOnAbort=*/true);
        }
        if (!isValidUploadId(id))
            throw RegistryError(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", id);
        if (method == "GET") {
            uint64_t size = uploads_.size(name, id);
            return answer(uploadStatus(204, name, id, size), discard);
        }
        if (method == "DELETE") {
            uploads_.cancel(name, id);
            Response r;
            r.status = 204;
            return answer(std::move(r), discard);
        }
        if (method != "PATCH" && method != "PUT") throw methodNotAllowed();
        std::optional<std::string> digest;
        if (method == "PUT") {
            digest = target.get("digest");
            if (!digest)
                throw RegistryError(400, "DIGEST_INVALID", "missing digest",
                                    "PUT completes an upload and needs ?digest=");
            checkDigest(*digest);
        }
        std::optional<uint64_t> rangeStart;
        if (auto header = head.header("Content-Range")) {
            auto range = parseContentRange(*header);
            if (!range)
                throw RegistryError(416, "BLOB_UPLOAD_INVALID", "invalid Content-Range",
                                    "expected <first>-<last>");
            if (auto length = head.header("Content-Length")) {
                auto bytes = parseNumber(*length);
                if (bytes && *bytes != range->second - range->first + 1)
                    throw RegistryError(416, "BLOB_UPLOAD_INVALID",
                                        "Content-Range does not match Content-Length");
            }
            rangeStart = range->first;
        }
        return streamChunk(name, id, rangeStart, digest, /*cancelOnAbort=*/false);
    }

    if (n >= 3 && segments[n - 2] == "blobs") {
        std::string name = nameOf(2);
        std::string digest = segments[n - 1];
        checkDigest(digest);
        if (method == "DELETE") {
            need(name, Right::kDelete);
            return later(
                [this, name, digest] {
                    if (!storage_.unlinkBlob(name, digest))
                        throw RegistryError(404, "BLOB_UNKNOWN", "blob unknown to registry",
                                            digest);
                    Response r;
                    r.status = 202;
                    return r;
                },
                discard);
        }
        if (method != "GET" && method != "HEAD") throw methodNotAllowed();
        need(name, Right::kPull);
        std::optional<std::string> rangeText = head.header("Range");
        bool headOnly = method == "HEAD";
        return later(
            [this, name, digest, rangeText, headOnly] {
                std::optional<uint64_t> size = storage_.repositoryBlobSize(name, digest);
                if (!size)
                    throw RegistryError(404, "BLOB_UNKNOWN", "blob unknown to registry", digest);
                Response r;
                r.set("Content-Type", "application/octet-stream");
                r.set("Docker-Content-Digest", digest);
                r.set("ETag", "\"" + digest + "\"");
                r.set("Accept-Ranges", "bytes");
                r.filePath = storage_.blobPath(digest);
                r.fileOffset = 0;
                r.fileLength = *size;
                if (rangeText) {
                    if (auto range = parseRange(*rangeText, *size)) {
                        r.status = 206;
                        r.fileOffset = range->first;
                        r.fileLength = range->second - range->first + 1;
                        r.set("Content-Range", "bytes " + std::to_string(range->first) + "-" +
                                                   std::to_string(range->second) + "/" +
                                                   std::to_string(*size));
                    }
                }
                r.headOnly = headOnly;
                r.headLength = r.fileLength;
                return r;
            },
            discard);
    }

    throw RegistryError(404, "NOT_FOUND", "unknown endpoint");
}

}  // namespace ingot::registry
