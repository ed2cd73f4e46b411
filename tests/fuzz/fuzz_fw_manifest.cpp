// The firmware's manifest reader on arbitrary bytes (in the firmware it only ever sees signed
// manifests, but a signing key can be stolen). Properties: an accepted manifest has a boot
// partition, at most kMaxPartitions entries and a NUL-terminated command line of the stated size;
// a refusal always says why.
#include <cstdint>
#include <cstring>
#include <memory>

#include "FuzzCheck.h"
#include "Manifest.h"

using namespace ingot::fw;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto manifest = std::make_unique<Manifest>();
    BootError error;
    if (read_manifest(ByteView(data, size), manifest.get(), &error)) {
        FUZZ_CHECK(manifest->find_role("boot") != nullptr);
        FUZZ_CHECK(manifest->partition_count <= Manifest::kMaxPartitions);
        FUZZ_CHECK(std::strlen(manifest->cmdline) == manifest->cmdline_size);
        FUZZ_CHECK(manifest->kernel.present);
    } else {
        FUZZ_CHECK(error.reason == Refusal::kBadManifest && error.message.size() > 0);
    }
    return 0;
}
