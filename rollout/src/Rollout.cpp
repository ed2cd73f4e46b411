#include "ingot/rollout/Rollout.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include "Credentials.h"
#include "Freshness.h"
#include "RegistrySession.h"
#include "Transfer.h"
#include "TrustPolicy.h"
#include "ingot/core/Error.h"
#include "ingot/core/File.h"
#include "ingot/core/Process.h"
#include "ingot/oci/Layout.h"
#include "ingot/oci/Manifests.h"
#include "ingot/rollout/SmokeBoot.h"
#include "ingot/sign/Minisign.h"

namespace ingot::rollout {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// One rollout at a time per state directory: the timer may fire while a long night still runs.
class StateLock {
public:
    explicit StateLock(const std::string& dir) {
        const std::string path = dir + "/lock";
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0) throwSystemError("cannot open " + path, errno);
        if (::flock(fd_, LOCK_EX | LOCK_NB) < 0)
            throw Error("another ingot rollout is running on " + dir + " (it holds " + path + ")",
                        ExitStatus::kUsage);
    }
    ~StateLock() { ::close(fd_); }

private:
    int fd_;
};

std::string runStamp(int64_t now) {
    std::time_t t = static_cast<std::time_t>(now);
    std::tm tm{};
    char text[32];
    gmtime_r(&t, &tm);
    std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &tm);
    return text;
}

// The smoke clone's name: a valid clone name made from the repository.
std::string smokeVmName(const std::string& repository) {
    std::string name = "smoke-";
    for (char c : repository) name += (c == '/' ? '-' : c);
    return name.substr(0, 63);
}

struct Candidate {
    std::string dir;      // ingot build's output: disk.img, manifest.json, oci/
    std::string version;  // = the layout tag
    oci::LayoutImage image;
};

Candidate readCandidate(const std::string& dir) {
    Candidate c;
    c.dir = dir;
    const json manifest = json::parse(std::string([&] {
        auto bytes = readWholeFile(dir + "/manifest.json", "candidate manifest", 16 << 20);
        return std::string(bytes.begin(), bytes.end());
    }()));
    c.version = manifest.at("version").get<std::string>();
    c.image = oci::readImage(dir + "/oci", c.version);
    return c;
}

// Package changes from the candidate's provenance (what `ingot patch` applied).
std::vector<PackageChange> changesOf(const Candidate& c) {
    std::vector<PackageChange> changes;
    const json m = json::parse(c.image.manifestJson, nullptr, false);
    if (m.is_discarded() || !m.contains("provenance")) return changes;
    const json& p = m["provenance"];
    if (!p.contains("security") || !p["security"].is_object()) return changes;
    const json& s = p["security"];
    for (const json& u : s.value("updates", json::array())) {
        PackageChange change;
        change.package = u.value("package", "");
        change.from = u.value("installedVersion", "");
        change.to = u.value("newVersion", "");
        for (const json& cve : u.value("cves", json::array()))
            if (cve.is_string()) change.cves.push_back(cve.get<std::string>());
        changes.push_back(std::move(change));
    }
    for (const json& n : s.value("newPackages", json::array()))
        changes.push_back({n.value("package", ""), "", n.value("version", ""), {}});
    return changes;
}

// The chunk bytes a client that holds `previous` downloads for `next`, and all of next's.
std::pair<uint64_t, uint64_t> downloadBytes(const oci::ImageManifest& next,
                                            const std::optional<oci::ImageManifest>& previous) {
    std::set<std::string> have, counted;
    if (previous)
        for (const auto& chunk : previous->chunks) have.insert(chunk.blob.digest);
    uint64_t download = 0, all = 0;
    for (const auto& chunk : next.chunks) {
        if (!counted.insert(chunk.blob.digest).second) continue;
        all += chunk.blob.size;
        if (!have.count(chunk.blob.digest)) download += chunk.blob.size;
    }
    return {download, all};
}

class Night {
public:
    Night(const RolloutConfig& config, const RolloutOptions& options, std::string runDir,
          const sign::MinisignPublicKey& timestampKey)
        : config_(config), options_(options), runDir_(std::move(runDir)) {
        session_.plainHttp = config.plainHttp;
        session_.verifyTls = !config.insecure;
        // The rollout verifies what it published with its own key, whatever the host trusts.
        trustFile_ = config.stateDir + "/trust.yaml";
        registry::TrustPolicy trust = registry::TrustPolicy::load(trustFile_);
        // Its freshness documents are signed with the timestamp key, which may be another.
        for (const sign::MinisignPublicKey& key :
             {sign::readPublicKeyFile(config.publicKey), timestampKey}) {
            bool present = false;
            for (const auto& e : trust.entries())
                present = present || (e.pattern == "*" && e.key.keyId == key.keyId);
            if (!present) trust.add("*", key);
        }
        trust_ = registry::TrustPolicy::load(trustFile_);
    }

