// A suite's InRelease: the clearsigned Release file that vouches, by sha256, for every index
// of the suite. The signature is checked by gpgv against a keyring the user trusts (Debian's
// archive keyring); only the text gpgv says it verified is ever parsed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ingot::debian {

struct ReleaseFile {
    std::string path;  // relative to dists/SUITE/, e.g. "main/binary-amd64/Packages.xz"
    uint64_t size = 0;
    std::string sha256;  // 64 lower-case hex digits
};

struct Release {
    std::string origin, label, suite, codename, version;
    std::string date;         // as written, e.g. "Sat, 10 Aug 2024 09:13:09 UTC"
    int64_t dateSeconds = 0;  // since the epoch, UTC
    std::optional<std::string> validUntil;
    std::optional<int64_t> validUntilSeconds;
    std::vector<std::string> components;
    std::vector<std::string> architectures;
    bool acquireByHash = false;
    std::vector<ReleaseFile> sha256;  // in file order

    const ReleaseFile* find(std::string_view path) const;
};

// Parses Release text (already verified). Throws ingot::Error naming `source`: kVerification
// when there is no SHA256 section or it is malformed (nothing it says could then be checked),
// kUsage for other malformed fields. A missing Date is an error too: without it neither
// expiry nor rollback can be judged.
Release parseRelease(std::string_view text, std::string_view source);

// RFC 2822 dates as Release files write them ("Sat, 10 Aug 2024 09:13:09 UTC", zone UTC, GMT,
// Z or +hhmm), in seconds since the epoch; nullopt when malformed.
std::optional<int64_t> parseReleaseDate(std::string_view text);

struct VerifyOptions {
    std::string keyring;  // a binary OpenPGP keyring gpgv reads (e.g. the Debian archive keyring)
    // An InRelease past its Valid-Until is refused unless this is set: a mirror that froze, or
    // an attacker replaying an old signed index, would otherwise hide newer security updates.
    bool allowExpired = false;
    int64_t now = 0;  // seconds since the epoch; 0 reads the clock
};

// Runs `gpgv --keyring KEYRING --output - FILE` and returns the text it verified. Throws
// ingot::Error (kVerification) with its own message for: a file that is not clearsigned, a bad
// signature, a signature by a key not in the keyring, a signature by an expired or revoked key.
// A file also signed by keys the keyring lacks is accepted when one signature is good, as apt
// accepts it (the archive signs with several keys during key rotations).
std::string verifyClearsigned(const std::string& path, const std::string& keyring);

// verifyClearsigned, then parseRelease on the verified text, then the Valid-Until check.
Release verifyInRelease(const std::string& path, const VerifyOptions& options);

}  // namespace ingot::debian
