// The registry over real HTTP on 127.0.0.1: an in-process RegistryService driven with libcurl
// through the main flows of the distribution spec and a few hostile requests.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "ingot/core/Error.h"
#include "ingot/core/Sha256.h"
#include "server/Access.h"
#include "server/RegistryService.h"

namespace ingot::registry {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Reply {
    long status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? "" : it->second;
    }
};

size_t collectBody(char* data, size_t size, size_t count, void* reply) {
    static_cast<Reply*>(reply)->body.append(data, size * count);
    return size * count;
}

size_t collectHeader(char* data, size_t size, size_t count, void* reply) {
    std::string line(data, size * count);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
        std::string name = line.substr(0, colon), value = line.substr(colon + 1);
        std::transform(name.begin(), name.end(), name.begin(), ::tolower);
        value.erase(0, value.find_first_not_of(' '));
        value.erase(value.find_last_not_of("\r\n ") + 1);
        static_cast<Reply*>(reply)->headers[name] = value;
    }
    return size * count;
}

// Accept the test's self-signed certificate.
bool& tlsInsecure() {
    static bool insecure = false;
    return insecure;
}

// One request; `body` is sent (with Content-Length) when given.
Reply request(const std::string& method, const std::string& url,
              std::optional<std::string> body = std::nullopt,
              std::vector<std::string> headers = {}) {
    Reply reply;
    CURL* curl = curl_easy_init();
    curl_slist* list = curl_slist_append(nullptr, "Expect:");
    for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    if (method == "HEAD")
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    }
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collectBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collectHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    if (tlsInsecure()) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode code = curl_easy_perform(curl);
    if (code == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return reply;
}

std::string digestOf(const std::string& bytes) {
    return "sha256:" + toHex(sha256(bytes));
}

std::string errorCode(const Reply& reply) {
    json j = json::parse(reply.body, nullptr, false);
    if (!j.is_object() || !j.contains("errors") || j["errors"].empty()) return "";
    return j["errors"][0].value("code", "");
}

class RegistryServer : public ::testing::Test {
protected:
    void SetUp() override {
        root = (fs::temp_directory_path() /
                ("ingot-registry-server-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                   .string();
        fs::remove_all(root);
        startService("");
    }
    void startService(const std::string& authFile) {
        service.reset();
        ServiceOptions options;
        options.root = root;
        options.http.port = 0;
        options.gcInterval = std::chrono::seconds(0);
        options.authFile = authFile;
        service = std::make_unique<RegistryService>(options);
        service->start();
        base = "http://127.0.0.1:" + std::to_string(service->port());
    }
    void TearDown() override {
        service.reset();
        fs::remove_all(root);
    }

    std::string pushBlob(const std::string& name, const std::string& bytes) {
        Reply r =
            request("POST", base + "/v2/" + name + "/blobs/uploads/?digest=" + digestOf(bytes),
                    bytes, {"Content-Type: application/octet-stream", credentials});
        EXPECT_EQ(r.status, 201) << r.body;
        return digestOf(bytes);
    }

    std::string imageManifest(const std::string& name, const std::string& extra = "") {
        std::string config = pushBlob(name, "{}");
        std::string layer = pushBlob(name, "layer of " + name);
        return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
               R"("config":{"mediaType":"application/vnd.ingot.config","digest":")" +
               config +
               R"(","size":2},"layers":[{"mediaType":"application/octet-stream",)"
               R"("digest":")" +
               layer + R"(","size":)" + std::to_string(("layer of " + name).size()) + "}]" + extra +
               "}";
    }

    Reply putManifest(const std::string& name, const std::string& reference,
                      const std::string& bytes,
                      const std::string& type = "application/vnd.oci.image.manifest.v1+json") {
        return request("PUT", base + "/v2/" + name + "/manifests/" + reference, bytes,
                       {"Content-Type: " + type, credentials});
    }

    std::string root, base;
    std::string credentials = "X-No-Credentials: 1";  // an Authorization header once set
    std::unique_ptr<RegistryService> service;
};

TEST_F(RegistryServer, BaseCheck) {
    Reply r = request("GET", base + "/v2/");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("docker-distribution-api-version"), "registry/2.0");
}

