#include "ingot/debian/Release.h"

#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <set>

#include "ingot/debian/Text.h"
#include "ingot/core/Error.h"
#include "ingot/core/File.h"
#include "ingot/core/Process.h"
#include "ingot/debian/Deb822.h"

namespace ingot::debian {

namespace {

// Debian's InRelease is a few hundred KiB; far more is not a Release file.
constexpr uint64_t kMaxInReleaseBytes = 64ull << 20;

[[noreturn]] void refuse(const std::string& message) {
    throw Error(message, ExitStatus::kVerification);
}

int64_t nowSeconds(int64_t now) {
    if (now != 0) return now;
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil), so
// the result does not depend on the process's time zone as mktime's would.
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<unsigned> number(std::string_view s, size_t minDigits, size_t maxDigits) {
    if (s.size() < minDigits || s.size() > maxDigits) return std::nullopt;
    auto v = text::parseUnsigned(s);
    if (!v) return std::nullopt;
    return static_cast<unsigned>(*v);
}

std::string formatDate(int64_t seconds) {
    const std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buffer[64];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buffer;
}

// What gpgv's --status-fd lines say about each signature of the file.
struct SignatureReport {
    int good = 0;                          // GOODSIG: a valid signature by a key in the keyring
    bool bad = false;                      // BADSIG: the signed text or the signature was changed
    std::vector<std::string> missingKeys;  // ERRSIG ... 9 / NO_PUBKEY: not in the keyring
    std::vector<std::string> expiredKeys, revokedKeys, expiredSignatures;
    int otherErrors = 0;  // ERRSIG for another reason (unsupported algorithm, ...)
    bool noData = false;  // NODATA: no OpenPGP data at all
};

SignatureReport readStatus(const std::string& statusText) {
    SignatureReport r;
    for (std::string_view line : text::lines(statusText)) {
        constexpr std::string_view kPrefix = "[GNUPG:] ";
        if (!line.starts_with(kPrefix)) continue;
        const auto w = text::words(line.substr(kPrefix.size()));
        if (w.empty()) continue;
        const std::string keyword(w[0]);
        const std::string key = w.size() > 1 ? std::string(w[1]) : std::string("?");
        if (keyword == "GOODSIG") {
            ++r.good;
        } else if (keyword == "BADSIG") {
            r.bad = true;
        } else if (keyword == "EXPKEYSIG") {
            r.expiredKeys.push_back(key);
        } else if (keyword == "REVKEYSIG") {
            r.revokedKeys.push_back(key);
        } else if (keyword == "EXPSIG") {
            r.expiredSignatures.push_back(key);
        } else if (keyword == "ERRSIG") {
            // The sixth field is the reason: 9 means the public key is missing.
            if (w.size() >= 7 && w[6] == "9")
                r.missingKeys.push_back(key);
            else
                ++r.otherErrors;
        } else if (keyword == "NODATA") {
            r.noData = true;
        }
    }
    return r;
}

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : ", ") + text::printable(i, 40);
    return out;
}

// The armour lines only, never the OpenPGP packets: a file that does not begin as a clearsigned
// message (an HTML error page, a detached Release.gpg) or carries text after its signature is
// refused before gpgv runs, as apt refuses it, so nothing outside the signed part can matter.
void checkClearsignedFraming(const std::string& path, std::string_view bytes) {
    constexpr std::string_view kBegin = "-----BEGIN PGP SIGNED MESSAGE-----";
    constexpr std::string_view kEnd = "-----END PGP SIGNATURE-----";
    if (!bytes.starts_with(kBegin) ||
        (bytes.size() > kBegin.size() && bytes[kBegin.size()] != '\n' &&
         bytes[kBegin.size()] != '\r'))
        refuse(path + " is not a clearsigned file (it does not begin with '" + std::string(kBegin) +
               "')");
    const size_t end = bytes.rfind(kEnd);
    if (end == std::string_view::npos) refuse(path + " is not a clearsigned file (no signature)");
    if (bytes.substr(end + kEnd.size()).find_first_not_of(" \t\r\n") != std::string_view::npos)
        refuse(path + " has text after its signature");
}

// A private directory for gpgv's output, removed with everything in it.
struct ScratchDirectory {
    std::string path;
    ScratchDirectory() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "ingot-gpgv-XXXXXX").string();
        if (!mkdtemp(pattern.data()))
            throwSystemError("cannot create a temporary directory", errno);
        path = pattern;
    }
    ~ScratchDirectory() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    ScratchDirectory(const ScratchDirectory&) = delete;
    ScratchDirectory& operator=(const ScratchDirectory&) = delete;
};

}  // namespace

