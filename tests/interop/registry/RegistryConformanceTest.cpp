// Registry conformance, organised like the OCI distribution-spec's own suite (pull, push, content
// discovery, content management) plus hostile requests. The suite is peer-neutral: it talks
// HTTP to whatever INGOT_REGISTRY_URL names and is run against ingot's server and against
// Debian's docker-registry (distribution 2.8.2). docs/registry-conformance.md lists the cases.
//
// Environment:
//   INGOT_REGISTRY_URL             base URL, e.g. http://127.0.0.1:5000 (required)
//   INGOT_REGISTRY_NO_REFERRERS=1  the peer has no referrers API: those tests skip
//   INGOT_REGISTRY_DEVIATIONS=a,b  spec deviations the peer is known for. Where one applies the
//                                  test pins the peer's actual behaviour (below) instead of the
//                                  spec's, so a change in the peer still shows; ingot's server
//                                  is run with none.
//
// What distribution 2.8.2 does differently (measured with this suite):
// - No referrers API (/v2/<name>/referrers/<digest> is 404); a manifest with a `subject` is
//   stored without an OCI-Subject header, which tells clients to keep the `sha256-<hex>.sig`
//   tag fallback.
// - tags-unpaginated: tags/list ignores `n` and `last`, sends no Link, and lists tags in storage
//   directory order, not sorted (the spec's MUSTs; pagination arrived in distribution 3).
// - chunk-range-ignored: PATCH never looks at Content-Range. A chunk past the end (a gap) or a
//   malformed range is appended at the current offset with 202, never 416; the corrupted blob
//   is only caught by the digest check at the closing PUT.
// - range-416-length: a blob GET with an unsatisfiable Range answers 416 but announces the
//   blob's Content-Length with a 33-byte body.
// - long-name-500: names over 255 characters answer 500 UNKNOWN, not 400 NAME_INVALID
//   (distribution/distribution#4699).
// - bad-reference-500: a malformed digest as manifest reference (sha256:xyz, md5:..., upper-case
//   hex) is taken for a tag and the storage driver's path check fails: 500 UNKNOWN on GET, HEAD
//   and PUT. Blob endpoints answer 400 DIGEST_INVALID to the same digests.
// Different but allowed: GET of an OCI manifest without an Accept naming its type is 404
// MANIFEST_UNKNOWN; POST ?digest= with a body is 202 (no single-POST upload, body dropped);
// tag DELETE is refused with 400 DIGEST_INVALID; invalid names (upper case, %00) miss the router
// and get a plain-text 404, no NAME_INVALID; `..` and `%2e%2e` get a 301 to the cleaned path;
// an unknown repository is NAME_UNKNOWN rather than MANIFEST_UNKNOWN/BLOB_UNKNOWN.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ingot/core/Sha256.h"
#include "ingot/oci/Manifests.h"

namespace ingot::conformance {
namespace {

using json = nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Configuration

std::string env(const char* name) {
    const char* value = std::getenv(name);
    return value ? value : "";
}

const std::string& baseUrl() {
    static const std::string url = [] {
        std::string u = env("INGOT_REGISTRY_URL");
        while (!u.empty() && u.back() == '/') u.pop_back();
        return u;
    }();
    return url;
}

bool noReferrers() { return env("INGOT_REGISTRY_NO_REFERRERS") == "1"; }

// A deviation the peer is known for: the test then pins the peer's actual behaviour instead of
// the spec's, so that it still fails if that behaviour changes. Ids are listed in the header.
bool deviation(std::string_view id) {
    std::stringstream list(env("INGOT_REGISTRY_DEVIATIONS"));
    for (std::string item; std::getline(list, item, ',');)
        if (item == id) {
            std::cout << "[ deviation ] " << id << "\n";
            return true;
        }
    return false;
}

// One prefix per run: repositories never collide with an earlier run against the same storage.
const std::string& runPrefix() {
    static const std::string prefix = [] {
        std::random_device device;
        std::ostringstream out;
        out << "conformance-" << std::hex << device() << device();
        return out.str();
    }();
    return prefix;
}

std::string repoName(std::string_view suffix) { return runPrefix() + "/" + std::string(suffix); }

// ---------------------------------------------------------------------------------------------
// HTTP through libcurl; headers come from curl_easy_nextheader, URLs are built with the CURLU API.

struct Response {
    long status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  // lower-case name -> value
    bool truncated = false;                       // body shorter than its Content-Length

    std::optional<std::string> header(const std::string& name) const {
        auto it = headers.find(name);
        if (it == headers.end()) return std::nullopt;
        return it->second;
    }
    bool hasHeader(const std::string& name) const { return headers.count(name) != 0; }

    std::vector<std::string> errorCodes() const {
        std::vector<std::string> codes;
        const json j = json::parse(body, nullptr, false);
        if (j.is_object() && j.contains("errors") && j["errors"].is_array())
            for (const auto& e : j["errors"])
                if (e.is_object() && e.contains("code") && e["code"].is_string())
                    codes.push_back(e["code"]);
        return codes;
    }
    bool hasErrorCode(const std::string& code) const {
        const auto codes = errorCodes();
        return std::find(codes.begin(), codes.end(), code) != codes.end();
    }
    std::string describe() const {
        std::string text = "HTTP " + std::to_string(status);
        if (!body.empty()) text += ": " + body.substr(0, 400);
        return text;
    }
};

struct Request {
    std::string method = "GET";
    std::string url;
    std::vector<std::string> headers;
    std::optional<std::string> body;
};

size_t appendBody(char* data, size_t size, size_t count, void* target) {
    static_cast<std::string*>(target)->append(data, size * count);
    return size * count;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

Response send(const Request& request) {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) throw std::runtime_error("curl_easy_init failed");
    Response response;
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
    // Hostile cases must reach the server with `..` intact; well-formed URLs have none.
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, appendBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body);

    std::optional<std::string> body = request.body;
    const bool mayCarryBody = request.method == "POST" || request.method == "PUT" ||
                              request.method == "PATCH";
    if (!body && mayCarryBody) body = std::string();  // an explicit Content-Length: 0
    if (request.method == "HEAD") {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (request.method != "GET") {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data());
    }

    curl_slist* headers = nullptr;
    bool hasContentType = false;
    for (const auto& h : request.headers) {
        headers = curl_slist_append(headers, h.c_str());
        if (lower(h).rfind("content-type:", 0) == 0) hasContentType = true;
    }
    // curl would label a body as a form and wait for 100-continue on large ones.
    if (body && !hasContentType)
        headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
    headers = curl_slist_append(headers, "Expect:");
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headerList(headers,
                                                                          curl_slist_free_all);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

