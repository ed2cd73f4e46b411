#include "ingot/imagebuild/AptPackages.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <cstring>
#include <sstream>

#include "ingot/core/Error.h"
#include "ingot/core/File.h"
#include "ingot/core/Process.h"
#include "ingot/core/Sha256.h"

namespace ingot::imagebuild {

namespace {

// Package names and versions go into apt-get's argument vector and into file names: hold them to
// Debian policy's character sets so a lock file cannot smuggle options or paths in.
bool allOf(const std::string& s, size_t maxSize, const char* extra, bool upper = false) {
    if (s.empty() || s.size() > maxSize) return false;
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (upper && c >= 'A' && c <= 'Z') ||
                  std::strchr(extra, c) != nullptr;
        if (!ok || c == '\0') return false;
    }
    return true;
}
bool alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool validName(const std::string& s) { return allOf(s, 128, "+.-") && alnum(s[0]); }
bool validVersion(const std::string& s) {
    auto colon = s.find(':');
    std::string upstream = s;
    if (colon != std::string::npos) {
        std::string epoch = s.substr(0, colon);
        if (!allOf(epoch, 9, "") || epoch.find_first_not_of("0123456789") != std::string::npos) return false;
        upstream = s.substr(colon + 1);
    }
    return allOf(upstream, 128, ".+~-", true) && alnum(upstream[0]);
}
bool validArch(const std::string& s) { return allOf(s, 32, "-"); }
bool validSha256(const std::string& s) {
    return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::string percentDecode(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

void checkPackage(const AptPackage& p, const std::string& where) {
    if (!validName(p.name)) throw Error(where + ": invalid package name '" + p.name + "'", ExitStatus::kUsage);
    if (!validVersion(p.version))
        throw Error(where + ": invalid version '" + p.version + "' of " + p.name, ExitStatus::kUsage);
    if (!validArch(p.architecture))
        throw Error(where + ": invalid architecture '" + p.architecture + "' of " + p.name, ExitStatus::kUsage);
    if (!p.sha256.empty() && !validSha256(p.sha256))
        throw Error(where + ": invalid sha256 of " + p.name, ExitStatus::kUsage);
}

}  // namespace

AptSelection resolveAptPackages(const std::vector<std::string>& names, const std::vector<std::string>& keep) {
    AptSelection selection;
    selection.requested = names;
    std::sort(selection.requested.begin(), selection.requested.end());
    for (const auto& n : names)
        if (!validName(n)) throw Error("packages: invalid package name '" + n + "'", ExitStatus::kUsage);
    if (names.empty()) return selection;
    // An empty dpkg status makes apt resolve the whole closure, as for a fresh system.
    // apt leaves out packages its own archive cache already holds: point it at an empty one.
    std::string emptyCache = (std::filesystem::temp_directory_path() / "ingot-apt.XXXXXX").string();
    if (!mkdtemp(emptyCache.data())) throwSystemError("cannot create a temporary directory", errno);
    struct Cleanup {
        std::string dir;
        ~Cleanup() {
            std::error_code ignored;
            std::filesystem::remove_all(dir, ignored);
        }
    } cleanup{emptyCache};
    std::filesystem::create_directories(emptyCache + "/partial");
    ProcessSpec spec;
    spec.argv = {"apt-get", "install", "--print-uris", "-qq", "--no-install-recommends",
                 "-o", "Dir::State::status=/dev/null", "-o", "Debug::NoLocking=1",
                 "-o", "Dir::Cache::Archives=" + emptyCache,
                 "-o", "APT::Get::AllowUnauthenticated=false"};
    for (const auto& n : names) spec.argv.push_back(n);
    spec.environment = {{"LC_ALL", "C"}};
    std::string out = runProcessOrThrow(spec, "resolving packages through apt");
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.empty() || line[0] != '\'') continue;
        std::istringstream fields(line);
        std::string uri, filename, size;
        fields >> uri >> filename >> size;
        if (filename.size() < 5 || filename.substr(filename.size() - 4) != ".deb") continue;
        std::string stem = filename.substr(0, filename.size() - 4);
        auto first = stem.find('_');
        auto last = stem.rfind('_');
        if (first == std::string::npos || first == last)
            throw Error("apt printed an unexpected file name '" + filename + "'");
        AptPackage p;
        p.name = stem.substr(0, first);
        p.version = percentDecode(stem.substr(first + 1, last - first - 1));
        p.architecture = stem.substr(last + 1);
        p.size = std::stoull(size);
        checkPackage(p, "apt");
        bool kept = keep.empty() || std::any_of(keep.begin(), keep.end(), [&](const std::string& k) {
                        return p.name.rfind(k, 0) == 0;
                    });
        if (kept) selection.packages.push_back(p);
    }
    if (selection.packages.empty())
        throw Error("packages: apt resolved nothing for the requested names", ExitStatus::kUsage);
    std::sort(selection.packages.begin(), selection.packages.end(),
              [](const AptPackage& a, const AptPackage& b) { return a.name < b.name; });
    return selection;
}