const ReleaseFile* Release::find(std::string_view path) const {
    for (const auto& f : sha256)
        if (f.path == path) return &f;
    return nullptr;
}

std::optional<int64_t> parseReleaseDate(std::string_view input) {
    auto w = text::words(input);
    if (!w.empty() && w.front().ends_with(',')) w.erase(w.begin());  // the day of the week
    if (w.size() != 5) return std::nullopt;
    static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    auto day = number(w[0], 1, 2);
    auto year = number(w[2], 4, 4);
    unsigned month = 0;
    for (unsigned i = 0; i < 12; ++i)
        if (text::iequals(w[1], kMonths[i])) month = i + 1;
    if (!day || !year || month == 0 || *day < 1 || *day > 31) return std::nullopt;
    const std::string_view time = w[3];
    if (time.size() != 8 || time[2] != ':' || time[5] != ':') return std::nullopt;
    auto hh = number(time.substr(0, 2), 2, 2);
    auto mm = number(time.substr(3, 2), 2, 2);
    auto ss = number(time.substr(6, 2), 2, 2);
    if (!hh || !mm || !ss || *hh > 23 || *mm > 59 || *ss > 60) return std::nullopt;
    int64_t offset = 0;
    const std::string_view zone = w[4];
    if (zone == "UTC" || zone == "GMT" || zone == "UT" || zone == "Z") {
        offset = 0;
    } else if (zone.size() == 5 && (zone[0] == '+' || zone[0] == '-')) {
        auto zh = number(zone.substr(1, 2), 2, 2);
        auto zm = number(zone.substr(3, 2), 2, 2);
        if (!zh || !zm || *zh > 23 || *zm > 59) return std::nullopt;
        offset = (zone[0] == '+' ? 1 : -1) * static_cast<int64_t>(*zh * 3600 + *zm * 60);
    } else {
        return std::nullopt;
    }
    return daysFromCivil(*year, month, *day) * 86400 + *hh * 3600 + *mm * 60 + *ss - offset;
}

Release parseRelease(std::string_view text, std::string_view source) {
    const std::string where(source);
    const auto paragraphs = parseDeb822(text, Deb822Options{where, false, 64ull << 20, 1ull << 20});
    if (paragraphs.empty()) throw Error(where + ": the Release file is empty", ExitStatus::kUsage);
    if (paragraphs.size() > 1)
        throw Error(where + ": a Release file has one paragraph, this one has " +
                        std::to_string(paragraphs.size()),
                    ExitStatus::kUsage);
    const Paragraph& p = paragraphs.front();
    auto badField = [&](std::string_view name, const std::string& why) -> Error {
        const Field* f = p.find(name);
        return Error(where + " line " + std::to_string(f ? f->line : p.line()) + ": " +
                         std::string(name) + " " + why,
                     ExitStatus::kUsage);
    };

    Release r;
    r.origin = p.get("Origin");
    r.label = p.get("Label");
    r.suite = p.get("Suite");
    r.codename = p.get("Codename");
    r.version = p.get("Version");
    if (r.suite.empty() && r.codename.empty())
        throw Error(where + ": the Release file names neither a Suite nor a Codename",
                    ExitStatus::kUsage);
    r.date = p.get("Date");
    if (r.date.empty()) throw Error(where + ": the Release file has no Date", ExitStatus::kUsage);
    auto date = parseReleaseDate(r.date);
    if (!date) throw badField("Date", "'" + text::printable(r.date) + "' is not an RFC 2822 date");
    r.dateSeconds = *date;
    if (auto until = p.optional("Valid-Until")) {
        auto seconds = parseReleaseDate(*until);
        if (!seconds)
            throw badField("Valid-Until",
                           "'" + text::printable(*until) + "' is not an RFC 2822 date");
        r.validUntil = *until;
        r.validUntilSeconds = *seconds;
    }
    const std::string components = p.get("Components");
    const std::string architectures = p.get("Architectures");
    for (auto w : text::words(components)) r.components.emplace_back(w);
    for (auto w : text::words(architectures)) r.architectures.emplace_back(w);
    r.acquireByHash = text::iequals(p.get("Acquire-By-Hash"), "yes");

    const Field* sums = p.find("SHA256");
    if (!sums)
        refuse(where +
               ": the Release file has no SHA256 section, so none of its indexes can be "
               "checked");
    std::set<std::string> seen;
    // The value's first line is what follows "SHA256:" on the field's own line.
    size_t line = sums->line;
    for (std::string_view entry : text::lines(sums->value)) {
        const size_t here = line++;
        if (text::trim(entry).empty()) continue;
        const auto w = text::words(entry);
        const auto size = w.size() == 3 ? text::parseUnsigned(w[1]) : std::nullopt;
        if (w.size() != 3 || !text::isSha256Hex(w[0]) || !size || !text::isSafeRelativePath(w[2]))
            refuse(where + " line " + std::to_string(here) +
                   ": a SHA256 line is '<64 hex digits> <size> <relative path>', not '" +
                   text::printable(entry, 100) + "'");
        if (!seen.insert(std::string(w[2])).second)
            refuse(where + " line " + std::to_string(here) + ": SHA256 lists " +
                   text::printable(w[2]) + " twice");
        r.sha256.push_back(ReleaseFile{std::string(w[2]), *size, std::string(w[0])});
    }
    if (r.sha256.empty()) refuse(where + ": the Release file's SHA256 section lists no files");
    return r;
}