    const CURLcode rc = curl_easy_perform(c);
    response.truncated = rc == CURLE_PARTIAL_FILE;
    if (rc != CURLE_OK && !response.truncated)
        throw std::runtime_error(request.method + " " + request.url + ": " +
                                 curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
    for (curl_header* h = nullptr; (h = curl_easy_nextheader(c, CURLH_HEADER, -1, h));)
        response.headers[lower(h->name)] = h->value;
    return response;
}

Response get(const std::string& url, std::vector<std::string> headers = {}) {
    return send({"GET", url, std::move(headers), std::nullopt});
}
Response head(const std::string& url) { return send({"HEAD", url, {}, std::nullopt}); }
// Clients name the manifest types they take; distribution hides an OCI manifest from a GET
// without them (404 MANIFEST_UNKNOWN).
const std::vector<std::string> kAcceptManifests = {
    std::string("Accept: ") + oci::kMediaTypeImageManifest + ", " + oci::kMediaTypeImageIndex};
Response getManifest(const std::string& url) { return get(url, kAcceptManifests); }
Response headManifest(const std::string& url) {
    return send({"HEAD", url, kAcceptManifests, std::nullopt});
}
Response del(const std::string& url) { return send({"DELETE", url, {}, std::nullopt}); }

class Url {
public:
    explicit Url(const std::string& url, unsigned flags = 0)
        : handle_(curl_url(), curl_url_cleanup) {
        set(url, flags);
    }
    // Resolves `reference` (absolute or relative, as Location headers are) against this URL,
    // removing dot segments unless `flags` has CURLU_PATH_AS_IS.
    Url& set(const std::string& reference, unsigned flags = 0) {
        if (curl_url_set(handle_.get(), CURLUPART_URL, reference.c_str(), flags) != CURLUE_OK)
            throw std::runtime_error("bad URL: " + reference);
        return *this;
    }
    Url& addQuery(const std::string& name, const std::string& value) {
        const std::string pair = name + "=" + value;
        if (curl_url_set(handle_.get(), CURLUPART_QUERY, pair.c_str(),
                         CURLU_APPENDQUERY | CURLU_URLENCODE) != CURLUE_OK)
            throw std::runtime_error("bad query: " + pair);
        return *this;
    }
    std::string part(CURLUPart which) const {
        char* text = nullptr;
        if (curl_url_get(handle_.get(), which, &text, 0) != CURLUE_OK) return "";
        std::string result(text);
        curl_free(text);
        return result;
    }
    std::string str() const { return part(CURLUPART_URL); }

private:
    std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> handle_;
};

std::string v2(const std::string& path) { return baseUrl() + "/v2/" + path; }

// The path a server that percent-decodes, drops empty segments and removes dot segments
// (RFC 3986 5.2.4) sees — what Go's path.Clean makes of it.
std::string cleanedPath(const std::string& url) {
    const std::string raw = Url(url, CURLU_PATH_AS_IS).part(CURLUPART_PATH);
    int length = 0;
    char* decoded = curl_easy_unescape(nullptr, raw.c_str(), static_cast<int>(raw.size()), &length);
    std::string path(decoded, static_cast<size_t>(length));
    curl_free(decoded);
    path.erase(std::unique(path.begin(), path.end(),
                           [](char a, char b) { return a == '/' && b == '/'; }),
               path.end());
    return Url(baseUrl()).set(path).part(CURLUPART_PATH);
}

std::string location(const Response& r) {
    const auto loc = r.header("location");
    if (!loc) throw std::runtime_error("no Location header in " + r.describe());
    return Url(baseUrl() + "/v2/").set(*loc).str();
}

// ---------------------------------------------------------------------------------------------
// Content

std::string digestOf(std::string_view bytes) { return "sha256:" + toHex(sha256(bytes)); }

struct Blob {
    std::string bytes;
    std::string digest;
    std::string mediaType;
};

Blob makeBlob(size_t size, std::string mediaType = oci::kMediaTypeChunk) {
    static std::mt19937_64 generator(std::random_device{}());
    Blob blob;
    blob.bytes.resize(size);
    for (auto& b : blob.bytes) b = static_cast<char>(generator());
    blob.digest = digestOf(blob.bytes);
    blob.mediaType = std::move(mediaType);
    return blob;
}

Blob emptyConfig() { return {"{}", digestOf("{}"), oci::kMediaTypeEmpty}; }

json descriptor(const Blob& b) {
    return {{"mediaType", b.mediaType}, {"digest", b.digest}, {"size", b.bytes.size()}};
}

struct Manifest {
    std::string bytes;
    std::string digest;
    std::string mediaType = oci::kMediaTypeImageManifest;
    std::string artifactType;
    json descriptor() const {
        json d = {{"mediaType", mediaType}, {"digest", digest}, {"size", bytes.size()}};
        if (!artifactType.empty()) d["artifactType"] = artifactType;
        return d;
    }
};

Manifest imageManifest(const Blob& config, const std::vector<Blob>& layers,
                       const std::string& artifactType = oci::kArtifactTypeImage,
                       const Manifest* subject = nullptr, json annotations = nullptr,
                       int indent = -1) {
    json m = {{"schemaVersion", 2}, {"mediaType", oci::kMediaTypeImageManifest},
              {"config", descriptor(config)}, {"layers", json::array()}};
    if (!artifactType.empty()) m["artifactType"] = artifactType;
    for (const auto& l : layers) m["layers"].push_back(descriptor(l));
    if (subject) {
        json s = subject->descriptor();
        s.erase("artifactType");
        m["subject"] = s;
    }
    if (!annotations.is_null()) m["annotations"] = annotations;
    Manifest out;
    out.bytes = m.dump(indent);
    if (indent >= 0) out.bytes += "\n";
    out.digest = digestOf(out.bytes);
    out.artifactType = artifactType;
    return out;
}

// ---------------------------------------------------------------------------------------------
// Operations the tests share; each asserts the spec's success answer.

void pushBlob(const std::string& repo, const Blob& blob) {
    const Response post = send({"POST", v2(repo + "/blobs/uploads/"), {}, std::nullopt});
    ASSERT_EQ(post.status, 202) << post.describe();
    const Response put = send({"PUT", Url(location(post)).addQuery("digest", blob.digest).str(),
                               {}, blob.bytes});
    ASSERT_EQ(put.status, 201) << put.describe();
}

Response putManifest(const std::string& repo, const std::string& reference, const Manifest& m) {
    return send({"PUT", v2(repo + "/manifests/" + reference), {"Content-Type: " + m.mediaType},
                 m.bytes});
}

struct Image {
    Blob config;
    std::vector<Blob> layers;
    Manifest manifest;
};

// An ingot image as DESIGN.md "OCI packaging" lays it out: the ingot manifest as config, disk
// chunks as layers, artifactType application/vnd.ingot.image.v1.
Image pushImage(const std::string& repo, const std::string& tag, size_t layerSize = 4096) {
    Image image;
    image.config = makeBlob(300, oci::kMediaTypeIngotManifest);
    image.layers = {makeBlob(layerSize), makeBlob(layerSize / 2 + 17)};
    image.manifest = imageManifest(image.config, image.layers);
    pushBlob(repo, image.config);
    for (const auto& l : image.layers) pushBlob(repo, l);
    const Response r = putManifest(repo, tag, image.manifest);
    EXPECT_EQ(r.status, 201) << r.describe();
    return image;
}

// A signature referrer as ingot pushes it: empty config, the .minisig as its one layer.
Manifest pushSignature(const std::string& repo, const Manifest& subject, const std::string& ref,
                       Response* response = nullptr,
                       const std::string& artifactType = oci::kArtifactTypeSignature) {
    const Blob config = emptyConfig();
    const Blob sig = {"untrusted comment: conformance\n" + subject.digest + "\n",
                      "", oci::kMediaTypeMinisign};
    Blob layer = sig;
    layer.digest = digestOf(layer.bytes);
    pushBlob(repo, config);
    pushBlob(repo, layer);
    const Manifest m = imageManifest(config, {layer}, artifactType, &subject,
                                     {{"org.ingot.conformance", artifactType}});
    const Response r = putManifest(repo, ref, m);
    EXPECT_EQ(r.status, 201) << r.describe();
    if (response) *response = r;
    return m;
}

std::vector<std::string> tagsOf(const Response& r) {
    std::vector<std::string> tags;
    const json j = json::parse(r.body);
    if (j.contains("tags") && j["tags"].is_array())
        for (const auto& t : j["tags"]) tags.push_back(t);
    return tags;
}

// RFC 8288 Link: `<URI-reference>; rel="next"`. libcurl has no parser for it, and std::regex
// trips GCC 12's -Wmaybe-uninitialized under the sanitizer build; registries send one link.
std::optional<std::string> nextLink(const Response& r) {
    const auto link = r.header("link");
    if (!link || link->find("rel=\"next\"") == std::string::npos) return std::nullopt;
    const size_t open = link->find('<');
    const size_t close = link->find('>');
    if (open == std::string::npos || close == std::string::npos || close < open)
        return std::nullopt;
    return Url(baseUrl() + "/v2/").set(link->substr(open + 1, close - open - 1)).str();
}

// ---------------------------------------------------------------------------------------------
// Fixtures

class Conformance : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_FALSE(baseUrl().empty()) << "set INGOT_REGISTRY_URL to the registry's base URL";
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        repo_ = repoName(lower(std::string(info->test_suite_name()) + "-" + info->name()));
    }
    const std::string& repo() const { return repo_; }

private:
    std::string repo_;
};