TEST_F(RegistryServer, MonolithicPushAndRangedGet) {
    std::string digest = pushBlob("a/b", "0123456789");
    Reply head = request("HEAD", base + "/v2/a/b/blobs/" + digest);
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.header("content-length"), "10");
    EXPECT_EQ(head.header("docker-content-digest"), digest);
    Reply whole = request("GET", base + "/v2/a/b/blobs/" + digest);
    EXPECT_EQ(whole.body, "0123456789");
    Reply part =
        request("GET", base + "/v2/a/b/blobs/" + digest, std::nullopt, {"Range: bytes=2-5"});
    EXPECT_EQ(part.status, 206);
    EXPECT_EQ(part.body, "2345");
    EXPECT_EQ(part.header("content-range"), "bytes 2-5/10");
    Reply suffix =
        request("GET", base + "/v2/a/b/blobs/" + digest, std::nullopt, {"Range: bytes=-3"});
    EXPECT_EQ(suffix.body, "789");
    Reply beyond =
        request("GET", base + "/v2/a/b/blobs/" + digest, std::nullopt, {"Range: bytes=10-"});
    EXPECT_EQ(beyond.status, 416);
    EXPECT_EQ(beyond.header("content-range"), "");
    Reply other = request("GET", base + "/v2/other/blobs/" + digest);
    EXPECT_EQ(other.status, 404);
    EXPECT_EQ(errorCode(other), "BLOB_UNKNOWN");
}

TEST_F(RegistryServer, ChunkedPushRefusesGapsAndResumes) {
    Reply start = request("POST", base + "/v2/r/blobs/uploads/", "");
    ASSERT_EQ(start.status, 202);
    std::string location = start.header("location");
    ASSERT_FALSE(location.empty());
    EXPECT_FALSE(start.header("docker-upload-uuid").empty());
    Reply first = request("PATCH", base + location, "hello", {"Content-Range: 0-4"});
    EXPECT_EQ(first.status, 202);
    EXPECT_EQ(first.header("range"), "0-4");
    Reply gap = request("PATCH", base + location, "xyz", {"Content-Range: 10-12"});
    EXPECT_EQ(gap.status, 416);
    Reply overlap = request("PATCH", base + location, "xyz", {"Content-Range: 2-4"});
    EXPECT_EQ(overlap.status, 416);
    Reply status = request("GET", base + location);
    EXPECT_EQ(status.status, 204);
    EXPECT_EQ(status.header("range"), "0-4");
    Reply second = request("PATCH", base + location, " big", {"Content-Range: 5-8"});
    EXPECT_EQ(second.status, 202);
    Reply done = request("PUT", base + location + "?digest=" + digestOf("hello big world"),
                         " world", {"Content-Range: 9-14"});
    EXPECT_EQ(done.status, 201) << done.body;
    EXPECT_EQ(done.header("docker-content-digest"), digestOf("hello big world"));
    EXPECT_EQ(request("GET", base + done.header("location")).body, "hello big world");
}

TEST_F(RegistryServer, DigestMismatchDiscardsTheUpload) {
    Reply start = request("POST", base + "/v2/r/blobs/uploads/", "");
    std::string location = start.header("location");
    request("PATCH", base + location, "data");
    Reply done = request("PUT", base + location + "?digest=" + digestOf("other"), "");
    EXPECT_EQ(done.status, 400);
    EXPECT_EQ(errorCode(done), "DIGEST_INVALID");
    EXPECT_EQ(request("GET", base + location).status, 404);
    EXPECT_EQ(request("HEAD", base + "/v2/r/blobs/" + digestOf("data")).status, 404);
    EXPECT_TRUE(fs::is_empty(root + "/blobs/sha256"));
}

TEST_F(RegistryServer, CancelAndCrossRepositoryMount) {
    Reply start = request("POST", base + "/v2/r/blobs/uploads/", "");
    EXPECT_EQ(request("DELETE", base + start.header("location")).status, 204);
    EXPECT_EQ(request("GET", base + start.header("location")).status, 404);
    std::string digest = pushBlob("src", "shared");
    Reply mounted =
        request("POST", base + "/v2/dst/blobs/uploads/?mount=" + digest + "&from=src", "");
    EXPECT_EQ(mounted.status, 201);
    EXPECT_EQ(request("GET", base + "/v2/dst/blobs/" + digest).body, "shared");
    Reply missing =
        request("POST", base + "/v2/dst/blobs/uploads/?mount=" + digestOf("x") + "&from=src", "");
    EXPECT_EQ(missing.status, 202);
    EXPECT_FALSE(missing.header("location").empty());
}

