// `ingot build`: recipe → base tree → operations → kernel, initrd, ext4 root → signed disk with
// its verity tree → OCI layout. Every expensive step is found again in the step cache when its
// inputs did not change, and the output directory appears only when the whole build succeeded.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ingot/image/DiskImage.h"
#include "ingot/imagebuild/Recipe.h"
#include "ingot/sign/Minisign.h"

namespace ingot::imagebuild {

struct BuildOptions {
    std::string outputDir;  // replaced whole on success, untouched on failure
    sign::MinisignSecretKey key;
    std::string cacheDir;       // step cache and downloaded packages; "" disables caching
    int64_t sourceDateEpoch = 0;
    bool updateLock = false;  // re-resolve packages even when the lock file pins them
    bool frozenLock = false;  // refuse to write the lock file (CI: the lock must be complete)
    std::string tag;          // the OCI tag; default the recipe's version
    // Minisign public key files (.pub). An `image:` base must be signed by one of them; with none,
    // an image base is refused (the recipe names no key: trust is the builder's user's call).
    std::vector<std::string> trustedKeys;
    // The monitor a recipe's `security:` step boots its configure microVM with.
    std::string vmmPath;
    bool offline = false;  // the security step reads only the archive cache
    // One line per step ("base: cached", "ext4: 412 MiB in 3.1 s"), for a terminal.
    std::function<void(const std::string&)> progress;
};

struct BuildStep {
    std::string name;  // "base", "operations", "kernel", "initrd", "root", "disk", "oci"
    bool cached = false;
    double seconds = 0;
};

struct BuildResult {
    std::string diskPath;      // OUTPUT/disk.img
    std::string layoutPath;    // OUTPUT/oci
    std::string manifestDigest;  // of the OCI image manifest, "sha256:…"
    image::DiskImage image;
    std::vector<BuildStep> steps;
    // What a `security:` step did (the provenance entry); null without one.
    nlohmann::json security;
};

BuildResult buildImage(const Recipe& recipe, const BuildOptions& options);

// The default cache: $XDG_CACHE_HOME/ingot, else ~/.cache/ingot.
std::string defaultCacheDir();

}  // namespace ingot::imagebuild
