// What the registry client parses from a registry (or a user) it does not trust: the first
// byte picks a parser — image reference, WWW-Authenticate challenge, freshness document — and
// the rest is its input. Each must either throw ingot::Error or return a value that holds its
// own invariants: a reference whose parts pass their grammars and print back to something that
// parses to the same reference; a timestamp document that serialises and parses back equal.
#include <cstddef>
#include <cstdint>
#include <string>

#include "AuthChallenge.h"
#include "FuzzCheck.h"
#include "Freshness.h"
#include "Reference.h"
#include "server/Grammar.h"
#include "ingot/core/Error.h"
#include "ingot/oci/Manifests.h"

using namespace ingot::registry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
    try {
        switch (data[0] % 3) {
            case 0: {
                Reference r = parseReference(text);
                FUZZ_CHECK(isValidRepositoryName(r.repository));
                FUZZ_CHECK(!r.tag.empty() || ingot::oci::isSha256Digest(r.digest));
                Reference again = parseReference(r.str());
                FUZZ_CHECK(again.registry == r.registry && again.repository == r.repository &&
                           again.tag == r.tag && again.digest == r.digest);
                break;
            }
            case 1: {
                AuthChallenge c = parseAuthChallenge(text);
                for (const auto& [key, value] : c.params) FUZZ_CHECK(!key.empty());
                break;
            }
            case 2: {
                TimestampDocument d = parseTimestamp(text, "fuzz");
                FUZZ_CHECK(parseTimestamp(serializeTimestamp(d), "fuzz") == d);
                break;
            }
        }
    } catch (const ingot::Error&) {
    }
    return 0;
}
