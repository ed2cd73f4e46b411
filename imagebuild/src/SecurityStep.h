// A recipe's `security:` section as a build step: the pending Debian security updates for the
// tree's installed packages (patcher/plan), unpacked on the host and configured in a build
// microVM (patcher/apply). Runs after the operations and after the kernel and initrd are
// ready, since the microVM boots them.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "ingot/imagebuild/Recipe.h"
#include "ingot/imagebuild/Tree.h"

namespace ingot::imagebuild {

struct SecurityStepInput {
    SecuritySection section;  // paths already resolved against the recipe's directory
    std::string archiveCache;
    bool offline = false;
    std::string vmmPath;
    std::string kernelPath;
    std::string initrdPath;  // "" when the image has none
    std::string workDirectory;
    std::string imageName;
    int64_t sourceDateEpoch = 0;
    uint64_t memoryBytes = 1ull << 30;
    std::function<void(const std::string&)> progress;
};

// What the security suites say right now, as a digest for the step cache: the same digest and
// the same tree give the same updates.
std::string securityStepKey(const SecurityStepInput& input);

// Applies the updates to `tree`. Returns the provenance entry: the suites, every updated and
// new package with its versions and CVEs, conffile outcomes, triggers and the scripts not run;
// {"updates": []} when there was nothing to apply (nothing timed: it is signed). Throws
// ingot::Error for unresolvable dependencies, verification failures and a failed configure.
nlohmann::json applySecurityUpdates(Tree& tree, const SecurityStepInput& input);

}  // namespace ingot::imagebuild