    ImageOutcome roll(const ImageSpec& spec) {
        const auto started = Clock::now();
        ImageOutcome out;
        out.repository = spec.repository;
        out.channel = spec.channel;
        const std::string slug = repositorySlug(spec.repository);
        imageDir_ = config_.stateDir + "/images/" + slug;
        logDir_ = runDir_ + "/" + slug;
        fs::create_directories(imageDir_);
        fs::create_directories(logDir_);
        try {
            rollImage(spec, out);
        } catch (const std::exception& e) {
            out.result = "failed";
            out.error = e.what();
        }
        out.seconds = secondsSince(started);
        return out;
    }

    TimestampOutcome signTimestamp(const std::string& repository,
                                   const sign::MinisignSecretKey& key) {
        TimestampOutcome out;
        out.repository = config_.registry + "/" + repository;
        try {
            registry::Reference ref{config_.registry, repository, "", ""};
            registry::RegistrySession session(ref, credential(), session_);
            auto d = registry::publishTimestamp(session, key, config_.timestampValidity);
            out.version = d.version;
            out.expires = d.expires;
        } catch (const std::exception& e) {
            out.error = e.what();
        }
        return out;
    }

private:
    void say(const std::string& line) const {
        if (options_.progress) options_.progress(line);
    }

    std::optional<registry::Credential> credential() const {
        return registry::Credentials().find(config_.registry);
    }

    // Runs `ingot ARGS…`, its output into LOG; the exit status.
    int ingot(std::vector<std::string> args, const std::string& log) const {
        ProcessSpec spec;
        spec.argv = {options_.ingot};
        spec.argv.insert(spec.argv.end(), args.begin(), args.end());
        ProcessOutput result = runProcess(spec);
        std::ofstream(log, std::ios::app) << result.out << result.err;
        return result.exitStatus;
    }

    void rollImage(const ImageSpec& spec, ImageOutcome& out) {
        registry::Reference channel{config_.registry, spec.repository, spec.channel, ""};
        registry::RegistrySession session(channel, credential(), session_);
        std::optional<registry::FetchedManifest> current =
            session.findManifest(spec.channel, oci::kMaxManifestBytes);
        std::optional<oci::ImageManifest> previous;
        std::string base;  // the disk the candidate is a patch of
        out.log = logDir_ + "/build.log";
        const std::string staging = imageDir_ + "/candidate.new";
        fs::remove_all(staging);

        if (current) {
            out.previousDigest = current->digest;
            previous = oci::parseImageManifest(current->bytes, channel.str() + " image manifest");
            base = currentDisk(spec, current->digest);
            out.previousVersion = versionBeside(base);
        } else {
            // The first night: the recipe, as built, is what the patch starts from.
            say(spec.repository + ": the channel " + spec.channel + " is empty; building " +
                spec.recipe);
            const std::string built = imageDir_ + "/bootstrap";
            fs::remove_all(built);
            // A recipe layered on another gold image takes it signed by the rollout's key.
            std::vector<std::string> args = {
                "build",   spec.recipe,       "--sign-key", config_.signKey,
                "--trust", config_.publicKey, "-o",         built};
            if (!config_.cacheDir.empty()) args.insert(args.end(), {"--cache", config_.cacheDir});
            const int status = ingot(args, out.log);
            if (status != 0)
                throw Error("ingot build " + spec.recipe + " exited " + std::to_string(status) +
                            " (see " + out.log + ")");
            base = built + "/disk.img";
        }

        say(spec.repository + ": planning security updates");
        std::vector<std::string> args = {"patch",      base,
                                         "--key",      config_.publicKey,
                                         "--sources",  config_.securitySources,
                                         "--sign-key", config_.signKey,
                                         "-o",         staging};
        if (!config_.cacheDir.empty()) args.insert(args.end(), {"--cache", config_.cacheDir});
        const int status = ingot(args, out.log);
        std::string candidateDir = imageDir_ + "/candidate";
        if (status == 1) {
            if (current) {
                out.result = "unchanged";
                say(spec.repository + ": nothing to update");
                return;
            }
            // First night with no updates pending: the recipe's build is the first version.
            fs::remove_all(staging);
            fs::rename(imageDir_ + "/bootstrap", staging);
        } else if (status != 0) {
            throw Error("ingot patch exited " + std::to_string(status) + " (see " + out.log + ")");
        }
        fs::remove_all(candidateDir);
        fs::rename(staging, candidateDir);
        fs::remove_all(imageDir_ + "/bootstrap");
        const Candidate candidate = readCandidate(candidateDir);
        out.candidate = candidateDir;
        out.version = candidate.version;
        out.digest = candidate.image.digest;
        out.changes = changesOf(candidate);
        std::tie(out.downloadBytes, out.imageBytes) =
            downloadBytes(candidate.image.manifest, previous);

        smoke(spec, candidate, out);
        if (out.smoke.result != "passed") {
            out.result = "failed";
            out.error = "smoke boot failed: " + out.smoke.reason;
            return;
        }
        publish(spec, candidate, session, out);
    }