class Pull : public Conformance {
protected:
    void SetUp() override {
        Conformance::SetUp();
        ASSERT_NO_FATAL_FAILURE(image_ = pushImage(repo(), "v1"));
    }
    Image image_;
};

using Push = Conformance;

class ContentDiscovery : public Conformance {};
class ContentManagement : public Conformance {};

// Every hostile test ends by checking that the server still answers.
class Hostile : public Conformance {
protected:
    void TearDown() override {
        const Response r = get(v2(""));
        EXPECT_EQ(r.status, 200) << "registry no longer answers after hostile requests: "
                                 << r.describe();
    }

    // `allowed` is the spec's set for this request. A 5xx is never allowed, except the exact
    // 500 UNKNOWN a peer is listed for in INGOT_REGISTRY_KNOWN_500.
    void expectRefused(const Request& request, const std::set<long>& allowed,
                       const std::string& deviationId = "") {
        const Response r = send(request);
        const std::string what = request.method + " " + request.url;
        if (r.status >= 500 && !deviationId.empty() && deviation(deviationId)) {
            EXPECT_EQ(r.status, 500) << what << ": " << r.describe();
            if (request.method != "HEAD") {
                EXPECT_TRUE(r.hasErrorCode("UNKNOWN")) << what << ": " << r.describe();
            }
            return;
        }
        EXPECT_LT(r.status, 500) << what << ": " << r.describe();
        EXPECT_TRUE(allowed.count(r.status)) << what << ": " << r.describe();
        // A redirect may only be the cleaned form of the very path requested (Go's ServeMux
        // does this); anything else would route a hostile name somewhere.
        if (r.status == 301 || r.status == 308) {
            const std::string target = location(r);
            EXPECT_EQ(Url(target).part(CURLUPART_PATH), cleanedPath(request.url)) << what;
        }
        if (r.status == 400 && !r.errorCodes().empty()) {
            const auto codes = r.errorCodes();
            static const std::set<std::string> fitting = {"NAME_INVALID", "DIGEST_INVALID",
                                                          "MANIFEST_INVALID", "TAG_INVALID",
                                                          "BLOB_UPLOAD_INVALID", "UNSUPPORTED"};
            EXPECT_TRUE(std::any_of(codes.begin(), codes.end(),
                                    [](const auto& c) { return fitting.count(c) != 0; }))
                << what << ": " << r.describe();
        }
    }
};

// ---------------------------------------------------------------------------------------------
// Pull

TEST_F(Pull, BaseEndpointAnswers200) {
    const Response r = get(v2(""));
    EXPECT_EQ(r.status, 200) << r.describe();
}

TEST_F(Pull, GetManifestByTagReturnsExactBytesAndDigest) {
    const Response r = getManifest(v2(repo() + "/manifests/v1"));
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(r.body, image_.manifest.bytes);
    EXPECT_EQ(r.header("docker-content-digest"), image_.manifest.digest);
    EXPECT_EQ(r.header("content-type"), oci::kMediaTypeImageManifest);
}

TEST_F(Pull, GetManifestByDigest) {
    const Response r = getManifest(v2(repo() + "/manifests/" + image_.manifest.digest));
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(r.body, image_.manifest.bytes);
    EXPECT_EQ(r.header("docker-content-digest"), image_.manifest.digest);
}

TEST_F(Pull, HeadManifestByTagAndDigest) {
    for (const std::string& ref : {std::string("v1"), image_.manifest.digest}) {
        const Response r = headManifest(v2(repo() + "/manifests/" + ref));
        ASSERT_EQ(r.status, 200) << ref << ": " << r.describe();
        EXPECT_TRUE(r.body.empty());
        EXPECT_EQ(r.header("docker-content-digest"), image_.manifest.digest) << ref;
        EXPECT_EQ(r.header("content-length"), std::to_string(image_.manifest.bytes.size())) << ref;
    }
}

TEST_F(Pull, GetBlobReturnsBytesAndDigest) {
    for (const Blob& b : {image_.config, image_.layers[0], image_.layers[1]}) {
        const Response r = get(v2(repo() + "/blobs/" + b.digest));
        ASSERT_EQ(r.status, 200) << b.digest << ": " << r.describe();
        EXPECT_TRUE(r.body == b.bytes) << b.digest << ": body differs";
        EXPECT_EQ(r.header("docker-content-digest"), b.digest);
    }
}

TEST_F(Pull, HeadBlob) {
    const Blob& b = image_.layers[0];
    const Response r = head(v2(repo() + "/blobs/" + b.digest));
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(r.header("content-length"), std::to_string(b.bytes.size()));
    EXPECT_EQ(r.header("docker-content-digest"), b.digest);
}

TEST_F(Pull, BlobRangeRequests) {
    const Blob& b = image_.layers[0];  // 4096 bytes
    const std::string total = std::to_string(b.bytes.size());
    struct Case {
        std::string range;
        size_t first, last;
    };
    for (const Case& c : {Case{"bytes=500-1499", 500, 1499}, Case{"bytes=500-", 500, 4095},
                          Case{"bytes=-500", 3596, 4095}, Case{"bytes=2000-9000", 2000, 4095}}) {
        const Response r = get(v2(repo() + "/blobs/" + b.digest), {"Range: " + c.range});
        ASSERT_EQ(r.status, 206) << c.range << ": " << r.describe();
        EXPECT_TRUE(r.body == b.bytes.substr(c.first, c.last - c.first + 1)) << c.range;
        const std::string span = "bytes " + std::to_string(c.first) + "-" + std::to_string(c.last);
        const auto contentRange = r.header("content-range");
        EXPECT_TRUE(contentRange == span + "/" + total || contentRange == span + "/*")
            << c.range << ": " << contentRange.value_or("(none)");
    }
    const Response beyond = get(v2(repo() + "/blobs/" + b.digest), {"Range: bytes=5000-6000"});
    EXPECT_EQ(beyond.status, 416) << beyond.describe();
    if (beyond.truncated) {
        // The error body is short of the Content-Length the server announced (the blob's).
        EXPECT_TRUE(deviation("range-416-length")) << "416 body shorter than its Content-Length";
        EXPECT_EQ(beyond.header("content-length"), total);
    }
}

