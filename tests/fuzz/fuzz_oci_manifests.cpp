// The OCI document parsers on arbitrary bytes. The first byte picks index.json, an image
// manifest or a signature manifest. Properties: a rejection is an ingot::Error and nothing else;
// an accepted image manifest has chunks in order, inside the disk, within the length limit, and
// only digests safe to use as blob file names; and every accepted document re-serialises to one
// that parses to the same model.
#include <cstdint>
#include <string>
#include <string_view>

#include "FuzzCheck.h"
#include "ingot/core/Error.h"
#include "ingot/oci/Manifests.h"

using namespace ingot::oci;

namespace {

void checkDescriptor(const Descriptor& d) {
    FUZZ_CHECK(isSha256Digest(d.digest));
    FUZZ_CHECK(d.digest.find('/') == std::string::npos);
}

void fuzzImage(std::string_view text) {
    ImageManifest m = parseImageManifest(text);
    checkDescriptor(m.config);
    FUZZ_CHECK(m.config.size <= kMaxConfigBytes);
    FUZZ_CHECK(m.diskSize <= kMaxDiskSize);
    uint64_t end = 0;
    for (const ImageChunk& c : m.chunks) {
        checkDescriptor(c.blob);
        FUZZ_CHECK(c.length > 0 && c.length <= kMaxChunkLength);
        FUZZ_CHECK(c.offset >= end);
        FUZZ_CHECK(c.offset + c.length <= m.diskSize);
        FUZZ_CHECK(c.sha256.size() == 64);
        end = c.offset + c.length;
    }
    std::string again = serializeImageManifest(m);
    FUZZ_CHECK(parseImageManifest(again) == m);
}

void fuzzIndex(std::string_view text) {
    Index index = parseIndex(text);
    for (const Descriptor& d : index.manifests) checkDescriptor(d);
    FUZZ_CHECK(parseIndex(serializeIndex(index)) == index);
}

void fuzzSignature(std::string_view text) {
    SignatureManifest s = parseSignatureManifest(text);
    checkDescriptor(s.subject);
    checkDescriptor(s.signature);
    FUZZ_CHECK(s.signature.size <= kMaxSignatureBytes);
    FUZZ_CHECK(parseSignatureManifest(serializeSignatureManifest(s)) == s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    try {
        switch (data[0] % 3) {
            case 0:
                fuzzIndex(text);
                break;
            case 1:
                fuzzImage(text);
                break;
            default:
                fuzzSignature(text);
                break;
        }
    } catch (const ingot::Error&) {
        // Refusal is the expected outcome for most inputs; anything else escaping is a bug.
    }
    return 0;
}