    // The version in the manifest.json beside an image's disk (ingot build's output, or the
    // published image as currentDisk keeps it); empty when there is none.
    std::string versionBeside(const std::string& disk) const {
        const fs::path dir = fs::path(disk).parent_path();
        std::error_code ec;
        if (fs::exists(dir / "manifest.json", ec)) {
            auto bytes = readWholeFile((dir / "manifest.json").string(), "manifest", 16 << 20);
            json m = json::parse(std::string(bytes.begin(), bytes.end()), nullptr, false);
            if (m.is_object() && m.contains("version") && m["version"].is_string())
                return m["version"].get<std::string>();
        }
        return {};
    }

    // The published image the channel names, as a disk file to patch: pulled by digest into
    // the rollout's own layout (verified with the rollout's key; its own freshness document
    // may be stale after an interrupted night, so expiry is no reason to stop here) and
    // reassembled once per digest.
    std::string currentDisk(const ImageSpec& spec, const std::string& digest) {
        const std::string hex = digest.substr(7);
        const std::string dir = imageDir_ + "/published/" + hex;
        const std::string disk = dir + "/disk.img";
        std::error_code ec;
        if (fs::exists(disk, ec) && fs::exists(dir + "/manifest.json", ec)) return disk;
        say(spec.repository + ": fetching the published " + spec.channel + " (" +
            digest.substr(0, 19) + "…)");
        const std::string layout = imageDir_ + "/layout";
        registry::Reference ref{config_.registry, spec.repository, "", digest};
        registry::TransferOptions transfer;
        transfer.session = session_;
        transfer.progress = false;
        transfer.freshness.allowExpired = true;
        transfer.freshnessState = config_.stateDir + "/freshness.json";
        transfer.timestampCache = config_.stateDir + "/timestamps.json";
        fs::remove_all(layout);
        registry::pullImage(ref, layout, "published", trust_, credential(), transfer);
        const std::string fetched = imageDir_ + "/fetched";
        fs::remove_all(fetched);
        fs::create_directories(fetched);
        const oci::LayoutImage image = oci::reassembleDisk(layout, digest, fetched + "/disk.img");
        writeFileAtomically(fetched + "/manifest.json", image.manifestJson);
        keepAsPublished(fetched, hex);
        fs::remove_all(layout);
        return disk;
    }

    // Only the newest published image is kept: the next night starts from it.
    void keepAsPublished(const std::string& from, const std::string& hex) {
        fs::remove_all(imageDir_ + "/published");
        fs::create_directories(imageDir_ + "/published");
        fs::rename(from, imageDir_ + "/published/" + hex);
    }