TEST_F(RegistryServer, ManifestKeepsExactBytes) {
    // Odd spacing and key order: the registry must not re-serialise.
    std::string bytes = imageManifest("m") + "\n  ";
    Reply put = putManifest("m", "v1", bytes);
    ASSERT_EQ(put.status, 201) << put.body;
    EXPECT_EQ(put.header("docker-content-digest"), digestOf(bytes));
    for (const std::string& reference : {std::string("v1"), digestOf(bytes)}) {
        Reply get = request("GET", base + "/v2/m/manifests/" + reference);
        EXPECT_EQ(get.status, 200);
        EXPECT_EQ(get.body, bytes);
        EXPECT_EQ(get.header("content-type"), "application/vnd.oci.image.manifest.v1+json");
        EXPECT_EQ(get.header("docker-content-digest"), digestOf(bytes));
    }
    Reply head = request("HEAD", base + "/v2/m/manifests/v1");
    EXPECT_EQ(head.header("content-length"), std::to_string(bytes.size()));
    EXPECT_EQ(putManifest("m", digestOf("other"), bytes).status, 400);
    Reply wrongType = putManifest("m", "v2", bytes, "application/vnd.oci.image.index.v1+json");
    EXPECT_EQ(errorCode(wrongType), "MANIFEST_INVALID");
    std::string dangling = R"({"schemaVersion":2,"config":{"digest":")" + digestOf("nothing") +
                           R"(","size":1,"mediaType":"x"},"layers":[]})";
    Reply unknown = putManifest("m", "v3", dangling);
    EXPECT_EQ(unknown.status, 400);
    EXPECT_EQ(errorCode(unknown), "MANIFEST_BLOB_UNKNOWN");
    EXPECT_EQ(errorCode(putManifest("m", "v4", "not json")), "MANIFEST_INVALID");
    EXPECT_EQ(request("DELETE", base + "/v2/m/manifests/v1").status, 202);
    EXPECT_EQ(request("GET", base + "/v2/m/manifests/v1").status, 404);
    EXPECT_EQ(request("DELETE", base + "/v2/m/manifests/" + digestOf(bytes)).status, 202);
    EXPECT_EQ(errorCode(request("GET", base + "/v2/m/manifests/" + digestOf(bytes))),
              "MANIFEST_UNKNOWN");
    EXPECT_EQ(errorCode(request("GET", base + "/v2/nope/manifests/v1")), "NAME_UNKNOWN");
}

TEST_F(RegistryServer, AcceptsLargeManifestsAndRefusesHuge) {
    std::string big =
        imageManifest("big", R"(,"annotations":{"pad":")" + std::string(5u << 20, 'x') + "\"}");
    EXPECT_EQ(putManifest("big", "large", big).status, 201);
    std::string huge =
        imageManifest("big", R"(,"annotations":{"pad":")" + std::string(17u << 20, 'x') + "\"}");
    EXPECT_EQ(putManifest("big", "huge", huge).status, 413);
    EXPECT_EQ(request("GET", base + "/v2/").status, 200);
}

TEST_F(RegistryServer, TagsPaginate) {
    std::string bytes = imageManifest("t");
    for (const char* tag : {"e", "a", "d", "b", "c"})
        ASSERT_EQ(putManifest("t", tag, bytes).status, 201);
    Reply all = request("GET", base + "/v2/t/tags/list");
    EXPECT_EQ(json::parse(all.body)["tags"], json({"a", "b", "c", "d", "e"}));
    Reply first = request("GET", base + "/v2/t/tags/list?n=2");
    EXPECT_EQ(json::parse(first.body)["tags"], json({"a", "b"}));
    EXPECT_EQ(first.header("link"), "</v2/t/tags/list?n=2&last=b>; rel=\"next\"");
    Reply next = request("GET", base + "/v2/t/tags/list?n=2&last=b");
    EXPECT_EQ(json::parse(next.body)["tags"], json({"c", "d"}));
    Reply last = request("GET", base + "/v2/t/tags/list?n=2&last=d");
    EXPECT_EQ(json::parse(last.body)["tags"], json({"e"}));
    EXPECT_EQ(last.header("link"), "");
    Reply catalog = request("GET", base + "/v2/_catalog?n=1");
    EXPECT_EQ(json::parse(catalog.body)["repositories"], json({"t"}));
}

