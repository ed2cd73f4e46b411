// `ingot rollout`: one night of the security pipeline. For each gold image of the rollout
// file: what the channel names now, pending security updates (`ingot patch`; the recipe's
// build on the first night), a smoke boot of the candidate, the immutable version tag, then the
// channel tag; at the end every repository's freshness document is signed again, whatever
// happened, so clients tell a quiet night from a frozen registry.
//
// Every step is idempotent and the registry is the only truth about what is published, so a
// run killed anywhere and started again converges: the candidate of equal inputs is the same
// bytes (reproducible builds), blobs already pushed are skipped, a version tag naming the same
// digest is pushed again harmlessly, and the channel tag moves last, in one manifest PUT.
#pragma once

#include <functional>
#include <string>

#include "ingot/rollout/RolloutConfig.h"
#include "ingot/rollout/RolloutReport.h"

namespace ingot::rollout {

struct RolloutOptions {
    std::string ingot;  // the ingot executable that builds, patches and boots (its own path)
    std::function<void(const std::string&)> progress;
};

// Runs one night and writes its report (report.json, report.md) into a new directory under
// STATE/runs/. An image's failure is in the report, not thrown; what is thrown (kUsage) is a
// rollout that cannot start at all: keys that cannot be read, a state directory that cannot
// be made, another rollout holding the state directory's lock.
RunReport runRollout(const RolloutConfig& config, const RolloutOptions& options);

}  // namespace ingot::rollout