    void smoke(const ImageSpec& spec, const Candidate& candidate, ImageOutcome& out) {
        // A record of the smoke boot a candidate passed: a restarted night with the same bytes
        // (same digest) need not boot it again.
        const std::string record = imageDir_ + "/smoke-passed";
        std::error_code ec;
        if (fs::exists(record, ec)) {
            auto bytes = readWholeFile(record, "smoke record", 1024);
            if (std::string(bytes.begin(), bytes.end()) == candidate.image.digest) {
                out.smoke.result = "passed";
                out.smoke.reason = "passed before, same digest";
                return;
            }
        }
        const std::string store = config_.stateDir + "/smoke-store";
        const std::string name = smokeVmName(spec.repository);
        // A night killed during its smoke boot may have left the clone behind.
        ingot({"stop", "-t", "0", "--store", store, name}, logDir_ + "/smoke-cleanup.log");
        ingot({"rm", "--store", store, name}, logDir_ + "/smoke-cleanup.log");
        say(spec.repository + ": smoke boot of " + candidate.version);
        SmokeRequest request;
        request.command = {options_.ingot, "run",      "--rm",   "--store", store,
                           "--trust",      trustFile_, "--name", name,      candidate.dir};
        request.spec = spec.smoke;
        request.consoleLog = logDir_ + "/smoke-console.log";
        out.smoke = runSmoke(request);
        // Each night imports its candidate into the smoke store; only the clone needed it.
        ingot({"prune", "--all", "--store", store}, logDir_ + "/smoke-cleanup.log");
        if (out.smoke.result == "passed") {
            writeFileAtomically(record, candidate.image.digest);
        } else {
            // Kept with the candidate for whoever looks into it.
            fs::copy_file(request.consoleLog, candidate.dir + "/smoke-console.log",
                          fs::copy_options::overwrite_existing, ec);
        }
    }

    void publish(const ImageSpec& spec, const Candidate& candidate,
                 registry::RegistrySession& session, ImageOutcome& out) {
        // Versions are immutable: a version tag naming other bytes is never moved.
        if (auto existing = session.findManifest(candidate.version, oci::kMaxManifestBytes))
            if (existing->digest != candidate.image.digest)
                throw Error(config_.registry + "/" + spec.repository + ":" + candidate.version +
                            " already names " + existing->digest + ", not this candidate's " +
                            candidate.image.digest +
                            "; versions are immutable, so the channel "
                            "stays where it is");
        say(spec.repository + ": pushing " + candidate.version);
        registry::TransferOptions transfer;
        transfer.session = session_;
        transfer.progress = false;
        registry::Reference target{config_.registry, spec.repository, candidate.version, ""};
        const registry::PushReport pushed = registry::pushImage(
            candidate.dir + "/oci", candidate.version, target, credential(), transfer);
        out.pushedBytes = pushed.bytesUploaded;
        // The channel moves last, in one manifest PUT: clients see the old release or the new.
        session.putManifest(spec.channel, candidate.image.manifestBytes,
                            oci::kMediaTypeImageManifest);
        out.result = "published";
        say(spec.repository + ": " + spec.channel + " → " + candidate.version);
        // The candidate is now what the channel names: the next night patches it as it is,
        // with no need to fetch it back.
        keepAsPublished(candidate.dir, candidate.image.digest.substr(7));
        out.candidate = imageDir_ + "/published/" + candidate.image.digest.substr(7);
    }

    const RolloutConfig& config_;
    const RolloutOptions& options_;
    std::string runDir_;
    std::string imageDir_, logDir_;
    registry::SessionOptions session_;
    std::string trustFile_;
    registry::TrustPolicy trust_;
};

}  // namespace

RunReport runRollout(const RolloutConfig& config, const RolloutOptions& options) {
    const auto started = Clock::now();
    RunReport report;
    report.registry = config.registry;
    report.started = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    fs::create_directories(config.stateDir);
    StateLock lock(config.stateDir);
    // Read before any work: a key that cannot be read stops the night before it starts.
    const sign::MinisignSecretKey timestampKey = sign::readSecretKeyFile(config.timestampKey);
    sign::readSecretKeyFile(config.signKey);

    std::string runDir = config.stateDir + "/runs/" + runStamp(report.started);
    for (int n = 1; fs::exists(runDir); ++n)
        runDir = config.stateDir + "/runs/" + runStamp(report.started) + "." + std::to_string(n);
    fs::create_directories(runDir);
    report.runDirectory = runDir;

    Night night(config, options, runDir, timestampKey.publicPart());
    for (const ImageSpec& image : config.images) {
        report.images.push_back(night.roll(image));
        // Signed at once, whatever happened to the image: between a channel move and the
        // document naming it, clients refuse the channel's new digest.
        report.timestamps.push_back(night.signTimestamp(image.repository, timestampKey));
    }
    report.seconds = secondsSince(started);
    // Console lines and package fields may hold invalid UTF-8: replaced, not fatal.
    writeFileAtomically(
        runDir + "/report.json",
        reportToJson(report).dump(2, ' ', false, json::error_handler_t::replace) + "\n");
    writeFileAtomically(runDir + "/report.md", reportToMarkdown(report));
    return report;
}

}  // namespace ingot::rollout
