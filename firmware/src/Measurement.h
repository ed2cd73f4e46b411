// The measurement log, PCR-style: m = SHA-256(m || SHA-256(item)) for each verified item, from
// 32 zero bytes (docs/image-format.md lists the items and their order).
#pragma once

#include <stdint.h>

#include "ingot/fw/Bytes.h"
#include "ingot/fw/Sha256.h"

namespace ingot::fw {

class Measurement {
public:
    static constexpr size_t kSize = Sha256::kDigestSize;

    Measurement() { fill_bytes(value_, 0, kSize); }
    void extend_digest(const uint8_t digest[kSize]) {
        Sha256 h;
        h.update(value_, kSize);
        h.update(digest, kSize);
        h.finish(value_);
    }
    void extend(ByteView item) {
        uint8_t digest[kSize];
        Sha256::hash(item.data, item.size, digest);
        extend_digest(digest);
    }
    const uint8_t* value() const { return value_; }

private:
    uint8_t value_[kSize];
};

}  // namespace ingot::fw
