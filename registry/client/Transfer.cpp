#include "Transfer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "ChannelNews.h"
#include "Progress.h"
#include "ingot/core/Error.h"
#include "ingot/oci/Layout.h"
#include "ingot/sign/Minisign.h"

namespace ingot::registry {

namespace {

// Runs `work(session, item)` for every item on up to `parallel` threads, each with its own
// session (connections and tokens are per thread). The first failure stops the rest from
// starting new items and is rethrown.
template <typename Item, typename Work>
void forEachParallel(const std::vector<Item>& items, unsigned parallel, const Reference& ref,
                     const std::optional<Credential>& credential, const SessionOptions& options,
                     std::atomic<uint64_t>& requests, Work work) {
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex errorMutex;
    auto worker = [&] {
        try {
            RegistrySession session(ref, credential, options);
            for (size_t i; !failed && (i = next++) < items.size();) work(session, items[i]);
            requests += session.requests();
        } catch (...) {
            std::lock_guard lock(errorMutex);
            if (!error) error = std::current_exception();
            failed = true;
        }
    };
    std::vector<std::thread> threads;
    const unsigned n = std::max(1u, std::min<unsigned>(parallel, static_cast<unsigned>(items.size())));
    for (unsigned t = 0; t < n && !items.empty(); ++t) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
    if (error) std::rethrow_exception(error);
}

std::vector<oci::Descriptor> unique(std::vector<oci::Descriptor> blobs) {
    std::set<std::string> seen;
    std::erase_if(blobs, [&](const oci::Descriptor& d) { return !seen.insert(d.digest).second; });
    return blobs;
}

oci::Descriptor emptyBlob() {
    return {oci::kMediaTypeEmpty, oci::sha256Digest(oci::kEmptyBlob), oci::kEmptyBlob.size(), {}, {}};
}

}  // namespace

PushReport pushImage(const std::string& layoutDir, const std::string& tag, const Reference& target,
                     const std::optional<Credential>& credential, const TransferOptions& options) {
    if (target.tag.empty())
        throw Error("push " + target.str() + ": give a tag to push to", ExitStatus::kUsage);
    oci::LayoutImage image = oci::readImage(layoutDir, tag);
    const std::string sigTag = oci::signatureTag(image.digest);
    oci::Descriptor sigDescriptor = oci::resolveTag(layoutDir, sigTag);
    const std::string sigBytes = oci::readBlob(layoutDir, sigDescriptor.digest, oci::kMaxManifestBytes,
                                               "signature manifest (tag " + sigTag + ")", &sigDescriptor.size);
    oci::SignatureManifest signature = oci::parseSignatureManifest(sigBytes, "signature manifest");
    if (signature.subject.digest != image.digest)
        throw Error("layout " + layoutDir + ": signature tag " + sigTag + " signs " +
                        signature.subject.digest,
                    ExitStatus::kVerification);

    std::vector<oci::Descriptor> blobs{image.manifest.config, emptyBlob(), signature.signature};
    for (const auto& chunk : image.manifest.chunks) blobs.push_back(chunk.blob);
    blobs = unique(std::move(blobs));
    for (const auto& b : blobs)
        if (!oci::hasBlob(layoutDir, b.digest, b.size))
            throw Error("layout " + layoutDir + " lacks blob " + b.digest + " of " + tag,
                        ExitStatus::kVerification);

    PushReport report;
    report.digest = image.digest;
    report.blobs = blobs.size();
    uint64_t total = 0;
    for (const auto& b : blobs) total += b.size;
    Progress progress("push " + target.str(), total);
    std::atomic<uint64_t> skipped{0}, uploaded{0}, requests{0};
    forEachParallel(blobs, options.parallel, target, credential, options.session, requests,
                    [&](RegistrySession& session, const oci::Descriptor& blob) {
                        if (session.hasBlob(blob)) {
                            ++skipped;
                            progress.add(blob.size);
                            return;
                        }
                        const std::string path = oci::blobFilePath(layoutDir, blob.digest);
                        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                        if (fd < 0) throwSystemError("cannot open " + path, errno);
                        struct Closer {
                            int fd;
                            ~Closer() { ::close(fd); }
                        } closer{fd};
                        session.uploadBlob(blob, fd, [&](uint64_t n) {
                            uploaded += n;
                            if (options.progress) progress.add(n);
                        });
                    });
    // The manifest goes up by digest first and the tag names it last, once its signature is
    // there: a tag never points at an image a client would refuse as unsigned, whenever the
    // push is interrupted (`ingot rollout` relies on it to converge after a kill).
    RegistrySession session(target, credential, options.session);
    session.putManifest(image.digest, image.manifestBytes, oci::kMediaTypeImageManifest);
    session.putManifest(sigTag, sigBytes, oci::kMediaTypeImageManifest);
    session.putManifest(target.tag, image.manifestBytes, oci::kMediaTypeImageManifest);
    progress.finish();
    report.blobsSkipped = skipped;
    report.bytesUploaded = uploaded;
    report.requests = requests + session.requests();
    return report;
}

PullReport pullImage(const Reference& source, const std::string& layoutDir,
                     const std::string& localTag, const TrustPolicy& trust,
                     const std::optional<Credential>& credential, const TransferOptions& options) {
    oci::checkRefName(localTag);
    RegistrySession session(source, credential, options.session);
    FetchedManifest fetched = session.getManifest(source.manifestReference(), oci::kMaxManifestBytes);
    oci::ImageManifest image =
        oci::parseImageManifest(fetched.bytes, source.str() + " image manifest");

    // The signature, by the referrers API first and the tag fallback second.
    std::vector<oci::Descriptor> candidates;
    if (auto found = session.referrers(fetched.digest, oci::kArtifactTypeSignature))
        candidates = *found;
    std::optional<FetchedManifest> byTag =
        session.findManifest(oci::signatureTag(fetched.digest), oci::kMaxManifestBytes);
    if (byTag) candidates.push_back({oci::kMediaTypeImageManifest, byTag->digest, byTag->bytes.size(), {}, {}});
    candidates = unique(std::move(candidates));
    if (candidates.empty())
        throw Error(source.str() + " (" + fetched.digest + ") has no signature: neither a " +
                        "referrer nor the tag " + oci::signatureTag(fetched.digest),
                    ExitStatus::kVerification);

    const std::string manifestJson = session.fetchBlob(image.config, oci::kMaxConfigBytes);
    const auto keys = trust.keysFor(source.location());
    PullReport report;
    report.digest = fetched.digest;
    std::string sigBytes, minisig, refusal;
    oci::SignatureManifest signature;
    for (const auto& candidate : candidates) {
        // The tag fallback's manifest is already here; referrers are fetched by digest.
        FetchedManifest m = byTag && byTag->digest == candidate.digest
                                ? *byTag
                                : session.getManifest(candidate.digest, oci::kMaxManifestBytes);
        oci::SignatureManifest s = oci::parseSignatureManifest(m.bytes, source.str() + " signature manifest");
        if (s.subject.digest != fetched.digest) continue;
        std::string text = session.fetchBlob(s.signature, oci::kMaxSignatureBytes);
        auto info = sign::describeMinisign(text);
        const std::string keyId = info.keyId ? sign::formatKeyId(*info.keyId) : "unknown";
        for (const auto& key : keys) {
            if (!info.keyId || key.keyId != *info.keyId) continue;
            report.trustedComment = sign::verifyMinisign(key, manifestJson, text,
                                                         source.str() + " signature");
            report.keyId = keyId;
            sigBytes = m.bytes;
            minisig = text;
            signature = s;
            break;
        }
        if (!report.keyId.empty()) break;
        refusal = keyId;
    }
    if (report.keyId.empty())
        throw Error(source.str() + " is not signed by a trusted key (the signature's key id is " +
                        refusal + "; " + trust.path() + " trusts " + std::to_string(keys.size()) +
                        " key(s) for " + source.location() + "); trust it with `ingot trust add " +
                        "KEY.pub --for " + source.location() + "`",
                    ExitStatus::kVerification);

    FreshnessState freshness(options.freshnessState);
    if (auto timestamp = fetchTimestamp(session, keys)) {
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        checkFreshness(*timestamp, freshness, options.freshness, source.tag, fetched.digest, now);
        report.timestamp = timestamp->document;
    }

    oci::initLayout(layoutDir);
    std::vector<oci::Descriptor> missing;
    for (const auto& chunk : image.chunks) missing.push_back(chunk.blob);
    missing = unique(std::move(missing));
    report.blobs = missing.size();
    std::erase_if(missing, [&](const oci::Descriptor& b) { return oci::hasBlob(layoutDir, b.digest, b.size); });
    report.blobsPresent = report.blobs - missing.size();
    uint64_t total = 0;
    for (const auto& b : missing) total += b.size;
    Progress progress("pull " + source.str(), total);
    std::atomic<uint64_t> downloaded{0}, requests{0};
    forEachParallel(missing, options.parallel, source, credential, options.session, requests,
                    [&](RegistrySession& s, const oci::Descriptor& blob) {
                        s.downloadBlob(blob, oci::partialBlobPath(layoutDir, blob.digest),
                                       [&](uint64_t n) {
                                           downloaded += n;
                                           if (options.progress) progress.add(n);
                                       });
                        oci::commitPartialBlob(layoutDir, blob);
                    });
    progress.finish();

    oci::addBlob(layoutDir, manifestJson, oci::kMediaTypeIngotManifest);
    oci::addBlob(layoutDir, oci::kEmptyBlob, oci::kMediaTypeEmpty);
    oci::addBlob(layoutDir, minisig, oci::kMediaTypeMinisign);
    oci::Descriptor sigDescriptor = oci::addBlob(layoutDir, sigBytes, oci::kMediaTypeImageManifest);
    sigDescriptor.artifactType = oci::kArtifactTypeSignature;
    oci::Descriptor imageDescriptor = oci::addBlob(layoutDir, fetched.bytes, oci::kMediaTypeImageManifest);
    imageDescriptor.artifactType = oci::kArtifactTypeImage;
    oci::setTags(layoutDir, {{localTag, imageDescriptor},
                             {oci::signatureTag(fetched.digest), sigDescriptor}});
    if (report.timestamp) {
        freshness.record(report.timestamp->repository, report.timestamp->version);
        std::string problem = recordTimestamp(*report.timestamp, options.timestampCache);
        if (!problem.empty()) report.notes.push_back(std::move(problem));
    }
    report.bytesDownloaded = downloaded;
    report.requests = requests + session.requests();
    return report;
}

}  // namespace ingot::registry
