// The split-virtqueue walker against everything a guest can write: well-formed chains (direct,
// indirect, mixed), buffers outside RAM, loops, chains longer than the queue, bad indirect
// tables, buffers in the wrong order, ring indices that cannot be trusted, and the used ring and
// notification suppression the device writes back.
#include "devices/virtio/VirtQueue.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "VirtioTestSupport.h"
#include "devices/virtio/VirtioSpec.h"

namespace ingot::vmm::virtio {
namespace {

using test::TestBuffer;
using test::TestRing;

constexpr uint64_t kAllFeatures = kFeatureVersion1 | kFeatureIndirectDesc;

class VirtQueueTest : public ::testing::Test {
protected:
    VirtQueueTest() {
        log.setSink([this](const std::string& line) { lines.push_back(line); });
    }
    VirtQueue makeQueue(uint64_t features = kAllFeatures) {
        return VirtQueue(memory, ring.layout(), features, 0, log);
    }
    // Pops everything available; returns the chains' heads.
    std::vector<uint16_t> drain(VirtQueue& q) {
        std::vector<uint16_t> heads;
        while (q.pop(chain)) heads.push_back(chain.head());
        return heads;
    }
    bool logged(const std::string& text) const {
        for (const auto& l : lines)
            if (l.find(text) != std::string::npos) return true;
        return false;
    }