TEST_F(Pull, UnknownBlobIs404BlobUnknown) {
    const std::string missing = digestOf("never pushed " + repo());
    const Response r = get(v2(repo() + "/blobs/" + missing));
    EXPECT_EQ(r.status, 404) << r.describe();
    EXPECT_TRUE(r.hasErrorCode("BLOB_UNKNOWN")) << r.describe();
    EXPECT_EQ(head(v2(repo() + "/blobs/" + missing)).status, 404);
}

TEST_F(Pull, UnknownManifestIs404ManifestUnknown) {
    for (const std::string& ref : {std::string("no-such-tag"), digestOf("no such manifest")}) {
        const Response r = getManifest(v2(repo() + "/manifests/" + ref));
        EXPECT_EQ(r.status, 404) << ref << ": " << r.describe();
        EXPECT_TRUE(r.hasErrorCode("MANIFEST_UNKNOWN")) << ref << ": " << r.describe();
        EXPECT_EQ(headManifest(v2(repo() + "/manifests/" + ref)).status, 404) << ref;
    }
}

TEST_F(Pull, UnknownRepositoryIs404) {
    const std::string other = repoName("never-created");
    const Response m = getManifest(v2(other + "/manifests/v1"));
    EXPECT_EQ(m.status, 404) << m.describe();
    EXPECT_TRUE(m.hasErrorCode("NAME_UNKNOWN") || m.hasErrorCode("MANIFEST_UNKNOWN"))
        << m.describe();
    const Response b = get(v2(other + "/blobs/" + image_.config.digest));
    EXPECT_EQ(b.status, 404) << "a blob is visible through a repository that never had it";
    EXPECT_TRUE(b.hasErrorCode("NAME_UNKNOWN") || b.hasErrorCode("BLOB_UNKNOWN"))
        << b.describe();
}

// ---------------------------------------------------------------------------------------------
// Push

TEST_F(Push, MonolithicSinglePost) {
    const Blob b = makeBlob(3000);
    const Response post = send({"POST", Url(v2(repo() + "/blobs/uploads/"))
                                            .addQuery("digest", b.digest).str(),
                                {}, b.bytes});
    // 201: stored in one request; 202: single POST unsupported, the client finishes with PUT.
    ASSERT_TRUE(post.status == 201 || post.status == 202) << post.describe();
    ASSERT_TRUE(post.hasHeader("location"));
    if (post.status == 201) {
        EXPECT_EQ(post.header("docker-content-digest"), b.digest);
    } else {
        const Response put = send({"PUT", Url(location(post)).addQuery("digest", b.digest).str(),
                                   {}, b.bytes});
        ASSERT_EQ(put.status, 201) << put.describe();
    }
    const Response r = get(v2(repo() + "/blobs/" + b.digest));
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_TRUE(r.body == b.bytes);
}

TEST_F(Push, PostThenPut) {
    const Blob b = makeBlob(70000);
    const Response post = send({"POST", v2(repo() + "/blobs/uploads/"), {}, std::nullopt});
    ASSERT_EQ(post.status, 202) << post.describe();
    const Response put = send({"PUT", Url(location(post)).addQuery("digest", b.digest).str(), {},
                               b.bytes});
    ASSERT_EQ(put.status, 201) << put.describe();
    EXPECT_EQ(put.header("docker-content-digest"), b.digest);
    // The Location of a finished upload is a pullable blob URL.
    const Response r = get(location(put));
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_TRUE(r.body == b.bytes);
}

TEST_F(Push, ChunkedPatchWithContentRange) {
    const Blob b = makeBlob(3 * 10000 + 123);
    const Response post = send({"POST", v2(repo() + "/blobs/uploads/"), {}, std::nullopt});
    ASSERT_EQ(post.status, 202) << post.describe();
    std::string at = location(post);
    size_t offset = 0;
    for (size_t size : {10000, 10000, 10123}) {
        const std::string range = std::to_string(offset) + "-" + std::to_string(offset + size - 1);
        const Response patch = send({"PATCH", at, {"Content-Range: " + range},
                                     b.bytes.substr(offset, size)});
        ASSERT_EQ(patch.status, 202) << range << ": " << patch.describe();
        EXPECT_EQ(patch.header("range"), "0-" + std::to_string(offset + size - 1));
        at = location(patch);
        offset += size;
    }
    const Response put = send({"PUT", Url(at).addQuery("digest", b.digest).str(), {}, std::nullopt});
    ASSERT_EQ(put.status, 201) << put.describe();
    const Response r = get(v2(repo() + "/blobs/" + b.digest));
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_TRUE(r.body == b.bytes);
}

TEST_F(Push, OutOfOrderChunkIs416AndUploadContinues) {
    const Blob b = makeBlob(20000);
    const Response post = send({"POST", v2(repo() + "/blobs/uploads/"), {}, std::nullopt});
    ASSERT_EQ(post.status, 202) << post.describe();
    const Response first = send({"PATCH", location(post), {"Content-Range: 0-9999"},
                                 b.bytes.substr(0, 10000)});
    ASSERT_EQ(first.status, 202) << first.describe();
    const std::string at = location(first);

    // A gap (starts past the end) and an overlap (starts inside what was sent).
    const Response gap = send({"PATCH", at, {"Content-Range: 10500-19999"},
                               b.bytes.substr(10500)});
    if (gap.status == 202 && deviation("chunk-range-ignored")) {
        // The chunk is appended where the upload stands, whatever its range says; the blob is
        // then wrong, and only the digest check at PUT catches it.
        EXPECT_EQ(gap.header("range"), "0-19499");
        const Response put = send({"PUT", Url(location(gap)).addQuery("digest", b.digest).str(),
                                   {}, std::nullopt});
        EXPECT_EQ(put.status, 400) << put.describe();
        EXPECT_TRUE(put.hasErrorCode("DIGEST_INVALID")) << put.describe();
        EXPECT_EQ(head(v2(repo() + "/blobs/" + b.digest)).status, 404);
        return;
    }
    EXPECT_EQ(gap.status, 416) << gap.describe();
    const Response overlap = send({"PATCH", at, {"Content-Range: 5000-14999"},
                                   b.bytes.substr(5000, 10000)});
    EXPECT_EQ(overlap.status, 416) << overlap.describe();

    const Response status = get(at);
    ASSERT_EQ(status.status, 204) << status.describe();
    EXPECT_EQ(status.header("range"), "0-9999");

    const Response rest = send({"PATCH", location(status), {"Content-Range: 10000-19999"},
                                b.bytes.substr(10000)});
    ASSERT_EQ(rest.status, 202) << rest.describe();
    const Response put = send({"PUT", Url(location(rest)).addQuery("digest", b.digest).str(), {},
                               std::nullopt});
    ASSERT_EQ(put.status, 201) << put.describe();
    const Response r = get(v2(repo() + "/blobs/" + b.digest));
    EXPECT_TRUE(r.body == b.bytes);
}

TEST_F(Push, UploadStatusIs204WithRange) {
    const Blob b = makeBlob(5000);
    const Response post = send({"POST", v2(repo() + "/blobs/uploads/"), {}, std::nullopt});
    ASSERT_EQ(post.status, 202) << post.describe();
    const Response patch = send({"PATCH", location(post), {"Content-Range: 0-4999"}, b.bytes});
    ASSERT_EQ(patch.status, 202) << patch.describe();
    const Response status = get(location(patch));
    EXPECT_EQ(status.status, 204) << status.describe();
    EXPECT_EQ(status.header("range"), "0-4999");
    EXPECT_TRUE(status.hasHeader("location"));
}