std::string verifyClearsigned(const std::string& path, const std::string& keyring) {
    const auto bytes = readWholeFile(path, "InRelease", kMaxInReleaseBytes);
    checkClearsignedFraming(
        path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    std::error_code ec;
    if (!std::filesystem::is_regular_file(keyring, ec))
        throw Error("keyring " + keyring + " is not a readable file", ExitStatus::kUsage);
    // gpgv looks a keyring name without a slash up in its home directory; an absolute path is
    // read as given.
    const std::string keyringPath = std::filesystem::absolute(keyring).string();
    // Status lines go to stdout and the verified text to a file of its own, so nothing gpgv
    // prints for people (which can quote signature contents) is read as a status line.
    ScratchDirectory scratch;
    const std::string verifiedPath = scratch.path + "/verified";
    ProcessSpec spec;
    spec.argv = {"gpgv", "--status-fd", "1", "--keyring", keyringPath, "--output", verifiedPath};
    spec.argv.push_back("--");
    spec.argv.push_back(std::filesystem::absolute(path).string());
    spec.environment = {{"LC_ALL", "C"}};
    const ProcessOutput out = runProcess(spec);
    const SignatureReport r = readStatus(out.out);

    const bool onlyMissingKeys = r.otherErrors == 0 && r.expiredKeys.empty() &&
                                 r.revokedKeys.empty() && r.expiredSignatures.empty();
    if (r.bad)
        refuse("bad signature on " + path + ": its text or signature was changed after signing");
    if (r.good > 0 && (out.exitStatus == 0 || (out.exitStatus == 2 && onlyMissingKeys))) {
        const auto verified = readWholeFile(verifiedPath, "text gpgv verified", kMaxInReleaseBytes);
        if (verified.empty()) refuse("gpgv verified no text in " + path);
        return std::string(verified.begin(), verified.end());
    }
    if (!r.expiredKeys.empty())
        refuse(path + " is signed by the expired key " + joined(r.expiredKeys));
    if (!r.revokedKeys.empty())
        refuse(path + " is signed by the revoked key " + joined(r.revokedKeys));
    if (!r.expiredSignatures.empty()) refuse("the signature on " + path + " has expired");
    if (!r.missingKeys.empty())
        refuse(path + " is signed by key " + joined(r.missingKeys) + ", which is not in keyring " +
               keyring);
    if (r.noData) refuse(path + " holds no OpenPGP signature gpgv can read");
    std::string err = out.err.size() > 2000 ? out.err.substr(out.err.size() - 2000) : out.err;
    refuse("gpgv could not verify " + path + " (exit status " + std::to_string(out.exitStatus) +
           "): " + text::printable(err, 2000));
}

Release verifyInRelease(const std::string& path, const VerifyOptions& options) {
    const std::string verified = verifyClearsigned(path, options.keyring);
    Release r = parseRelease(verified, path);
    if (r.validUntilSeconds && !options.allowExpired) {
        const int64_t now = nowSeconds(options.now);
        if (now > *r.validUntilSeconds)
            refuse(path + " (" + (r.suite.empty() ? r.codename : r.suite) + ") expired at " +
                   formatDate(*r.validUntilSeconds) + " (Valid-Until: " + *r.validUntil +
                   "); the mirror may be stale or replaying old indexes. Allow an expired "
                   "Release explicitly to use it anyway");
    }
    return r;
}

}  // namespace ingot::debian
