// dm-verity superblocks and trees from arbitrary bytes (core/src/image/Verity.cpp). The first
// byte picks one of three runs:
//  0 the superblock reader: whatever it accepts must be canonical (written back byte for byte);
//  1 a hostile tree: parameters (sane or wild), a root hash and a hash area all from the input,
//    every data block checked; only ingot::Error may come out;
//  2 soundness: a tree built over input-derived data verifies, and one flipped byte of the data
//    or of the tree makes verification fail, naming the right block for data.
// Anything but an ingot::Error escaping is a crash that libFuzzer reports.
#include <cstdint>
#include <cstring>
#include <vector>

#include "FuzzCheck.h"
#include "ingot/core/Error.h"
#include "ingot/image/Verity.h"

namespace {

using namespace ingot;
using namespace ingot::image;

struct Input {
    const uint8_t* data;
    size_t size;
    size_t at = 0;
    uint8_t byte() { return at < size ? data[at++] : 0; }
    uint64_t word(size_t bytes) {
        uint64_t value = 0;
        for (size_t i = 0; i < bytes; ++i) value |= uint64_t{byte()} << (8 * i);
        return value;
    }
    std::vector<uint8_t> rest() {
        std::vector<uint8_t> out(data + std::min(at, size), data + size);
        at = size;
        return out;
    }
};

// Small trees, so that each run stays fast: at most 64 blocks of at most 4 KiB.
VerityParams saneParams(Input& in) {
    VerityParams p;
    uint8_t sizes = in.byte();
    p.dataBlockSize = 512u << (sizes % 4);
    p.hashBlockSize = 512u << ((sizes >> 2) % 4);
    p.dataBlocks = 1 + in.byte() % 64;
    p.salt.resize(in.byte() % 40);
    for (uint8_t& b : p.salt) b = in.byte();
    for (uint8_t& b : p.uuid) b = in.byte();
    return p;
}

void superblockRun(Input& in) {
    std::vector<uint8_t> bytes = in.rest();
    try {
        VerityParams params = parseVeritySuperblock(bytes.data(), bytes.size(), "fuzz");
        auto canonical = veritySuperblock(params);
        FUZZ_CHECK(bytes.size() >= canonical.size());
        FUZZ_CHECK(std::memcmp(canonical.data(), bytes.data(), canonical.size()) == 0);
        VerityLayout layout = verityLayout(params);
        FUZZ_CHECK(layout.areaBytes == layout.hashOffset + layout.treeBytes);
    } catch (const Error&) {
    }
}

void hostileRun(Input& in) {
    VerityParams params;
    uint8_t wild = in.byte();
    if (wild & 1) {
        params.dataBlockSize = static_cast<uint32_t>(in.word(4));
        params.hashBlockSize = static_cast<uint32_t>(in.word(4));
        params.dataBlocks = in.word(8);
        params.salt.resize(in.word(2) % 300);
        for (uint8_t& b : params.salt) b = in.byte();
    } else {
        params = saneParams(in);
    }
    Sha256Digest root{};
    for (uint8_t& b : root) b = in.byte();
    std::vector<uint8_t> area = in.rest();
    try {
        VerityVerifier verifier(params, root, area, "fuzz");
        // Past the size checks the parameters are sane; keep the work bounded anyway.
        std::vector<uint8_t> block(params.dataBlockSize, 0);
        uint64_t blocks = std::min<uint64_t>(params.dataBlocks, 64);
        for (uint64_t i = 0; i < blocks; ++i) {
            if (!area.empty()) block[i % block.size()] = area[i % area.size()];
            try {
                verifier.verifyBlock(i, block.data());
            } catch (const VerityError& e) {
                FUZZ_CHECK(e.kind() != VerityError::Kind::kDataBlock || e.block() == i);
            }
        }
    } catch (const Error&) {
    }
}

void soundnessRun(Input& in) {
    VerityParams params = saneParams(in);
    uint64_t flip = in.word(4);
    std::vector<uint8_t> seed = in.rest();
    if (seed.empty()) seed.push_back(0);
    std::vector<uint8_t> data(params.dataBlocks * params.dataBlockSize);
    for (size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<uint8_t>(seed[i % seed.size()] + i / seed.size());

    VerityLayout layout = verityLayout(params);
    std::vector<uint8_t> area(layout.areaBytes, 0);
    VerityTreeBuilder builder(params, [&](uint64_t offset, const uint8_t* bytes, size_t size) {
        FUZZ_CHECK(offset + size <= area.size());
        std::memcpy(area.data() + offset, bytes, size);
    });
    for (uint64_t i = 0; i < params.dataBlocks; ++i)
        builder.addBlock(data.data() + i * params.dataBlockSize);
    VerityTree tree = builder.finish();
    FUZZ_CHECK(parseVeritySuperblock(area.data(), area.size(), "built") == params);

    auto verifyAll = [&](const std::vector<uint8_t>& d, const std::vector<uint8_t>& a) {
        VerityVerifier verifier(params, tree.rootHash, a, "fuzz");
        for (uint64_t i = 0; i < params.dataBlocks; ++i)
            verifier.verifyBlock(i, d.data() + i * params.dataBlockSize);
    };
    verifyAll(data, area);  // must not throw

    uint64_t treeBytes = layout.treeBytes;
    uint64_t target = flip % (data.size() + treeBytes);
    uint8_t mask = static_cast<uint8_t>(1u << (flip >> 32) % 8);
    bool caught = false;
    if (target < data.size()) {
        std::vector<uint8_t> bad = data;
        bad[target] ^= mask;
        try {
            verifyAll(bad, area);
        } catch (const VerityError& e) {
            caught = true;
            FUZZ_CHECK(e.kind() == VerityError::Kind::kDataBlock);
            FUZZ_CHECK(e.block() == target / params.dataBlockSize);
        }
    } else {
        std::vector<uint8_t> bad = area;
        bad[layout.hashOffset + (target - data.size())] ^= mask;
        try {
            verifyAll(data, bad);
        } catch (const VerityError& e) {
            caught = true;
            FUZZ_CHECK(e.kind() == VerityError::Kind::kHashBlock);
        }
    }
    FUZZ_CHECK(caught);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    Input in{data + 1, size - 1};
    switch (data[0] % 3) {
        case 0:
            superblockRun(in);
            break;
        case 1:
            hostileRun(in);
            break;
        default:
            soundnessRun(in);
            break;
    }
    return 0;
}
