#include "ChannelNews.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "ingot/core/Error.h"
#include "ingot/core/File.h"

namespace ingot::registry {

namespace {
using nlohmann::json;

// A document is at most 1 MiB (kMaxTimestampBytes); this leaves room for dozens of repositories
// while keeping a damaged or planted file from filling memory.
constexpr uint64_t kMaxCacheBytes = 64ull << 20;
constexpr std::string_view kIgnoring =
    "ignoring the cached freshness documents (the next pull or `ingot images --refresh` "
    "replaces the file)";

int64_t nowSeconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// flock on a file of its own: the cache itself is replaced by rename, so a lock on it would
// stay with the old inode.
class FileLock {
public:
    explicit FileLock(const std::string& path) {
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd_ < 0) throwSystemError("cannot open " + path, errno, ExitStatus::kUsage);
        while (::flock(fd_, LOCK_EX) < 0) {
            if (errno == EINTR) continue;
            const int err = errno;
            ::close(fd_);
            throwSystemError("cannot lock " + path, err);
        }
    }
    ~FileLock() { ::close(fd_); }
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;

private:
    int fd_ = -1;
};

std::map<std::string, TimestampDocument> parseCache(const std::string& text,
                                                    const std::string& path) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error& e) {
        // e.what() is "[json.exception.parse_error.101] parse error at line 1, column 3: ...".
        const std::string why = e.what();
        throw Error(path + ": not JSON: " + why.substr(why.find("] ") + 2), ExitStatus::kUsage);
    }
    if (!j.is_object())
        throw Error(path + ": not a JSON object of repositories", ExitStatus::kUsage);
    std::map<std::string, TimestampDocument> documents;
    for (const auto& [repository, value] : j.items()) {
        const std::string where = path + ": \"" + repository.substr(0, 200) + "\"";
        if (!value.is_object()) throw Error(where + ": not a JSON object", ExitStatus::kUsage);
        TimestampDocument d = parseTimestamp(value.dump(), where);
        if (d.repository != repository)
            throw Error(where + ": \"repository\" is \"" + d.repository.substr(0, 200) +
                            "\", not the entry's name",
                        ExitStatus::kUsage);
        documents.emplace(repository, std::move(d));
    }
    return documents;
}
}  // namespace

std::optional<NewerRelease> newerRelease(const TimestampDocument& document, const std::string& tag,
                                         const std::string& digest) {
    auto entry = document.tags.find(tag);
    if (entry == document.tags.end() || entry->second == digest) return std::nullopt;
    NewerRelease release{entry->second, {}};
    for (const auto& [other, otherDigest] : document.tags)  // a std::map: already sorted
        if (other != tag && otherDigest == release.digest) release.tags.push_back(other);
    return release;
}

TimestampCache::TimestampCache(std::string path)
    : path_(path.empty() ? xdgDirectory("XDG_STATE_HOME", ".local/state") + "/timestamps.json"
                         : std::move(path)) {}

std::map<std::string, TimestampDocument> TimestampCache::read(std::string_view consequence) const {
    problem_.clear();
    struct stat st {};
    if (::stat(path_.c_str(), &st) < 0 && errno == ENOENT) return {};
    try {
        const std::vector<uint8_t> bytes = readWholeFile(path_, "timestamp cache", kMaxCacheBytes);
        return parseCache(std::string(bytes.begin(), bytes.end()), path_);
    } catch (const Error& e) {
        problem_ = std::string(e.what()) + "; " + std::string(consequence);
        return {};
    }
}

std::map<std::string, TimestampDocument> TimestampCache::documents() const {
    return read(kIgnoring);
}

std::optional<TimestampDocument> TimestampCache::find(const std::string& repository) const {
    auto documents = read(kIgnoring);
    auto it = documents.find(repository);
    if (it == documents.end()) return std::nullopt;
    return it->second;
}

bool TimestampCache::record(const TimestampDocument& document) {
    // Private like FreshnessState's: what a user has seen of registries is nobody else's.
    makeDirectories(path_.substr(0, path_.rfind('/')), 0700);
    FileLock lock(path_ + ".lock");
    std::map<std::string, TimestampDocument> documents =
        read("replaced it, keeping only the document of " + document.repository);
    auto it = documents.find(document.repository);
    if (it != documents.end() && it->second.version >= document.version) return false;
    documents[document.repository] = document;
    json j = json::object();
    for (const auto& [repository, d] : documents)
        j[repository] = json::parse(serializeTimestamp(d));
    writeFileAtomically(path_, j.dump(2) + "\n", 0600);
    return true;
}

std::string recordTimestamp(const TimestampDocument& document, const std::string& cachePath) {
    try {
        TimestampCache cache(cachePath);
        cache.record(document);
        return cache.problem();
    } catch (const Error& e) {
        return std::string("cannot record the freshness document of ") + document.repository +
               ": " + e.what();
    }
}

std::optional<Channel> channelOf(const std::string& imageName) {
    Reference ref;
    try {
        ref = parseReference(imageName);
    } catch (const Error&) {
        return std::nullopt;
    }
    if (!ref.digest.empty() || ref.tag.empty()) return std::nullopt;
    return Channel{ref.location(), ref.tag};
}

std::optional<NewerRelease> newerReleaseOf(
    const std::map<std::string, TimestampDocument>& documents, const std::string& imageName,
    const std::string& digest) {
    const std::optional<Channel> channel = channelOf(imageName);
    if (!channel) return std::nullopt;
    auto it = documents.find(channel->repository);
    if (it == documents.end()) return std::nullopt;
    return newerRelease(it->second, channel->tag, digest);
}

SessionOptions quickSessionOptions() {
    SessionOptions options;
    options.attempts = 1;
    options.timeouts.connect = std::chrono::seconds(3);
    options.timeouts.total = std::chrono::seconds(5);
    return options;
}

std::optional<TimestampDocument> refreshTimestamp(const Reference& reference,
                                                  const TrustPolicy& trust,
                                                  const std::optional<Credential>& credential,
                                                  const SessionOptions& options,
                                                  const FreshnessPolicy& policy,
                                                  TimestampCache& cache, FreshnessState& state) {
    RegistrySession session(reference, credential, options);
    std::optional<VerifiedTimestamp> verified =
        fetchTimestamp(session, trust.keysFor(reference.location()));
    if (!verified) return std::nullopt;
    checkFreshness(*verified, state, policy, {}, {}, nowSeconds());
    cache.record(verified->document);
    state.record(verified->document.repository, verified->document.version);
    return verified->document;
}

}  // namespace ingot::registry
