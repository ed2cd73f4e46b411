// Deletes blobs that no manifest of any repository references, without stopping pushes.
//
// Mark: every manifest of every repository, and the blobs each one names (config, layers,
// index entries). Sweep: an unmarked blob is deleted only if its modification time is older
// than the start of the collection minus `graceSeconds`. Every push that makes a blob live
// (commit, cross-repository mount, a manifest naming it) sets the blob's modification time under
// Storage::blobLock, and the sweep re-checks the time under the same lock just before it unlinks,
// so a blob is never deleted between being found and being linked. The grace period (one hour by
// default) covers blobs pushed before their manifest and manifests being checked while the mark
// runs; it must exceed the longest manifest PUT. Uploads idle for longer than the grace period
// are removed too. docs/registry.md, "Garbage collection".
#pragma once

#include <cstdint>
#include <string>

#include "Storage.h"
#include "Uploads.h"

namespace ingot::registry {

struct CollectionReport {
    uint64_t blobsKept = 0;
    uint64_t blobsDeleted = 0;
    uint64_t bytesDeleted = 0;
    uint64_t uploadsRemoved = 0;
};

CollectionReport collectGarbage(Storage& storage, Uploads& uploads, int64_t graceSeconds);

}  // namespace ingot::registry