TEST_F(Push, CancelUpload) {
    const Blob b = makeBlob(5000);
    const Response post = send({"POST", v2(repo() + "/blobs/uploads/"), {}, std::nullopt});
    ASSERT_EQ(post.status, 202) << post.describe();
    const Response patch = send({"PATCH", location(post), {"Content-Range: 0-4999"}, b.bytes});
    ASSERT_EQ(patch.status, 202) << patch.describe();
    const std::string at = location(patch);
    const Response cancel = del(at);
    EXPECT_EQ(cancel.status, 204) << cancel.describe();
    const Response status = get(at);
    EXPECT_EQ(status.status, 404) << status.describe();
    EXPECT_TRUE(status.hasErrorCode("BLOB_UPLOAD_UNKNOWN")) << status.describe();
    const Response put = send({"PUT", Url(at).addQuery("digest", b.digest).str(), {}, std::nullopt});
    EXPECT_EQ(put.status, 404) << "a cancelled upload still completes: " << put.describe();
    EXPECT_EQ(head(v2(repo() + "/blobs/" + b.digest)).status, 404);
}

TEST_F(Push, DigestMismatchIs400DigestInvalid) {
    const Blob b = makeBlob(5000);
    const std::string claimed = digestOf("something else");
    const Response post = send({"POST", v2(repo() + "/blobs/uploads/"), {}, std::nullopt});
    ASSERT_EQ(post.status, 202) << post.describe();
    const Response put = send({"PUT", Url(location(post)).addQuery("digest", claimed).str(), {},
                               b.bytes});
    EXPECT_EQ(put.status, 400) << put.describe();
    EXPECT_TRUE(put.hasErrorCode("DIGEST_INVALID")) << put.describe();
    EXPECT_EQ(head(v2(repo() + "/blobs/" + claimed)).status, 404);
    EXPECT_EQ(head(v2(repo() + "/blobs/" + b.digest)).status, 404);
}

TEST_F(Push, CrossRepositoryMount) {
    const std::string from = repo() + "-source";
    const Blob b = makeBlob(6000);
    ASSERT_NO_FATAL_FAILURE(pushBlob(from, b));
    const Response mount = send({"POST", Url(v2(repo() + "/blobs/uploads/"))
                                             .addQuery("mount", b.digest)
                                             .addQuery("from", from)
                                             .str(),
                                 {}, std::nullopt});
    ASSERT_EQ(mount.status, 201) << mount.describe();
    EXPECT_EQ(mount.header("docker-content-digest"), b.digest);
    EXPECT_EQ(get(location(mount)).status, 200);
    const Response r = get(v2(repo() + "/blobs/" + b.digest));
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_TRUE(r.body == b.bytes);
}

TEST_F(Push, MountOfBlobTheSourceLacksFallsBackToUpload) {
    const std::string from = repo() + "-source";
    ASSERT_NO_FATAL_FAILURE(pushBlob(from, makeBlob(100)));
    const Blob b = makeBlob(6000);
    const Response mount = send({"POST", Url(v2(repo() + "/blobs/uploads/"))
                                             .addQuery("mount", b.digest)
                                             .addQuery("from", from)
                                             .str(),
                                 {}, std::nullopt});
    ASSERT_EQ(mount.status, 202) << mount.describe();
    const Response put = send({"PUT", Url(location(mount)).addQuery("digest", b.digest).str(), {},
                               b.bytes});
    EXPECT_EQ(put.status, 201) << put.describe();
}

TEST_F(Push, ManifestPutByTagKeepsExactBytes) {
    Image image;
    image.config = makeBlob(200, oci::kMediaTypeIngotManifest);
    image.layers = {makeBlob(1000)};
    ASSERT_NO_FATAL_FAILURE(pushBlob(repo(), image.config));
    ASSERT_NO_FATAL_FAILURE(pushBlob(repo(), image.layers[0]));
    // Indented with a trailing newline: a registry that re-serialises changes the digest.
    const Manifest m = imageManifest(image.config, image.layers, oci::kArtifactTypeImage, nullptr,
                                     nullptr, 3);
    const Response put = putManifest(repo(), "v1", m);
    ASSERT_EQ(put.status, 201) << put.describe();
    EXPECT_EQ(put.header("docker-content-digest"), m.digest);
    EXPECT_TRUE(put.hasHeader("location"));
    for (const std::string& ref : {std::string("v1"), m.digest}) {
        const Response r = getManifest(v2(repo() + "/manifests/" + ref));
        ASSERT_EQ(r.status, 200) << r.describe();
        EXPECT_EQ(r.body, m.bytes);
        EXPECT_EQ(r.header("docker-content-digest"), m.digest);
    }
}

TEST_F(Push, ManifestPutByDigest) {
    const Blob config = makeBlob(200, oci::kMediaTypeIngotManifest);
    ASSERT_NO_FATAL_FAILURE(pushBlob(repo(), config));
    const Manifest m = imageManifest(config, {});
    const Response put = putManifest(repo(), m.digest, m);
    ASSERT_EQ(put.status, 201) << put.describe();
    EXPECT_EQ(put.header("docker-content-digest"), m.digest);
    const Response r = getManifest(v2(repo() + "/manifests/" + m.digest));
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(r.body, m.bytes);
}

TEST_F(Push, ManifestPutUnderWrongDigestIs400) {
    const Blob config = makeBlob(200, oci::kMediaTypeIngotManifest);
    ASSERT_NO_FATAL_FAILURE(pushBlob(repo(), config));
    const Manifest m = imageManifest(config, {});
    const std::string wrong = digestOf(m.bytes + " ");
    const Response put = putManifest(repo(), wrong, m);
    EXPECT_EQ(put.status, 400) << put.describe();
    EXPECT_TRUE(put.hasErrorCode("DIGEST_INVALID")) << put.describe();
    EXPECT_EQ(getManifest(v2(repo() + "/manifests/" + wrong)).status, 404);
}

TEST_F(Push, ManifestReferencingMissingBlobIs400ManifestBlobUnknown) {
    const Blob config = makeBlob(200, oci::kMediaTypeIngotManifest);
    ASSERT_NO_FATAL_FAILURE(pushBlob(repo(), config));
    const Blob missing = makeBlob(1000);  // never pushed
    const Manifest m = imageManifest(config, {missing});
    const Response put = putManifest(repo(), "v1", m);
    EXPECT_EQ(put.status, 400) << put.describe();
    EXPECT_TRUE(put.hasErrorCode("MANIFEST_BLOB_UNKNOWN")) << put.describe();
    EXPECT_EQ(getManifest(v2(repo() + "/manifests/v1")).status, 404);
}

TEST_F(Push, ManifestOfFourMebibytesAccepted) {
    const Blob config = makeBlob(200, oci::kMediaTypeIngotManifest);
    const Blob layer = makeBlob(1000);
    ASSERT_NO_FATAL_FAILURE(pushBlob(repo(), config));
    ASSERT_NO_FATAL_FAILURE(pushBlob(repo(), layer));
    // Chunk annotations are what make an ingot manifest large; pad one to exactly 4 MiB.
    json annotations;
    for (int i = 0; i < 400; ++i) annotations["org.ingot.pad." + std::to_string(i)] = std::string(10000, 'A');
    Manifest m = imageManifest(config, {layer}, oci::kArtifactTypeImage, nullptr, annotations);
    const size_t target = 4u << 20;
    ASSERT_LT(m.bytes.size(), target);
    annotations["org.ingot.pad.last"] = std::string(target - m.bytes.size() - 
                                                   std::string(",\"org.ingot.pad.last\":\"\"").size(), 'B');
    m = imageManifest(config, {layer}, oci::kArtifactTypeImage, nullptr, annotations);
    ASSERT_EQ(m.bytes.size(), target);
    const Response put = putManifest(repo(), "large", m);
    ASSERT_EQ(put.status, 201) << put.describe();
    const Response r = getManifest(v2(repo() + "/manifests/large"));
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_TRUE(r.body == m.bytes);
    EXPECT_EQ(r.header("docker-content-digest"), m.digest);
}