TEST_F(RegistryServer, Referrers) {
    std::string subject = imageManifest("s");
    ASSERT_EQ(putManifest("s", "image", subject).status, 201);
    std::string subjectDescriptor =
        R"(,"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
        digestOf(subject) + R"(","size":)" + std::to_string(subject.size()) + "}";
    std::string signature = imageManifest(
        "s", R"(,"artifactType":"application/vnd.ingot.signature.v1")" + subjectDescriptor);
    Reply put = putManifest("s", digestOf(signature), signature);
    ASSERT_EQ(put.status, 201) << put.body;
    EXPECT_EQ(put.header("oci-subject"), digestOf(subject));
    std::string other =
        imageManifest("s", R"(,"artifactType":"application/x-other","annotations":{"k":"v"})" +
                               subjectDescriptor);
    ASSERT_EQ(putManifest("s", digestOf(other), other).status, 201);

    Reply all = request("GET", base + "/v2/s/referrers/" + digestOf(subject));
    EXPECT_EQ(all.status, 200);
    EXPECT_EQ(all.header("content-type"), "application/vnd.oci.image.index.v1+json");
    json index = json::parse(all.body);
    EXPECT_EQ(index["manifests"].size(), 2u);
    Reply filtered = request("GET", base + "/v2/s/referrers/" + digestOf(subject) +
                                        "?artifactType=application/vnd.ingot.signature.v1");
    EXPECT_EQ(filtered.header("oci-filters-applied"), "artifactType");
    json only = json::parse(filtered.body)["manifests"];
    ASSERT_EQ(only.size(), 1u);
    EXPECT_EQ(only[0]["digest"], digestOf(signature));
    EXPECT_EQ(only[0]["size"], signature.size());
    EXPECT_EQ(only[0]["artifactType"], "application/vnd.ingot.signature.v1");
    Reply none = request("GET", base + "/v2/s/referrers/" + digestOf("nothing"));
    EXPECT_EQ(json::parse(none.body)["manifests"].size(), 0u);
}

TEST_F(RegistryServer, RefusesHostileRequests) {
    std::string digest = pushBlob("r", "x");
    EXPECT_EQ(request("GET", base + "/v2/r%2e%2e/blobs/" + digest).status, 400);
    EXPECT_EQ(request("GET", base + "/v2/../r/blobs/" + digest).status / 100, 4);
    EXPECT_EQ(errorCode(request("GET", base + "/v2/R/blobs/" + digest)), "NAME_INVALID");
    EXPECT_EQ(errorCode(request("GET", base + "/v2/r/blobs/sha256:../../etc")), "DIGEST_INVALID");
    EXPECT_EQ(errorCode(request("GET", base + "/v2/r/blobs/sha512:" + std::string(128, 'a'))),
              "DIGEST_INVALID");
    EXPECT_EQ(errorCode(request("GET", base + "/v2/r/manifests/.hidden")), "TAG_INVALID");
    EXPECT_EQ(request("GET", base + "/v2/" + std::string(300, 'a') + "/tags/list").status, 400);
    EXPECT_EQ(request("PATCH", base + "/v2/r/blobs/uploads/notanid", "x").status, 404);
    EXPECT_EQ(request("POST", base + "/v2/r/manifests/v1", "").status, 405);
    EXPECT_EQ(request("GET", base + "/v2/").status, 200);
}

// A self-signed certificate and key for 127.0.0.1, written as PEM files.
void writeSelfSigned(const std::string& certificatePath, const std::string& keyPath) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_sign(cert, key, EVP_sha256());
    FILE* out = std::fopen(certificatePath.c_str(), "w");
    PEM_write_X509(out, cert);
    std::fclose(out);
    out = std::fopen(keyPath.c_str(), "w");
    PEM_write_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(out);
    X509_free(cert);
    EVP_PKEY_free(key);
}

