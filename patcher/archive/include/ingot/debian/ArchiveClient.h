// The Debian archive as `ingot patch` sees it: one suite of one mirror, verified end to end
// (keyring → InRelease → Packages.xz → .deb), with a cache addressed by sha256 so that files
// are fetched once and a later run can work offline from what an earlier one verified.
//
// Cache layout (CACHE = ArchiveOptions::cacheDirectory):
//   CACHE/by-hash/sha256/<hex>   indexes and .debs, named by their content's sha256
//   CACHE/inrelease/<hex>        the last InRelease verified for a mirror and suite, <hex> being
//                                the sha256 of "<base URL>\n<suite>"
// Every file is written under a temporary name and renamed once complete and checked, so
// concurrent runs and interrupted downloads never leave a torn file under a final name. Files
// read back from the cache are checked again: the cache is a convenience, not a trust anchor.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ingot/debian/PackagesIndex.h"
#include "ingot/debian/Release.h"

namespace ingot::debian {

struct ArchiveOptions {
    std::string baseUrl;  // http://, https:// or file://; the directory holding dists/ and pool/
    std::string suite;    // a suite or codename: "bookworm", "bookworm-security", "stable"
    std::vector<std::string> components = {"main"};
    std::string architecture = "amd64";
    std::string keyring;  // binary OpenPGP keyring for gpgv, e.g. the Debian archive keyring
    std::string cacheDirectory;
    bool offline = false;              // use only the cache; say what is missing from it
    bool allowExpiredRelease = false;  // accept an InRelease past its Valid-Until
    int64_t now = 0;  // seconds since the epoch for expiry checks; 0 reads the clock
    uint64_t maxIndexBytes = kMaxPackagesBytes;  // cap on a decompressed Packages file
};

class ArchiveClient {
public:
    explicit ArchiveClient(ArchiveOptions options);
    ~ArchiveClient();
    ArchiveClient(const ArchiveClient&) = delete;
    ArchiveClient& operator=(const ArchiveClient&) = delete;

    // Fetches dists/SUITE/InRelease (offline: takes the cached one), verifies it with gpgv,
    // checks that it speaks for SUITE and is not older than the one verified before, then
    // fetches each component's Packages.xz unless the cache has its sha256, and checks and
    // parses it. Throws ingot::Error: kVerification for signature, expiry, rollback and hash
    // failures, kUsage for what is missing offline or malformed.
    void update();

    // After update().
    const Release& release() const;
    const PackagesIndex& packages() const;

    // The path of the record's .deb in the cache, downloaded from BASE/Filename when it is not
    // there yet. A download whose Size or SHA256 differ from the record is deleted and throws
    // (kVerification). Offline, a .deb not in the cache throws (kUsage).
    std::string fetchDeb(const PackageRecord& record);

    // Where the cache keeps a file with this sha256 (hex).
    std::string cachePath(const std::string& sha256Hex) const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace ingot::debian