// ---------------------------------------------------------------------------------------------
// Content discovery

TEST_F(ContentDiscovery, TagsListIsSorted) {
    const Image image = pushImage(repo(), "v3");
    const std::vector<std::string> tags = {"a", "B", "latest", "v1", "v10", "v2", "v3"};
    for (const auto& t : tags) ASSERT_EQ(putManifest(repo(), t, image.manifest).status, 201) << t;
    const Response r = get(v2(repo() + "/tags/list"));
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(json::parse(r.body).value("name", ""), repo());
    std::vector<std::string> sorted = tags;
    std::sort(sorted.begin(), sorted.end());  // ASCIIbetical, as Go's sort.Strings
    std::vector<std::string> got = tagsOf(r);
    if (got != sorted && deviation("tags-unpaginated"))
        std::sort(got.begin(), got.end());  // directory order: every tag, unsorted
    EXPECT_EQ(got, sorted);
}

// distribution 2.8 answers every tags/list with all tags in directory order, ignoring n and last.
void expectAllTagsUnpaginated(const std::string& url, std::vector<std::string> all) {
    const Response r = get(url);
    ASSERT_EQ(r.status, 200) << url << ": " << r.describe();
    EXPECT_FALSE(r.hasHeader("link"));
    std::vector<std::string> got = tagsOf(r);
    std::sort(got.begin(), got.end());
    std::sort(all.begin(), all.end());
    EXPECT_EQ(got, all) << url;
}

TEST_F(ContentDiscovery, TagsListPaginationWithNAndLast) {
    const Image image = pushImage(repo(), "t0");
    std::vector<std::string> all = {"t0"};
    for (int i = 1; i < 7; ++i) {
        const std::string t = "t" + std::to_string(i);
        ASSERT_EQ(putManifest(repo(), t, image.manifest).status, 201) << t;
        all.push_back(t);
    }
    const Url list(v2(repo() + "/tags/list"));
    if (deviation("tags-unpaginated")) {
        for (const auto& query : {std::pair{"n", "2"}, std::pair{"n", "0"}, std::pair{"last", "t4"}})
            expectAllTagsUnpaginated(Url(list.str()).addQuery(query.first, query.second).str(), all);
        return;
    }

    // n=0: an empty list and no Link.
    const Response none = get(Url(list.str()).addQuery("n", "0").str());
    ASSERT_EQ(none.status, 200) << none.describe();
    EXPECT_TRUE(tagsOf(none).empty()) << none.body;
    EXPECT_FALSE(none.hasHeader("link"));

    // n=2: exactly two, or fewer with a Link; following Link collects every tag once, in order.
    std::vector<std::string> collected;
    std::optional<std::string> page = Url(v2(repo() + "/tags/list")).addQuery("n", "2").str();
    int pages = 0;
    bool sawLink = false;
    while (page && pages++ < 10) {
        const Response r = get(*page);
        ASSERT_EQ(r.status, 200) << *page << ": " << r.describe();
        const auto tags = tagsOf(r);
        EXPECT_LE(tags.size(), 2u);
        page = nextLink(r);
        if (page) sawLink = true;
        if (!page && tags.size() == 2 && collected.size() + 2 < all.size()) {
            // No Link: the client pages on with `last`.
            page = Url(v2(repo() + "/tags/list")).addQuery("n", "2").addQuery("last", tags.back()).str();
        }
        collected.insert(collected.end(), tags.begin(), tags.end());
    }
    EXPECT_EQ(collected, all);
    std::cout << "[ info ] tags/list pagination " << (sawLink ? "sends" : "does not send")
              << " a Link header\n";

    const Response afterT2 = get(Url(v2(repo() + "/tags/list")).addQuery("n", "3").addQuery("last", "t2").str());
    ASSERT_EQ(afterT2.status, 200) << afterT2.describe();
    EXPECT_EQ(tagsOf(afterT2), (std::vector<std::string>{"t3", "t4", "t5"}));

    const Response lastOnly = get(Url(v2(repo() + "/tags/list")).addQuery("last", "t4").str());
    ASSERT_EQ(lastOnly.status, 200) << lastOnly.describe();
    EXPECT_EQ(tagsOf(lastOnly), (std::vector<std::string>{"t5", "t6"}));
}

TEST_F(ContentDiscovery, TagsListFirstPageHasLinkToTheRest) {
    const Image image = pushImage(repo(), "a1");
    ASSERT_EQ(putManifest(repo(), "a2", image.manifest).status, 201);
    ASSERT_EQ(putManifest(repo(), "a3", image.manifest).status, 201);
    const std::string url = Url(v2(repo() + "/tags/list")).addQuery("n", "1").str();
    if (deviation("tags-unpaginated")) return expectAllTagsUnpaginated(url, {"a1", "a2", "a3"});
    const Response r = get(url);
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(tagsOf(r), std::vector<std::string>{"a1"});
    const auto next = nextLink(r);
    ASSERT_TRUE(next) << "no Link rel=\"next\" header: " << r.header("link").value_or("(none)");
    const Response second = get(*next);
    ASSERT_EQ(second.status, 200) << second.describe();
    EXPECT_EQ(tagsOf(second), std::vector<std::string>{"a2"});
}

TEST_F(ContentDiscovery, ReferrersListsSubjectsReferrersWithArtifactTypeFilter) {
    if (noReferrers()) GTEST_SKIP() << "peer has no referrers API (INGOT_REGISTRY_NO_REFERRERS)";
    const Image image = pushImage(repo(), "v1");
    Response sigPut;
    const Manifest sig = pushSignature(repo(), image.manifest, "sig", &sigPut);
    EXPECT_EQ(sigPut.header("oci-subject"), image.manifest.digest);
    const std::string sbomType = "application/vnd.example.sbom.v1";
    const Manifest sbom = pushSignature(repo(), image.manifest, "sbom", nullptr, sbomType);

    const Response all = get(v2(repo() + "/referrers/" + image.manifest.digest));
    ASSERT_EQ(all.status, 200) << all.describe();
    EXPECT_EQ(all.header("content-type"), oci::kMediaTypeImageIndex);
    const json index = json::parse(all.body);
    EXPECT_EQ(index.value("schemaVersion", 0), 2);
    EXPECT_EQ(index.value("mediaType", ""), oci::kMediaTypeImageIndex);
    std::map<std::string, json> byDigest;
    for (const auto& d : index["manifests"]) byDigest[d["digest"]] = d;
    ASSERT_EQ(byDigest.size(), 2u) << all.body;
    for (const Manifest* m : {&sig, &sbom}) {
        ASSERT_TRUE(byDigest.count(m->digest)) << m->digest << " missing from " << all.body;
        const json& d = byDigest[m->digest];
        EXPECT_EQ(d.value("artifactType", ""), m->artifactType);
        EXPECT_EQ(d.value("size", 0u), m->bytes.size());
        EXPECT_EQ(d.value("mediaType", ""), oci::kMediaTypeImageManifest);
        EXPECT_EQ(d["annotations"].value("org.ingot.conformance", ""), m->artifactType);
    }

    const Response filtered = get(Url(v2(repo() + "/referrers/" + image.manifest.digest))
                                      .addQuery("artifactType", oci::kArtifactTypeSignature)
                                      .str());
    ASSERT_EQ(filtered.status, 200) << filtered.describe();
    const json f = json::parse(filtered.body);
    if (filtered.header("oci-filters-applied") == "artifactType") {
        ASSERT_EQ(f["manifests"].size(), 1u) << filtered.body;
        EXPECT_EQ(f["manifests"][0]["digest"], sig.digest);
    } else {
        // Unfiltered answers are allowed (SHOULD), but then must be complete.
        EXPECT_EQ(f["manifests"].size(), 2u) << filtered.body;
    }
}

