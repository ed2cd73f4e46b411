#include "GarbageCollector.h"

#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "Grammar.h"

namespace ingot::registry {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void markReferences(const std::string& bytes, std::set<std::string>& marked) {
    json document = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
    if (!document.is_object()) return;
    auto markDescriptor = [&](const json& d) {
        if (d.is_object() && d.contains("digest") && d["digest"].is_string() &&
            isValidDigest(d["digest"].get<std::string>()))
            marked.insert(d["digest"].get<std::string>());
    };
    if (document.contains("config")) markDescriptor(document["config"]);
    for (const char* list : {"layers", "manifests", "blobs"})
        if (document.contains(list) && document[list].is_array())
            for (const json& d : document[list]) markDescriptor(d);
}

}  // namespace

CollectionReport collectGarbage(Storage& storage, Uploads& uploads, int64_t graceSeconds) {
    CollectionReport report;
    struct timespec start {};
    ::clock_gettime(CLOCK_REALTIME, &start);
    int64_t cutoff = static_cast<int64_t>(start.tv_sec) - graceSeconds;

    std::set<std::string> marked;
    std::vector<std::string> repositories = storage.repositories();
    for (const std::string& name : repositories) {
        for (const std::string& digest : storage.manifestDigests(name)) {
            marked.insert(digest);
            if (std::optional<StoredManifest> manifest = storage.readManifest(name, digest))
                markReferences(manifest->bytes, marked);
        }
    }

    std::error_code ec;
    std::string blobs = storage.root() + "/blobs/sha256";
    std::vector<std::string> names;
    for (fs::directory_iterator it(blobs, ec), end; !ec && it != end; it.increment(ec))
        names.push_back(it->path().filename().string());
    for (const std::string& hex : names) {
        std::string digest = "sha256:" + hex;
        if (!isValidDigest(digest) || marked.count(digest)) {
            ++report.blobsKept;
            continue;
        }
        std::lock_guard lock(storage.blobLock(digest));
        struct stat st {};
        std::string path = blobs + "/" + hex;
        if (::stat(path.c_str(), &st) < 0) continue;
        bool old = st.st_mtim.tv_sec < cutoff ||
                   (st.st_mtim.tv_sec == cutoff && st.st_mtim.tv_nsec < start.tv_nsec);
        if (!old) {
            ++report.blobsKept;
            continue;
        }
        if (::unlink(path.c_str()) == 0) {
            ++report.blobsDeleted;
            report.bytesDeleted += static_cast<uint64_t>(st.st_size);
        }
    }

    // Links to blobs that are gone would only make the repository look non-empty.
    for (const std::string& name : repositories) {
        std::string links = storage.root() + "/repositories/" + name + "/_blobs";
        for (fs::directory_iterator it(links, ec), end; !ec && it != end; it.increment(ec)) {
            std::string digest = "sha256:" + it->path().filename().string();
            if (!isValidDigest(digest)) continue;
            std::lock_guard lock(storage.blobLock(digest));
            if (!storage.blobSize(digest)) ::unlink(it->path().c_str());
        }
    }
    report.uploadsRemoved = uploads.removeStale(graceSeconds);
    return report;
}

}  // namespace ingot::registry