    GuestMemory memory{16ull << 20};
    TestRing ring{memory, 16};
    RateLimitedLog log{"test-device", std::chrono::nanoseconds(0)};
    std::vector<std::string> lines;
    DescriptorChain chain;
};

TEST_F(VirtQueueTest, EmptyQueuePopsNothing) {
    auto q = makeQueue();
    EXPECT_FALSE(q.pop(chain));
    EXPECT_FALSE(q.broken());
    EXPECT_FALSE(q.needsNotification());
}

TEST_F(VirtQueueTest, DirectChainSplitsIntoReadableAndWritable) {
    auto q = makeQueue();
    uint16_t head =
        ring.addChain({{0x100000, 16, false}, {0x101000, 4096, true}, {0x102000, 1, true}});
    ring.publish(head);
    ASSERT_TRUE(q.pop(chain));
    EXPECT_EQ(chain.head(), head);
    ASSERT_EQ(chain.readable().size(), 1u);
    ASSERT_EQ(chain.writable().size(), 2u);
    EXPECT_EQ(chain.readableBytes(), 16u);
    EXPECT_EQ(chain.writableBytes(), 4097u);
    EXPECT_EQ(chain.readable()[0].gpa, 0x100000u);
    EXPECT_EQ(chain.readable()[0].bytes.data(), memory.slice(0x100000, 16).data());
    EXPECT_FALSE(q.pop(chain));
    EXPECT_TRUE(lines.empty());
}

TEST_F(VirtQueueTest, ReadAndWriteSpanBuffers) {
    auto q = makeQueue();
    memory.write(0x100000, std::vector<uint8_t>{1, 2, 3});
    memory.write(0x100100, std::vector<uint8_t>{4, 5});
    ring.publish(ring.addChain(
        {{0x100000, 3, false}, {0x100100, 2, false}, {0x200000, 2, true}, {0x200100, 3, true}}));
    ASSERT_TRUE(q.pop(chain));
    uint8_t got[4];
    ASSERT_TRUE(chain.read(1, got));
    EXPECT_EQ(std::vector<uint8_t>(got, got + 4), (std::vector<uint8_t>{2, 3, 4, 5}));
    EXPECT_FALSE(chain.read(2, got));  // would run past the readable bytes
    uint8_t put[3] = {9, 8, 7};
    ASSERT_TRUE(chain.write(1, put));
    EXPECT_EQ(memory.readObject<uint8_t>(0x200001), 9);
    EXPECT_EQ(memory.readObject<uint8_t>(0x200100), 8);
    EXPECT_EQ(memory.readObject<uint8_t>(0x200101), 7);
    EXPECT_FALSE(chain.write(3, put));
    std::vector<iovec> iov;
    ASSERT_TRUE(chain.writableIovecs(1, 3, iov));
    ASSERT_EQ(iov.size(), 2u);
    EXPECT_EQ(iov[0].iov_len, 1u);
    EXPECT_EQ(iov[1].iov_len, 2u);
    iov.clear();
    EXPECT_FALSE(chain.readableIovecs(0, 6, iov));
}

TEST_F(VirtQueueTest, UsedRingGetsIdLengthAndIndex) {
    auto q = makeQueue();
    uint16_t a = ring.addChain({{0x100000, 16, false}, {0x101000, 1, true}});
    uint16_t b = ring.addChain({{0x100000, 16, false}, {0x101000, 1, true}});
    ring.publish(a);
    ring.publish(b);
    EXPECT_EQ(drain(q), (std::vector<uint16_t>{a, b}));
    q.pushUsed(b, 7);
    q.pushUsed(a, 513);
    EXPECT_EQ(ring.usedIdx(), 2);
    EXPECT_EQ(ring.used(0).id, b);
    EXPECT_EQ(ring.used(0).len, 7u);
    EXPECT_EQ(ring.used(1).id, a);
    EXPECT_EQ(ring.used(1).len, 513u);
}

TEST_F(VirtQueueTest, IndicesWrapAroundTheRing) {
    // Both free-running 16-bit indices wrap past 65535; the ring slots wrap every 16.
    auto q = makeQueue();
    uint16_t head = ring.addChain({{0x100000, 16, false}});
    for (int i = 0; i < 65536 + 20; ++i) {
        ring.publish(head);
        ASSERT_TRUE(q.pop(chain)) << i;
        q.pushUsed(chain.head(), 1);
        ASSERT_FALSE(q.pop(chain));
    }
    EXPECT_FALSE(q.broken());
    EXPECT_EQ(ring.usedIdx(), 20);
}

TEST_F(VirtQueueTest, BufferOutsideGuestRamIsReturnedUnused) {
    auto q = makeQueue();
    uint64_t end = memory.size();
    for (auto [gpa, len] : {std::pair<uint64_t, uint32_t>{end, 1},
                            {end - 1, 2},
                            {~0ull - 3, 16},
                            {GuestMemory::kMmioHoleStart, 4}}) {
        uint16_t bad = ring.addChain({{0x100000, 16, false}, {gpa, len, true}});
        ring.publish(bad);
        EXPECT_FALSE(q.pop(chain)) << std::hex << gpa;
        EXPECT_EQ(ring.used(static_cast<uint16_t>(ring.usedIdx() - 1)).id, bad);
        EXPECT_EQ(ring.used(static_cast<uint16_t>(ring.usedIdx() - 1)).len, 0u);
    }
    EXPECT_EQ(ring.usedIdx(), 4);
    EXPECT_EQ(q.malformedChains(), 4u);
    EXPECT_FALSE(q.broken());
    EXPECT_TRUE(logged("lies outside guest RAM")) << lines.front();
    // The queue keeps working.
    uint16_t good = ring.addChain({{0x100000, 16, false}});
    ring.publish(good);
    ASSERT_TRUE(q.pop(chain));
    EXPECT_EQ(chain.head(), good);
}

TEST_F(VirtQueueTest, EmptyBufferIsMalformed) {
    auto q = makeQueue();
    ring.publish(ring.addChain({{0x100000, 16, false}, {0x101000, 0, true}}));
    EXPECT_FALSE(q.pop(chain));
    EXPECT_TRUE(logged("empty buffer"));
}

TEST_F(VirtQueueTest, LoopsAreDetected) {
    auto q = makeQueue();
    // 0 -> 1 -> 0 -> ...
    ring.setDesc(0, 0x100000, 16, kDescNext, 1);
    ring.setDesc(1, 0x100000, 16, kDescNext, 0);
    ring.publish(0);
    // A descriptor that names itself.
    ring.setDesc(2, 0x100000, 16, kDescNext, 2);
    ring.publish(2);
    EXPECT_FALSE(q.pop(chain));
    EXPECT_EQ(q.malformedChains(), 2u);
    EXPECT_EQ(ring.usedIdx(), 2);
    EXPECT_TRUE(logged("loops"));
}

TEST_F(VirtQueueTest, NextIndexOutsideTheTableIsMalformed) {
    auto q = makeQueue();
    ring.setDesc(0, 0x100000, 16, kDescNext, 16);
    ring.publish(0);
    EXPECT_FALSE(q.pop(chain));
    EXPECT_TRUE(logged("outside the table of 16"));
}

TEST_F(VirtQueueTest, ChainOfTheWholeTableIsAcceptedAndOneMoreIsNot) {
    auto q = makeQueue();
    std::vector<TestBuffer> all(16, {0x100000, 8, false});
    uint16_t head = ring.addChain(all);
    ring.publish(head);
    ASSERT_TRUE(q.pop(chain));
    EXPECT_EQ(chain.readable().size(), 16u);
    q.pushUsed(head, 0);
    // Direct chain of 15 plus an indirect table of 2: 17 buffers in a queue of 16.
    for (uint16_t i = 0; i < 15; ++i)
        ring.setDesc(i, 0x100000, 8, kDescNext, static_cast<uint16_t>(i + 1));
    ring.setDesc(15, 0x180000, 32, kDescIndirect, 0);
    ring.setDesc(0x180000, 0, 0x100000, 8, kDescNext, 1);
    ring.setDesc(0x180000, 1, 0x100000, 8, 0, 0);
    ring.publish(0);
    EXPECT_FALSE(q.pop(chain));
    EXPECT_TRUE(logged("more than 16 buffers"));
}

TEST_F(VirtQueueTest, IndirectTableIsWalked) {
    auto q = makeQueue();
    uint16_t head = ring.addIndirectChain(
        0x180000, {{0x100000, 16, false}, {0x101000, 512, true}, {0x102000, 1, true}});
    ring.publish(head);
    ASSERT_TRUE(q.pop(chain));
    EXPECT_EQ(chain.head(), head);
    EXPECT_EQ(chain.readableBytes(), 16u);
    EXPECT_EQ(chain.writableBytes(), 513u);
    EXPECT_TRUE(lines.empty());
}

TEST_F(VirtQueueTest, DirectDescriptorsThenAnIndirectTableAreOneChain) {
    // "zero or more normal chained descriptors followed by a single descriptor with INDIRECT"
    // (2.7.5.3.2) is valid.
    auto q = makeQueue();
    ring.setDesc(0, 0x100000, 16, kDescNext, 1);
    ring.setDesc(1, 0x180000, 32, kDescIndirect, 0);
    ring.setDesc(0x180000, 0, 0x101000, 512, kDescWrite | kDescNext, 1);
    ring.setDesc(0x180000, 1, 0x102000, 1, kDescWrite, 0);
    ring.publish(0);
    ASSERT_TRUE(q.pop(chain));
    EXPECT_EQ(chain.readableBytes(), 16u);
    EXPECT_EQ(chain.writableBytes(), 513u);
}

TEST_F(VirtQueueTest, BadIndirectTablesAreMalformed) {
    struct Case {
        const char* what;
        uint64_t addr;
        uint32_t len;
        uint16_t flags;
        const char* message;
    };
    for (const Case& c : {
             Case{"length not whole descriptors", 0x180000, 24, kDescIndirect, "whole descriptors"},
             Case{"zero length", 0x180000, 0, kDescIndirect, "whole descriptors"},
             Case{"longer than the queue", 0x180000, 16 * 17, kDescIndirect, "whole descriptors"},
             Case{"outside RAM", (16ull << 20) - 16, 32, kDescIndirect, "outside guest RAM"},
             Case{"with NEXT", 0x180000, 32, kDescIndirect | kDescNext, "NEXT"},
         }) {
        SCOPED_TRACE(c.what);
        lines.clear();
        GuestMemory fresh(16ull << 20);
        TestRing r(fresh, 16);
        RateLimitedLog l("t", std::chrono::nanoseconds(0));
        l.setSink([this](const std::string& line) { lines.push_back(line); });
        VirtQueue q(fresh, r.layout(), kAllFeatures, 0, l);
        r.setDesc(0x180000, 0, 0x100000, 8, kDescNext, 1);
        r.setDesc(0x180000, 1, 0x100000, 8, 0, 0);
        r.setDesc(0, c.addr, c.len, c.flags, 1);
        r.setDesc(1, 0x100000, 8, 0, 0);
        r.publish(0);
        EXPECT_FALSE(q.pop(chain));
        EXPECT_EQ(q.malformedChains(), 1u);
        EXPECT_EQ(r.usedIdx(), 1);
        EXPECT_TRUE(logged(c.message)) << (lines.empty() ? "" : lines.front());
    }
}

TEST_F(VirtQueueTest, NestedIndirectTableIsMalformed) {
    auto q = makeQueue();
    ring.setDesc(0x180000, 0, 0x190000, 16, kDescIndirect, 0);
    ring.setDesc(0x190000, 0, 0x100000, 8, 0, 0);
    ring.setDesc(0, 0x180000, 16, kDescIndirect, 0);
    ring.publish(0);
    EXPECT_FALSE(q.pop(chain));
    EXPECT_TRUE(logged("inside an indirect table"));
}

TEST_F(VirtQueueTest, LoopInsideIndirectTableIsDetected) {
    auto q = makeQueue();
    ring.setDesc(0x180000, 0, 0x100000, 8, kDescNext, 1);
    ring.setDesc(0x180000, 1, 0x100000, 8, kDescNext, 0);
    ring.setDesc(0, 0x180000, 32, kDescIndirect, 0);
    ring.publish(0);
    EXPECT_FALSE(q.pop(chain));
    EXPECT_TRUE(logged("loops"));
}

TEST_F(VirtQueueTest, IndirectWithoutTheFeatureIsMalformed) {
    auto q = makeQueue(kFeatureVersion1);
    ring.publish(ring.addIndirectChain(0x180000, {{0x100000, 16, false}}));
    EXPECT_FALSE(q.pop(chain));
    EXPECT_TRUE(logged("VIRTIO_F_INDIRECT_DESC was not negotiated"));
}

TEST_F(VirtQueueTest, ReadableAfterWritableIsMalformed) {
    auto q = makeQueue();
    ring.publish(ring.addChain({{0x100000, 1, true}, {0x101000, 16, false}}));
    EXPECT_FALSE(q.pop(chain));
    EXPECT_TRUE(logged("device-readable buffer after a device-writable one"));
}

TEST_F(VirtQueueTest, HeadOutsideTheTableBreaksTheQueue) {
    auto q = makeQueue();
    ring.publish(16);
    EXPECT_FALSE(q.pop(chain));
    EXPECT_TRUE(q.broken());
    EXPECT_EQ(ring.usedIdx(), 0);  // nothing is returned under an id the driver never used
    // A broken queue stays stopped, whatever the driver adds.
    ring.publish(ring.addChain({{0x100000, 16, false}}));
    EXPECT_FALSE(q.pop(chain));
    EXPECT_TRUE(logged("outside the table"));
}

TEST_F(VirtQueueTest, AvailableIndexJumpingPastTheQueueSizeBreaksTheQueue) {
    auto q = makeQueue();
    ring.setAvailIdx(17);
    EXPECT_FALSE(q.pop(chain));
    EXPECT_TRUE(q.broken());
    EXPECT_TRUE(logged("more than the 16 the queue holds"));
}

TEST_F(VirtQueueTest, NoInterruptFlagSuppressesNotifications) {
    auto q = makeQueue();
    ring.publish(ring.addChain({{0x100000, 16, false}}));
    ASSERT_TRUE(q.pop(chain));
    q.pushUsed(chain.head(), 0);
    ring.setAvailFlags(kAvailNoInterrupt);
    EXPECT_FALSE(q.needsNotification());
    ring.publish(ring.addChain({{0x100000, 16, false}}));
    ASSERT_TRUE(q.pop(chain));
    q.pushUsed(chain.head(), 0);
    ring.setAvailFlags(0);
    EXPECT_TRUE(q.needsNotification());
    EXPECT_FALSE(q.needsNotification());  // nothing new since
}

TEST_F(VirtQueueTest, EventIdxNotifiesWhenUsedIndexPassesUsedEvent) {
    auto q = makeQueue(kAllFeatures | kFeatureEventIdx);
    for (int i = 0; i < 3; ++i) ring.publish(ring.addChain({{0x100000, 16, false}}));
    // The driver wants to hear once entry 1 is used (used idx reaches 2).
    ring.setUsedEvent(1);
    ASSERT_TRUE(q.pop(chain));
    q.pushUsed(chain.head(), 0);
    EXPECT_FALSE(q.needsNotification());  // used idx 1
    ASSERT_TRUE(q.pop(chain));
    q.pushUsed(chain.head(), 0);
    EXPECT_TRUE(q.needsNotification());  // used idx 2 steps over used_event 1
    ASSERT_TRUE(q.pop(chain));
    q.pushUsed(chain.head(), 0);
    EXPECT_FALSE(q.needsNotification());
    // Finding the ring empty, the device asks to be notified at the next entry.
    EXPECT_FALSE(q.pop(chain));
    EXPECT_EQ(ring.availEvent(), 3);
}

TEST_F(VirtQueueTest, LayoutChecks) {
    auto check = [&](virtio::QueueLayout l) { return VirtQueue::checkLayout(memory, l, 256); };
    EXPECT_EQ(check({256, 0x10000, 0x20000, 0x30000}), "");
    EXPECT_NE(check({0, 0x10000, 0x20000, 0x30000}).find("power of two"), std::string::npos);
    EXPECT_NE(check({12, 0x10000, 0x20000, 0x30000}).find("power of two"), std::string::npos);
    EXPECT_NE(check({512, 0x10000, 0x20000, 0x30000}).find("power of two"), std::string::npos);
    EXPECT_NE(check({16, 0x10008, 0x20000, 0x30000}).find("16-byte aligned"), std::string::npos);
    EXPECT_NE(check({16, 0x10000, 0x20001, 0x30000}).find("2-byte aligned"), std::string::npos);
    EXPECT_NE(check({16, 0x10000, 0x20000, 0x30002}).find("4-byte aligned"), std::string::npos);
    EXPECT_NE(check({16, (16ull << 20) - 128, 0x20000, 0x30000}).find("outside guest RAM"),
              std::string::npos);
    EXPECT_NE(check({16, 0x10000, 0x20000, 0xfee00000}).find("used ring"), std::string::npos);
}

TEST(RateLimitedLog, PrintsTheFirstAndCountsWhatItLeavesOut) {
    std::vector<std::string> lines;
    RateLimitedLog log("dev", std::chrono::hours(1));
    log.setSink([&](const std::string& l) { lines.push_back(l); });
    log.report("first");
    log.report("second");
    log.report("third");
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0], "ingot-vmm: dev: first\n");
    EXPECT_EQ(log.total(), 3u);

    RateLimitedLog every("dev", std::chrono::nanoseconds(0));
    lines.clear();
    every.setSink([&](const std::string& l) { lines.push_back(l); });
    every.report("a");
    every.report("b");
    EXPECT_EQ(lines.size(), 2u);
}

}  // namespace
}  // namespace ingot::vmm::virtio