TEST_F(ContentDiscovery, ReferrersOfUnknownDigestIsEmptyIndex) {
    if (noReferrers()) GTEST_SKIP() << "peer has no referrers API (INGOT_REGISTRY_NO_REFERRERS)";
    pushImage(repo(), "v1");
    const Response r = get(v2(repo() + "/referrers/" + digestOf("nothing refers to this")));
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(r.header("content-type"), oci::kMediaTypeImageIndex);
    EXPECT_TRUE(json::parse(r.body)["manifests"].empty()) << r.body;
}

TEST_F(ContentDiscovery, ReferrersWithBadDigestIs400) {
    if (noReferrers()) GTEST_SKIP() << "peer has no referrers API (INGOT_REGISTRY_NO_REFERRERS)";
    pushImage(repo(), "v1");
    const Response r = get(v2(repo() + "/referrers/sha256:xyz"));
    EXPECT_EQ(r.status, 400) << r.describe();
}

TEST_F(ContentDiscovery, SubjectAcceptedBeforeItsManifestExists) {
    // A subject that was never pushed: the spec requires accepting it so that referrers and
    // their subject can be pushed in either order.
    const Blob config = makeBlob(100, oci::kMediaTypeIngotManifest);
    Manifest absent = imageManifest(config, {});
    Response put;
    pushSignature(repo(), absent, "orphan-sig", &put);
    ASSERT_EQ(put.status, 201) << put.describe();
    if (noReferrers())
        // Its absence is the client's cue to maintain the tag fallback.
        EXPECT_FALSE(put.hasHeader("oci-subject")) << put.header("oci-subject").value_or("");
    else
        EXPECT_EQ(put.header("oci-subject"), absent.digest);
}

TEST_F(ContentDiscovery, SignatureTagFallbackVisibleInTagsList) {
    const Image image = pushImage(repo(), "v1");
    const std::string sigTag = "sha256-" + image.manifest.digest.substr(7) + ".sig";
    const Manifest sig = pushSignature(repo(), image.manifest, sigTag);
    const Response tags = get(v2(repo() + "/tags/list"));
    ASSERT_EQ(tags.status, 200) << tags.describe();
    const auto list = tagsOf(tags);
    EXPECT_NE(std::find(list.begin(), list.end(), sigTag), list.end()) << tags.body;
    const Response r = getManifest(v2(repo() + "/manifests/" + sigTag));
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(r.body, sig.bytes);
    const json m = json::parse(r.body);
    EXPECT_EQ(m["subject"]["digest"], image.manifest.digest);
    EXPECT_EQ(m["artifactType"], oci::kArtifactTypeSignature);
}

// ---------------------------------------------------------------------------------------------
// Content management

TEST_F(ContentManagement, DeleteManifestByDigest) {
    const Image image = pushImage(repo(), "v1");
    const Response r = del(v2(repo() + "/manifests/" + image.manifest.digest));
    ASSERT_EQ(r.status, 202) << r.describe();
    const Response byDigest = getManifest(v2(repo() + "/manifests/" + image.manifest.digest));
    EXPECT_EQ(byDigest.status, 404) << byDigest.describe();
    EXPECT_TRUE(byDigest.hasErrorCode("MANIFEST_UNKNOWN")) << byDigest.describe();
    EXPECT_EQ(getManifest(v2(repo() + "/manifests/v1")).status, 404) << "tag outlives its manifest";
    const Response again = del(v2(repo() + "/manifests/" + image.manifest.digest));
    EXPECT_EQ(again.status, 404) << again.describe();
}

TEST_F(ContentManagement, DeleteTag) {
    const Image image = pushImage(repo(), "v1");
    ASSERT_EQ(putManifest(repo(), "keep", image.manifest).status, 201);
    const Response r = del(v2(repo() + "/manifests/v1"));
    if (r.status == 400 || r.status == 405) {
        // Allowed by the spec when tag deletion is disabled; the tag must then be intact.
        std::cout << "[ info ] tag deletion unsupported: " << r.describe() << "\n";
        EXPECT_EQ(getManifest(v2(repo() + "/manifests/v1")).status, 200);
        return;
    }
    ASSERT_EQ(r.status, 202) << r.describe();
    EXPECT_EQ(getManifest(v2(repo() + "/manifests/v1")).status, 404);
    EXPECT_EQ(getManifest(v2(repo() + "/manifests/keep")).status, 200);
    EXPECT_EQ(getManifest(v2(repo() + "/manifests/" + image.manifest.digest)).status, 200);
    const auto tags = tagsOf(get(v2(repo() + "/tags/list")));
    EXPECT_EQ(tags, std::vector<std::string>{"keep"});
}

TEST_F(ContentManagement, DeleteBlob) {
    const Blob b = makeBlob(2000);
    ASSERT_NO_FATAL_FAILURE(pushBlob(repo(), b));
    const Response r = del(v2(repo() + "/blobs/" + b.digest));
    ASSERT_EQ(r.status, 202) << r.describe();
    EXPECT_EQ(head(v2(repo() + "/blobs/" + b.digest)).status, 404);
    const Response gone = get(v2(repo() + "/blobs/" + b.digest));
    EXPECT_EQ(gone.status, 404) << gone.describe();
    EXPECT_TRUE(gone.hasErrorCode("BLOB_UNKNOWN")) << gone.describe();
    const Response again = del(v2(repo() + "/blobs/" + b.digest));
    EXPECT_EQ(again.status, 404) << again.describe();
}

TEST_F(ContentManagement, DeleteInUnknownRepositoryIs404) {
    const std::string other = repoName("never-created");
    EXPECT_EQ(del(v2(other + "/manifests/" + digestOf("x"))).status, 404);
    EXPECT_EQ(del(v2(other + "/blobs/" + digestOf("x"))).status, 404);
}

// ---------------------------------------------------------------------------------------------
// Hostile requests: refused with a 4xx the spec allows, never a 5xx, and the server lives on.

// Every way a name reaches the server: read, upload, manifest write.
std::vector<Request> requestsFor(const std::string& name) {
    const std::string digest = digestOf("hostile");
    return {
        {"GET", v2(name + "/tags/list"), {}, std::nullopt},
        {"GET", v2(name + "/manifests/latest"), {}, std::nullopt},
        {"HEAD", v2(name + "/blobs/" + digest), {}, std::nullopt},
        {"POST", v2(name + "/blobs/uploads/"), {}, std::nullopt},
        {"PUT", v2(name + "/manifests/latest"),
         {std::string("Content-Type: ") + oci::kMediaTypeImageManifest},
         imageManifest(emptyConfig(), {}).bytes},
        {"DELETE", v2(name + "/manifests/" + digest), {}, std::nullopt},
    };
}