std::string fetchAptPackage(AptPackage& package, const std::string& cacheDir) {
    checkPackage(package, "package");
    std::filesystem::create_directories(cacheDir);
    if (!package.sha256.empty()) {
        std::string cached = cacheDir + "/" + package.sha256 + ".deb";
        if (std::filesystem::exists(cached)) {
            // A cache entry is trusted only as far as its name: check it again, it is cheap.
            auto digest = sha256File(cached, "cached package");
            if (toHex(digest.sha256) == package.sha256) return cached;
            std::filesystem::remove(cached);
        }
    }
    std::string work = cacheDir + "/download.XXXXXX";
    if (!mkdtemp(work.data())) throwSystemError("cannot create a directory in " + cacheDir, errno);
    struct Cleanup {
        std::string dir;
        ~Cleanup() {
            std::error_code ignored;
            std::filesystem::remove_all(dir, ignored);
        }
    } cleanup{work};
    ProcessSpec spec;
    spec.argv = {"apt-get", "download", "-qq",
                 package.name + ":" + package.architecture + "=" + package.version};
    spec.directory = work;
    spec.environment = {{"LC_ALL", "C"}};
    runProcessOrThrow(spec, "downloading " + package.name + " " + package.version);
    std::string downloaded;
    for (const auto& e : std::filesystem::directory_iterator(work))
        if (e.path().extension() == ".deb") downloaded = e.path().string();
    if (downloaded.empty())
        throw Error("apt-get download of " + package.name + " produced no .deb");
    auto digest = sha256File(downloaded, "downloaded package");
    std::string hex = toHex(digest.sha256);
    if (!package.sha256.empty() && hex != package.sha256)
        throw Error("package " + package.name + " " + package.version + " has sha256 " + hex +
                        " but the lock pins " + package.sha256 +
                        "; the archive changed the file or the lock is wrong",
                    ExitStatus::kVerification);
    package.sha256 = hex;
    package.size = digest.size;
    std::string cached = cacheDir + "/" + hex + ".deb";
    std::filesystem::rename(downloaded, cached);
    return cached;
}

AptLock readAptLock(const std::string& path) {
    AptLock lock;
    if (!std::filesystem::exists(path)) return lock;
    auto bytes = readWholeFile(path, "lock file", 16 << 20);
    auto doc = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
    auto bad = [&](const std::string& what) { return Error(path + ": " + what, ExitStatus::kUsage); };
    if (doc.is_discarded() || !doc.is_object()) throw bad("not a JSON object");
    if (doc.value("format", 0) != 1) throw bad("unknown format (expected \"format\": 1)");
    if (!doc.contains("selections") || !doc["selections"].is_object()) throw bad("no \"selections\" object");
    for (const auto& [name, sel] : doc["selections"].items()) {
        std::string where = path + ": selections." + name;
        if (!sel.is_object() || !sel.contains("requested") || !sel["requested"].is_array() ||
            !sel.contains("packages") || !sel["packages"].is_array())
            throw Error(where + ": needs \"requested\" and \"packages\" arrays", ExitStatus::kUsage);
        AptSelection s;
        for (const auto& r : sel["requested"]) {
            if (!r.is_string() || !validName(r.get<std::string>()))
                throw Error(where + ".requested: invalid package name", ExitStatus::kUsage);
            s.requested.push_back(r.get<std::string>());
        }
        for (const auto& p : sel["packages"]) {
            if (!p.is_object()) throw Error(where + ".packages: entries must be objects", ExitStatus::kUsage);
            AptPackage pkg;
            try {
                pkg.name = p.at("name").get<std::string>();
                pkg.version = p.at("version").get<std::string>();
                pkg.architecture = p.at("architecture").get<std::string>();
                pkg.sha256 = p.at("sha256").get<std::string>();
                pkg.size = p.at("size").get<uint64_t>();
            } catch (const nlohmann::json::exception& e) {
                throw Error(where + ".packages: " + e.what(), ExitStatus::kUsage);
            }
            checkPackage(pkg, where);
            if (pkg.sha256.empty()) throw Error(where + ": " + pkg.name + " has no sha256", ExitStatus::kUsage);
            s.packages.push_back(pkg);
        }
        lock.selections[name] = s;
    }
    return lock;
}

void writeAptLock(const std::string& path, const AptLock& lock) {
    nlohmann::json doc;
    doc["format"] = 1;
    doc["selections"] = nlohmann::json::object();
    for (const auto& [name, sel] : lock.selections) {
        nlohmann::json packages = nlohmann::json::array();
        for (const auto& p : sel.packages)
            packages.push_back({{"name", p.name}, {"version", p.version}, {"architecture", p.architecture},
                                {"sha256", p.sha256}, {"size", p.size}});
        doc["selections"][name] = {{"requested", sel.requested}, {"packages", packages}};
    }
    writeFileAtomically(path, doc.dump(2) + "\n");
}

}  // namespace ingot::imagebuild