TEST_F(RegistryServer, ServesTls) {
    std::string cert = root + "-cert.pem", key = root + "-key.pem";
    writeSelfSigned(cert, key);
    service.reset();
    ServiceOptions options;
    options.root = root;
    options.http.port = 0;
    options.http.tlsCertificate = cert;
    options.http.tlsKey = key;
    options.gcInterval = std::chrono::seconds(0);
    service = std::make_unique<RegistryService>(options);
    service->start();
    base = "https://127.0.0.1:" + std::to_string(service->port());
    tlsInsecure() = true;
    std::string digest = pushBlob("t", "over tls");
    EXPECT_EQ(request("GET", base + "/v2/t/blobs/" + digest).body, "over tls");
    tlsInsecure() = false;
    // Plain HTTP to a TLS port: the handshake fails, the server stays up.
    EXPECT_EQ(request("GET", "http://127.0.0.1:" + std::to_string(service->port()) + "/v2/").status,
              0);
    tlsInsecure() = true;
    EXPECT_EQ(request("GET", base + "/v2/").status, 200);
    tlsInsecure() = false;
    fs::remove(cert);
    fs::remove(key);
}

// The server is SIGKILLed while a chunk streams in: nothing partial appears under blobs/, and a
// restarted server resumes the upload from the bytes that reached the disk.
TEST(RegistryCrash, KilledMidUploadResumesAfterRestart) {
    std::string root =
        (fs::temp_directory_path() / ("ingot-registry-crash-" + std::to_string(::getpid())))
            .string();
    fs::remove_all(root);
    int ports[2];
    ASSERT_EQ(::pipe(ports), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ServiceOptions options;
        options.root = root;
        options.http.port = 0;
        options.gcInterval = std::chrono::seconds(0);
        RegistryService service(options);
        service.start();
        uint16_t port = service.port();
        if (::write(ports[1], &port, sizeof port) != sizeof port) ::_exit(1);
        for (;;) ::pause();
    }
    uint16_t port = 0;
    ASSERT_EQ(::read(ports[0], &port, sizeof port), static_cast<ssize_t>(sizeof port));
    ::close(ports[0]);
    ::close(ports[1]);
    std::string base = "http://127.0.0.1:" + std::to_string(port);
    std::string blob(1u << 20, '\0');
    for (size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>(i * 7919 % 251);
    Reply start = request("POST", base + "/v2/crash/blobs/uploads/", "");
    std::string location = start.header("location");
    ASSERT_FALSE(location.empty());

    // Half a chunk through a raw socket, then the kill.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    std::string head = "PATCH " + location +
                       " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(blob.size()) +
                       "\r\n\r\n";
    ASSERT_EQ(::write(fd, head.data(), head.size()), static_cast<ssize_t>(head.size()));
    ASSERT_EQ(::write(fd, blob.data(), blob.size() / 2), static_cast<ssize_t>(blob.size() / 2));
    ::usleep(500000);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ::close(fd);

    EXPECT_TRUE(fs::is_empty(root + "/blobs/sha256"));
    {
        ServiceOptions options;
        options.root = root;
        options.http.port = 0;
        options.gcInterval = std::chrono::seconds(0);
        RegistryService service(options);
        service.start();
        base = "http://127.0.0.1:" + std::to_string(service.port());
        Reply status = request("GET", base + location);
        ASSERT_EQ(status.status, 204);
        std::string range = status.header("range");
        uint64_t have = std::stoull(range.substr(range.find('-') + 1)) + 1;
        if (range == "0-0") have = 0;
        EXPECT_LE(have, blob.size() / 2);
        Reply rest = request(
            "PUT", base + location + "?digest=" + digestOf(blob), blob.substr(have),
            {"Content-Range: " + std::to_string(have) + "-" + std::to_string(blob.size() - 1)});
        EXPECT_EQ(rest.status, 201) << rest.body;
        EXPECT_EQ(request("GET", base + "/v2/crash/blobs/" + digestOf(blob)).body, blob);
    }
    fs::remove_all(root);
}

// A request refused from its head still gets its answer when a large body follows (no reset
// eats it), and garbage that is not HTTP gets a 400 without hurting the server.
TEST_F(RegistryServer, AnswersRefusedLargeBodiesAndGarbage) {
    std::string big(4u << 20, 'b');
    Reply unknown = request("PATCH", base + "/v2/r/blobs/uploads/" + std::string(32, 'a'), big);
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(errorCode(unknown), "BLOB_UPLOAD_UNKNOWN");
    Reply start = request("POST", base + "/v2/r/blobs/uploads/", "");
    Reply gap = request("PATCH", base + start.header("location"), big,
                        {"Content-Range: 5-" + std::to_string(big.size() + 4)});
    EXPECT_EQ(gap.status, 416);

    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(service->port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    std::string garbage = "\x01\x02 not http at all\r\n\r\n";
    ASSERT_EQ(::write(fd, garbage.data(), garbage.size()), static_cast<ssize_t>(garbage.size()));
    char answer[512] = {};
    ssize_t n = ::read(fd, answer, sizeof answer - 1);
    ::close(fd);
    EXPECT_GT(n, 0);
    EXPECT_EQ(std::string(answer).substr(0, 12), "HTTP/1.1 400");
    EXPECT_EQ(request("GET", base + "/v2/").status, 200);
}

TEST(RegistryAccessPattern, Matches) {
    EXPECT_TRUE(matchesPattern("gold/*", "gold/debian"));
    EXPECT_TRUE(matchesPattern("gold/*", "gold/a/b"));
    EXPECT_TRUE(matchesPattern("*", "x"));
    EXPECT_TRUE(matchesPattern("*/debian", "gold/debian"));
    EXPECT_FALSE(matchesPattern("gold/*", "golden/x"));
    EXPECT_FALSE(matchesPattern("gold", "gold/x"));
}

TEST(RegistryAccessFile, RefusesMalformedFiles) {
    EXPECT_THROW(Access::parse("[]", "auth.json"), Error);
    EXPECT_THROW(Access::parse(R"({"users":{"a":"plain"}})", "auth.json"), Error);
    EXPECT_THROW(
        Access::parse(R"({"rules":[{"repository":"*","users":["ghost"],"rights":["pull"]}]})",
                      "auth.json"),
        Error);
    EXPECT_THROW(Access::parse(R"({"rules":[{"repository":"*","users":["*"],"rights":["fly"]}]})",
                               "auth.json"),
                 Error);
}

TEST_F(RegistryServer, EnforcesEveryRight) {
    json auth = {
        {"users", {{"alice", hashPassword("secret", 1000)}, {"bob", hashPassword("pw", 1000)}}},
        {"rules",
         json::array({
             {{"repository", "gold/*"}, {"users", {"alice"}}, {"rights", {"pull", "push"}}},
             {{"repository", "gold/*"}, {"users", {"bob"}}, {"rights", {"pull", "delete"}}},
             {{"repository", "public/*"}, {"users", {"anonymous", "*"}}, {"rights", {"pull"}}},
         })}};
    std::ofstream(root + "-auth.json") << auth.dump();
    startService(root + "-auth.json");
    const std::string alice = "Authorization: Basic YWxpY2U6c2VjcmV0";
    const std::string bob = "Authorization: Basic Ym9iOnB3";

    Reply anonymous = request("GET", base + "/v2/");
    EXPECT_EQ(anonymous.status, 401);
    EXPECT_EQ(anonymous.header("www-authenticate"), "Basic realm=\"ingot\"");
    EXPECT_EQ(request("GET", base + "/v2/", std::nullopt, {alice}).status, 200);
    EXPECT_EQ(request("GET", base + "/v2/", std::nullopt, {"Authorization: Basic YWxpY2U6d3Jvbmc="})
                  .status,
              401);
    EXPECT_EQ(request("GET", base + "/v2/", std::nullopt, {"Authorization: Basic !!!"}).status,
              401);
    EXPECT_EQ(request("GET", base + "/v2/gold/x/tags/list").status, 401);
    EXPECT_EQ(errorCode(request("GET", base + "/v2/public/x/manifests/v1")), "NAME_UNKNOWN");

    credentials = alice;
    std::string first = imageManifest("gold/x");
    EXPECT_EQ(putManifest("gold/x", "v1", first).status, 201);
    EXPECT_EQ(putManifest("gold/x", "v1", first).status, 201);  // same digest: no overwrite
    std::string second = imageManifest("gold/x", R"(,"annotations":{"n":"2"})");
    Reply moved = putManifest("gold/x", "v1", second);
    EXPECT_EQ(moved.status, 403);  // alice lacks overwrite-tag
    EXPECT_EQ(errorCode(moved), "DENIED");
    EXPECT_EQ(request("DELETE", base + "/v2/gold/x/manifests/v1", std::nullopt, {alice}).status,
              403);

    credentials = bob;
    EXPECT_EQ(request("GET", base + "/v2/gold/x/manifests/v1", std::nullopt, {bob}).body, first);
    EXPECT_EQ(request("POST", base + "/v2/gold/x/blobs/uploads/", "", {bob}).status, 403);
    EXPECT_EQ(putManifest("gold/x", "v2", first).status, 403);
    Reply catalog = request("GET", base + "/v2/_catalog", std::nullopt, {bob});
    EXPECT_EQ(json::parse(catalog.body)["repositories"], json({"gold/x"}));
    EXPECT_EQ(json::parse(request("GET", base + "/v2/_catalog").body)["repositories"],
              json::array());
    EXPECT_EQ(request("DELETE", base + "/v2/gold/x/manifests/v1", std::nullopt, {bob}).status, 202);
    fs::remove(root + "-auth.json");
}

// Clients bound a download by the size its descriptor declares, so the registry refuses a
// manifest whose sizes disagree with the blobs it holds, or with each other.
TEST_F(RegistryServer, RefusesDescriptorSizesThatDisagreeWithTheBlobs) {
    std::string manifest = imageManifest("app");
    const std::string layerSize = std::to_string(std::string("layer of app").size());
    std::string wrong = manifest;
    wrong.replace(wrong.rfind("\"size\":" + layerSize), 7 + layerSize.size(), "\"size\":99");
    Reply refused = putManifest("app", "v1", wrong);
    EXPECT_EQ(refused.status, 400);
    EXPECT_EQ(errorCode(refused), "MANIFEST_INVALID");
    EXPECT_NE(refused.body.find("99 bytes"), std::string::npos) << refused.body;

    std::string config = pushBlob("app", "{}");
    std::string twice = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                        R"("config":{"mediaType":"application/vnd.ingot.config","digest":")" +
                        config + R"(","size":2},"layers":[{"mediaType":"x","digest":")" + config +
                        R"(","size":3}]})";
    EXPECT_EQ(errorCode(putManifest("app", "v1", twice)), "MANIFEST_INVALID");
    EXPECT_EQ(putManifest("app", "v1", manifest).status, 201);

    std::string digest = digestOf(manifest);
    std::string index = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",)"
                        R"("manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                        R"("digest":")" + digest + R"(","size":1}]})";
    EXPECT_EQ(errorCode(putManifest("app", "all", index, "application/vnd.oci.image.index.v1+json")),
              "MANIFEST_INVALID");
}