TEST_F(Hostile, DotDotInName) {
    const std::string escaped = runPrefix() + "-escaped";
    for (const std::string& name :
         {runPrefix() + "/x/../../" + escaped, runPrefix() + "/x/%2e%2e/%2e%2e/" + escaped,
          runPrefix() + "/x/%2E%2E/" + escaped, runPrefix() + "/..", "../" + escaped})
        for (const Request& request : requestsFor(name)) expectRefused(request, {301, 308, 400, 404});
    // None of it may have landed in the repository the dots point at.
    EXPECT_EQ(getManifest(v2(escaped + "/manifests/latest")).status, 404);
}

TEST_F(Hostile, UppercaseName) {
    for (const Request& request : requestsFor(runPrefix() + "/UpperCase"))
        expectRefused(request, {400, 404});
}

TEST_F(Hostile, NulInName) {
    for (const std::string& name : {runPrefix() + "/a%00b", runPrefix() + "%00/x"})
        for (const Request& request : requestsFor(name)) expectRefused(request, {400, 404});
}

TEST_F(Hostile, OtherCharactersOutsideTheGrammar) {
    for (const std::string& name : {runPrefix() + "/a%2fb%2f..", runPrefix() + "/-lead",
                                    runPrefix() + "/a__-b", runPrefix() + "//double",
                                    runPrefix() + "/%c3%a9t%c3%a9", runPrefix() + "/a%0ab"})
        for (const Request& request : requestsFor(name)) expectRefused(request, {301, 308, 400, 404});
}

TEST_F(Hostile, NameOf300Characters) {
    // Over distribution's 255 and the spec's compatibility note, both as one component and as
    // a path of short ones.
    const std::string single = runPrefix() + "/" + std::string(300 - runPrefix().size() - 1, 'a');
    std::string nested = runPrefix();
    while (nested.size() < 300) nested += "/abcdefgh";
    nested.resize(300);
    ASSERT_EQ(single.size(), 300u);
    for (const std::string& name : {single, nested})
        for (const Request& request : requestsFor(name))
            expectRefused(request, {400, 404}, "long-name-500");
}

TEST_F(Hostile, BadDigests) {
    const Image image = pushImage(repo(), "v1");
    const std::string upper = [&] {
        std::string d = image.layers[0].digest;
        std::transform(d.begin() + 7, d.end(), d.begin() + 7,
                       [](unsigned char c) { return std::toupper(c); });
        return d;
    }();
    for (const std::string& bad : {std::string("sha256:xyz"),
                                   std::string("md5:d41d8cd98f00b204e9800998ecf8427e"), upper,
                                   image.layers[0].digest.substr(0, 70),  // short hex
                                   std::string("sha256:") + std::string(64, 'g')}) {
        SCOPED_TRACE(bad);
        expectRefused({"GET", v2(repo() + "/blobs/" + bad), {}, std::nullopt}, {400, 404});
        expectRefused({"HEAD", v2(repo() + "/blobs/" + bad), {}, std::nullopt}, {400, 404});
        expectRefused({"DELETE", v2(repo() + "/blobs/" + bad), {}, std::nullopt},
                      {400, 404, 405});
        // Not a valid tag either (':' is outside the tag grammar).
        expectRefused({"GET", v2(repo() + "/manifests/" + bad), {}, std::nullopt}, {400, 404},
                      "bad-reference-500");
        expectRefused({"HEAD", v2(repo() + "/manifests/" + bad), {}, std::nullopt}, {400, 404},
                      "bad-reference-500");
        expectRefused({"DELETE", v2(repo() + "/manifests/" + bad), {}, std::nullopt},
                      {400, 404, 405});
        expectRefused({"PUT", v2(repo() + "/manifests/" + bad),
                       {std::string("Content-Type: ") + oci::kMediaTypeImageManifest},
                       image.manifest.bytes},
                      {400, 404}, "bad-reference-500");
        const Response mount = send({"POST", Url(v2(repo() + "-mount/blobs/uploads/"))
                                                 .addQuery("mount", bad)
                                                 .addQuery("from", repo())
                                                 .str(),
                                     {}, std::nullopt});
        // A bad mount digest may be ignored (202, plain upload) but never mounts anything.
        EXPECT_TRUE(mount.status == 202 || mount.status == 400 || mount.status == 404)
            << mount.describe();

        // Completing an upload with a bad digest: refused, and the upload stores nothing.
        const Response post = send({"POST", v2(repo() + "/blobs/uploads/"), {}, std::nullopt});
        ASSERT_EQ(post.status, 202) << post.describe();
        const Response put = send({"PUT", Url(location(post)).addQuery("digest", bad).str(), {},
                                   image.layers[0].bytes});
        EXPECT_EQ(put.status, 400) << put.describe();
        EXPECT_TRUE(put.hasErrorCode("DIGEST_INVALID")) << put.describe();

        // The single-POST form: refused, or (no single-POST support) an upload session.
        const Response single = send({"POST", Url(v2(repo() + "/blobs/uploads/"))
                                                  .addQuery("digest", bad).str(),
                                      {}, image.layers[1].bytes});
        EXPECT_TRUE(single.status == 400 || single.status == 202) << single.describe();
        if (single.status == 400) {
            EXPECT_TRUE(single.hasErrorCode("DIGEST_INVALID")) << single.describe();
        }
    }
    EXPECT_EQ(getManifest(v2(repo() + "/manifests/v1")).body, image.manifest.bytes);
}

TEST_F(Hostile, BadTags) {
    const Image image = pushImage(repo(), "v1");
    for (const std::string& tag : {std::string(129, 'a'), std::string("-lead"), std::string(".dot"),
                                   std::string("a%00b"), std::string("a%2fb")}) {
        SCOPED_TRACE(tag);
        expectRefused({"PUT", v2(repo() + "/manifests/" + tag),
                       {std::string("Content-Type: ") + oci::kMediaTypeImageManifest},
                       image.manifest.bytes},
                      {400, 404});
    }
}

TEST_F(Hostile, BadChunkRanges) {
    const Blob b = makeBlob(1000);
    for (const std::string& range : {std::string("junk"), std::string("10-5"),
                                     std::string("0-18446744073709551615"), std::string("-1-5")}) {
        SCOPED_TRACE(range);
        const Response post = send({"POST", v2(repo() + "/blobs/uploads/"), {}, std::nullopt});
        ASSERT_EQ(post.status, 202) << post.describe();
        const Request patch = {"PATCH", location(post), {"Content-Range: " + range}, b.bytes};
        if (deviation("chunk-range-ignored")) {
            const Response r = send(patch);
            EXPECT_EQ(r.status, 202) << r.describe();
            EXPECT_EQ(r.header("range"), "0-999");  // taken as the next 1000 bytes
            continue;
        }
        expectRefused(patch, {400, 416});
    }
}

TEST_F(Hostile, UnknownUploadSession) {
    const std::string session = v2(repo() + "/blobs/uploads/00000000-0000-0000-0000-000000000000");
    expectRefused({"GET", session, {}, std::nullopt}, {400, 404});
    expectRefused({"PATCH", session, {}, std::string("x")}, {400, 404});
    expectRefused({"DELETE", session, {}, std::nullopt}, {400, 404});
    expectRefused({"PUT", session + "?digest=" + digestOf("x"), {}, std::string("x")}, {400, 404});
    expectRefused({"GET", v2(repo() + "/blobs/uploads/..%2f..%2f..%2fetc%2fpasswd"), {},
                   std::nullopt},
                  {301, 308, 400, 404});
}

}  // namespace
}  // namespace ingot::conformance

int main(int argc, char** argv) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ::testing::InitGoogleTest(&argc, argv);
    const int rc = RUN_ALL_TESTS();
    curl_global_cleanup();
    return rc;
}
