// Debian packages as build inputs, resolved and fetched through the host's apt configuration
// (apt-get is the field's tool for that; we never talk to an archive ourselves), and pinned by a
// lock file next to the recipe so that a rebuild uses the very same .debs.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ingot::imagebuild {

struct AptPackage {
    std::string name;
    std::string version;       // with epoch, as dpkg writes it: "1:1.35.0-4+b3"
    std::string architecture;  // "amd64", "all"
    std::string sha256;        // of the .deb; known once fetched (or read from a lock)
    uint64_t size = 0;
    bool operator==(const AptPackage&) const = default;
};

// A set of packages resolved for one purpose ("base", "kernel"): what the recipe asked for and
// what that resolved to, dependencies included, in name order.
struct AptSelection {
    std::vector<std::string> requested;
    std::vector<AptPackage> packages;
    bool operator==(const AptSelection&) const = default;
};

// Resolves `names` and their dependency closure as apt would install them on an empty system
// (no recommends). `keep`, when not empty, filters the closure to packages whose name starts with
// one of these prefixes: a kernel wants linux-image-*, not the initramfs tooling it depends on.
// sha256 is left empty until fetched.
AptSelection resolveAptPackages(const std::vector<std::string>& names,
                                const std::vector<std::string>& keep = {});

// The path of a verified copy of the package in `cacheDir` (<sha256>.deb), downloading it with
// `apt-get download NAME:ARCH=VERSION` if needed. A package without sha256 gets it filled in.
std::string fetchAptPackage(AptPackage& package, const std::string& cacheDir);

// The lock file: {"format": 1, "selections": {"base": {...}, "kernel": {...}}}, written
// deterministically. Unknown or malformed content is an ingot::Error naming the file.
struct AptLock {
    std::map<std::string, AptSelection> selections;
};
AptLock readAptLock(const std::string& path);  // an absent file is an empty lock
void writeAptLock(const std::string& path, const AptLock& lock);

}  // namespace ingot::imagebuild