// Distribution's token flow: the challenge names the token endpoint and the scope a request
// needs; a token carries the user's rights narrowed to the scopes asked for, and is refused
// outside them, forged or for another repository.
TEST_F(RegistryServer, BearerTokensGrantOnlyWhatTheyName) {
    json auth = {
        {"challenge", "bearer"},
        {"users", {{"alice", hashPassword("secret", 1000)}, {"bob", hashPassword("pw", 1000)}}},
        {"rules",
         json::array({
             {{"repository", "gold/*"}, {"users", {"alice"}}, {"rights", {"pull", "push"}}},
             {{"repository", "gold/*"}, {"users", {"bob"}}, {"rights", {"pull"}}},
             {{"repository", "public/*"}, {"users", {"anonymous"}}, {"rights", {"pull"}}},
         })}};
    std::ofstream(root + "-auth.json") << auth.dump();
    startService(root + "-auth.json");
    const std::string alice = "Authorization: Basic YWxpY2U6c2VjcmV0";
    const std::string bob = "Authorization: Basic Ym9iOnB3";
    const std::string host = base.substr(std::string("http://").size());
    auto token = [&](const std::string& query, const std::string& login) {
        Reply r = request("GET", base + "/token?service=ingot&" + query, std::nullopt,
                          {login.empty() ? "X-None: 1" : login});
        EXPECT_EQ(r.status, 200) << r.body;
        json j = json::parse(r.body, nullptr, false);
        EXPECT_TRUE(j.is_object() && j.contains("token") && j["token"] == j["access_token"]);
        EXPECT_GT(j.value("expires_in", 0), 0);
        return "Authorization: Bearer " + j.value("token", std::string());
    };

    Reply anonymous = request("GET", base + "/v2/");
    EXPECT_EQ(anonymous.status, 401);
    EXPECT_EQ(anonymous.header("www-authenticate"),
              "Bearer realm=\"http://" + host + "/token\",service=\"ingot\"");
    Reply needsPull = request("GET", base + "/v2/gold/x/tags/list");
    EXPECT_EQ(needsPull.status, 401);
    EXPECT_NE(needsPull.header("www-authenticate").find("scope=\"repository:gold/x:pull\""),
              std::string::npos);
    Reply needsPush = request("POST", base + "/v2/gold/x/blobs/uploads/", "");
    EXPECT_NE(needsPush.header("www-authenticate").find("scope=\"repository:gold/x:pull,push\""),
              std::string::npos);
    EXPECT_EQ(request("GET", base + "/token?scope=repository:gold/x:pull", std::nullopt,
                      {"Authorization: Basic YWxpY2U6d3Jvbmc="})
                  .status,
              401);

    // Any valid token passes the base check; an anonymous one pulls only what anonymous may.
    const std::string anonymousToken = token("scope=repository:public/x:pull", "");
    EXPECT_EQ(request("GET", base + "/v2/", std::nullopt, {anonymousToken}).status, 200);
    EXPECT_EQ(errorCode(request("GET", base + "/v2/public/x/tags/list", std::nullopt,
                                {anonymousToken})),
              "NAME_UNKNOWN");
    EXPECT_EQ(request("GET", base + "/v2/gold/x/tags/list", std::nullopt, {anonymousToken}).status,
              401);

    // Alice's token for pull and push on gold/x pushes there, and nowhere else.
    credentials = token("scope=repository:gold/x:pull,push", alice);
    std::string manifest = imageManifest("gold/x");
    EXPECT_EQ(putManifest("gold/x", "v1", manifest).status, 201);
    Reply elsewhere = request("POST", base + "/v2/gold/y/blobs/uploads/", "", {credentials});
    EXPECT_EQ(elsewhere.status, 401);
    // Two scopes in one request, as docker asks for a mount's source and target.
    const std::string both =
        token("scope=repository:gold/x:pull&scope=repository:gold/y:pull,push", alice);
    EXPECT_EQ(request("POST", base + "/v2/gold/y/blobs/uploads/", "", {both}).status, 202);

    // A pull-only token of alice's refuses a push with 401 and the scope to ask for instead.
    const std::string pullOnly = token("scope=repository:gold/x:pull", alice);
    Reply narrow = request("POST", base + "/v2/gold/x/blobs/uploads/", "", {pullOnly});
    EXPECT_EQ(narrow.status, 401);
    EXPECT_NE(narrow.header("www-authenticate").find("repository:gold/x:pull,push"),
              std::string::npos);
    EXPECT_EQ(request("GET", base + "/v2/gold/x/manifests/v1", std::nullopt, {pullOnly}).body,
              manifest);

    // Bob asks for push and gets a token without it; the push is then his lack of right: 403.
    const std::string bobs = token("scope=repository:gold/x:pull,push", bob);
    EXPECT_EQ(request("GET", base + "/v2/gold/x/manifests/v1", std::nullopt, {bobs}).status, 200);
    Reply denied = request("POST", base + "/v2/gold/x/blobs/uploads/", "", {bobs});
    EXPECT_EQ(denied.status, 403);
    EXPECT_EQ(errorCode(denied), "DENIED");

    // The catalog needs registry:catalog:* in the token, and lists what the user may pull.
    Reply noCatalog = request("GET", base + "/v2/_catalog", std::nullopt, {bobs});
    EXPECT_EQ(noCatalog.status, 401);
    EXPECT_NE(noCatalog.header("www-authenticate").find("registry:catalog:*"), std::string::npos);
    Reply catalog = request("GET", base + "/v2/_catalog", std::nullopt,
                            {token("scope=registry:catalog:*", bob)});
    // gold/y holds only an upload so far: not a repository yet.
    EXPECT_EQ(json::parse(catalog.body, nullptr, false)["repositories"], json({"gold/x"}));

    // A forged or mangled token is no token.
    std::string forged = credentials;
    forged[forged.size() - 3] = forged[forged.size() - 3] == 'A' ? 'B' : 'A';
    EXPECT_EQ(request("GET", base + "/v2/gold/x/manifests/v1", std::nullopt, {forged}).status, 401);
    EXPECT_EQ(request("GET", base + "/v2/", std::nullopt, {"Authorization: Bearer x.y"}).status,
              401);
    EXPECT_EQ(request("GET", base + "/v2/", std::nullopt, {"Authorization: Digest abc"}).status,
              401);
    fs::remove(root + "-auth.json");
}

}  // namespace
}  // namespace ingot::registry
