// fuzz_virtio_blk's committed seeds must be requests the device completes, or fuzzing starts
// from inputs the queue walker rejects and never reaches the request handling.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "VirtioBlkHarness.h"

namespace ingot::vmm::fuzz {
namespace {

const std::filesystem::path kCorpus = INGOT_VIRTIO_BLK_CORPUS_DIR;

TEST(VirtioSeedCorpus, EverySeedCompletesItsRequests) {
    VirtioBlkHarness harness;
    int seeds = 0;
    for (const auto& entry : std::filesystem::directory_iterator(kCorpus)) {
        std::ifstream f(entry.path(), std::ios::binary);
        std::vector<uint8_t> input{std::istreambuf_iterator<char>(f), {}};
        SCOPED_TRACE(entry.path().filename().string());
        auto r = harness.run(input.data(), input.size());
        EXPECT_GT(r.available, 0);
        EXPECT_EQ(r.used, r.available);
        EXPECT_FALSE(r.broken);
        EXPECT_EQ(r.malformedChains, 0u);
        // The one seed that writes to a read-only disk fails on purpose.
        EXPECT_EQ(r.failedRequests, entry.path().filename() == "readonly-write" ? 1u : 0u);
        ++seeds;
    }
    EXPECT_GE(seeds, 6);
}

}  // namespace
}  // namespace ingot::vmm::fuzz
