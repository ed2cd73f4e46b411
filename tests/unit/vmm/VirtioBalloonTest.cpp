// virtio-balloon through the virtio-mmio transport, driven as Linux's virtio_balloon driver
// drives it: feature negotiation, num_pages and actual in the configuration space, PFN arrays on
// the inflate and deflate queues, the stats buffer the driver leaves with the device. Checks
// that inflated memory really goes back to the host (zeroes, mincore, RSS, huge pages split),
// that hostile PFNs and buffers change nothing, and the configuration-change interrupt.
#include "devices/virtio/VirtioBalloon.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <memory>
#include <numeric>
#include <random>
#include <sstream>
#include <thread>

#include "VirtioTestSupport.h"
#include "devices/virtio/VirtioMmioTransport.h"
#include "devices/virtio/VirtioSpec.h"
#include "devices/virtio/VirtioWorker.h"

namespace ingot::vmm::virtio {
namespace {

using test::TestBuffer;
using test::TestRing;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kPage = 4096;

class CountingInterrupt : public EdgeInterrupt {
public:
    void trigger() override {
        std::lock_guard lock(mutex);
        ++count;
        changed.notify_all();
    }
    bool waitFor(int n) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, std::chrono::seconds(10), [&] { return count >= n; });
    }
    int seen() {
        std::lock_guard lock(mutex);
        return count;
    }
    std::mutex mutex;
    std::condition_variable changed;
    int count = 0;
};

// Pages of [p, p + len) the host backs now.
uint64_t residentPages(const uint8_t* p, uint64_t len) {
    std::vector<unsigned char> vec(len / kPage);
    if (::mincore(const_cast<uint8_t*>(p), len, vec.data()) != 0) return ~0ull;
    return static_cast<uint64_t>(std::count_if(vec.begin(), vec.end(), [](unsigned char c) { return c & 1; }));
}

uint64_t rssBytes() {
    std::ifstream statm("/proc/self/statm");
    uint64_t size = 0, resident = 0;
    statm >> size >> resident;
    return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

// The AnonHugePages of the mapping holding `p`, in KiB.
uint64_t anonHugeKiB(const void* p) {
    std::ifstream smaps("/proc/self/smaps");
    const auto addr = reinterpret_cast<uintptr_t>(p);
    std::string line;
    bool inside = false;
    while (std::getline(smaps, line)) {
        unsigned long long start, end;
        char dash;
        std::istringstream head(line);
        if (head >> std::hex >> start >> dash >> end && dash == '-' &&
            line.find(':') > line.find(' ')) {
            inside = addr >= start && addr < end;
            continue;
        }
        if (inside && line.rfind("AnonHugePages:", 0) == 0)
            return std::stoull(line.substr(line.find_first_of("0123456789")));
    }
    return 0;
}

uint64_t vmstat(const std::string& name) {
    std::ifstream in("/proc/vmstat");
    std::string key;
    uint64_t value;
    while (in >> key >> value)
        if (key == name) return value;
    return 0;
}

void fill(GuestMemory& memory, uint64_t gpa, uint64_t len, uint8_t byte) {
    auto s = memory.slice(gpa, len);
    std::fill(s.begin(), s.end(), byte);
}

bool allBytes(GuestMemory& memory, uint64_t gpa, uint64_t len, uint8_t byte) {
    auto s = memory.slice(gpa, len);
    return std::all_of(s.begin(), s.end(), [byte](uint8_t b) { return b == byte; });
}

// --- GuestMemory::discard, which the balloon's inflate comes down to ---

TEST(GuestMemoryDiscard, ZeroesThePagesAndNothingAround) {
    GuestMemory memory(16 * kMiB);
    fill(memory, 0x400000, 4 * kPage, 0x5a);
    ASSERT_TRUE(memory.discard(0x401000, 2 * kPage));
    // Before reading: a read maps the shared zero page, which mincore counts.
    EXPECT_EQ(residentPages(memory.slice(0x400000, 4 * kPage).data(), 4 * kPage), 2u);
    EXPECT_TRUE(allBytes(memory, 0x400000, kPage, 0x5a));
    EXPECT_TRUE(allBytes(memory, 0x401000, 2 * kPage, 0));
    EXPECT_TRUE(allBytes(memory, 0x403000, kPage, 0x5a));
}

TEST(GuestMemoryDiscard, RefusesWhatIsNotWholePagesOfOneRegion) {
    GuestMemory memory(GuestMemory::kMmioHoleStart + 16 * kMiB);
    const uint64_t lowEnd = GuestMemory::kMmioHoleStart;
    fill(memory, lowEnd - kPage, kPage, 0x11);
    fill(memory, GuestMemory::kHighRamStart, kPage, 0x22);
    EXPECT_FALSE(memory.discard(lowEnd - kPage, 2 * kPage));  // into the hole
    EXPECT_FALSE(memory.discard(lowEnd, kPage));                // the hole
    EXPECT_FALSE(memory.discard(lowEnd - kPage, GuestMemory::kHighRamStart - lowEnd + 2 * kPage));
    EXPECT_FALSE(memory.discard(GuestMemory::kHighRamStart + 16 * kMiB, kPage));  // past the end
    EXPECT_FALSE(memory.discard(GuestMemory::kHighRamStart + 1, kPage));          // unaligned
    EXPECT_FALSE(memory.discard(GuestMemory::kHighRamStart, 100));                // part page
    EXPECT_FALSE(memory.discard(GuestMemory::kHighRamStart, 0));
    EXPECT_FALSE(memory.discard(~0ull & ~(kPage - 1), kPage));                    // wraps
    EXPECT_TRUE(allBytes(memory, lowEnd - kPage, kPage, 0x11));
    EXPECT_TRUE(allBytes(memory, GuestMemory::kHighRamStart, kPage, 0x22));
    EXPECT_TRUE(memory.discard(GuestMemory::kHighRamStart, kPage));
    EXPECT_TRUE(allBytes(memory, GuestMemory::kHighRamStart, kPage, 0));
}

// A 4 KiB discard inside a transparent huge page: the page reads as zeroes, its neighbours keep
// their data, and the huge page is split (not just unmapped: a deferred split keeps all of it
// allocated until the host is short of memory).
TEST(GuestMemoryDiscard, SplitsAPartlyDiscardedHugePage) {
    GuestMemory memory(64 * kMiB);
    const uint64_t block = 32 * kMiB;
    fill(memory, block, 2 * kMiB, 0x77);
    const uint8_t* host = memory.slice(block, 2 * kMiB).data();
    if (anonHugeKiB(host) < 2048) GTEST_SKIP() << "guest RAM got no transparent huge page here";
    const uint64_t splitsBefore = vmstat("thp_split_page");
    ASSERT_TRUE(memory.discard(block + 5 * kPage, kPage));
    EXPECT_GT(vmstat("thp_split_page"), splitsBefore);
    EXPECT_EQ(residentPages(host, 2 * kMiB), 511u);
    EXPECT_TRUE(allBytes(memory, block + 5 * kPage, kPage, 0));
    EXPECT_TRUE(allBytes(memory, block + 4 * kPage, kPage, 0x77));
    EXPECT_TRUE(allBytes(memory, block + 6 * kPage, kPage, 0x77));
}

TEST(GuestMemoryDiscard, SplitsBothHugePagesARangeEndsIn) {
    GuestMemory memory(64 * kMiB);
    const uint64_t boundary = 34 * kMiB;
    fill(memory, boundary - 2 * kMiB, 4 * kMiB, 0x78);
    const uint8_t* host = memory.slice(boundary - 2 * kMiB, 4 * kMiB).data();
    if (anonHugeKiB(host) < 4096) GTEST_SKIP() << "guest RAM got no transparent huge pages here";
    const uint64_t splitsBefore = vmstat("thp_split_page");
    ASSERT_TRUE(memory.discard(boundary - 3 * kPage, 6 * kPage));
    EXPECT_GE(vmstat("thp_split_page"), splitsBefore + 2);
    EXPECT_EQ(residentPages(host, 4 * kMiB), 1024u - 6);
}

// --- the device ---

constexpr uint64_t kPfns = 0x100000;   // the driver's PFN array
constexpr uint64_t kStats = 0x180000;  // its stats buffer
constexpr uint64_t kData = 0x400000;   // pages the tests inflate

uint32_t pfnOf(uint64_t gpa) {
    return static_cast<uint32_t>(gpa / kPage);
}

class VirtioBalloonTest : public ::testing::Test {
protected:
    void SetUp() override { attach(256 * kMiB); }

    void attach(uint64_t bytes) {
        transport.reset();
        rings.clear();
        balloon.reset();
        memory = std::make_unique<GuestMemory>(bytes);
        for (uint64_t base : {0x0ull, 0x40000ull, 0x80000ull})
            rings.push_back(std::make_unique<TestRing>(*memory, 64, base));
        balloon = std::make_shared<VirtioBalloon>("virtio-balloon", *memory);
        balloon->log().setSink([this](const std::string& line) { lines.push_back(line); });
        balloon->log().setInterval(std::chrono::nanoseconds(0));
        auto irq = std::make_unique<CountingInterrupt>();
        interrupt = irq.get();
        transport = std::make_unique<VirtioMmioTransport>(*memory, balloon, std::move(irq));
    }

    uint32_t reg(uint64_t offset) {
        uint8_t b[4];
        transport->read(offset, b);
        return static_cast<uint32_t>(accessValue(b));
    }
    void setReg(uint64_t offset, uint32_t value) {
        uint8_t b[4];
        fillAccess(b, value);
        transport->write(offset, b);
    }
    uint64_t deviceFeatures() {
        setReg(mmio::kDeviceFeaturesSel, 0);
        uint64_t low = reg(mmio::kDeviceFeatures);
        setReg(mmio::kDeviceFeaturesSel, 1);
        return low | uint64_t{reg(mmio::kDeviceFeatures)} << 32;
    }
    uint32_t config32(uint64_t offset) {
        uint8_t b[4];
        transport->read(mmio::kConfig + offset, b);
        return static_cast<uint32_t>(accessValue(b));
    }
    void setConfig32(uint64_t offset, uint32_t value) {
        uint8_t b[4];
        fillAccess(b, value);
        transport->write(mmio::kConfig + offset, b);
    }

    // virtballoon_probe's order: features, the queues (Linux kicks its primed stats buffer
    // here, before DRIVER_OK), DRIVER_OK.
    void negotiate(uint64_t accept) {
        setReg(mmio::kStatus, kStatusAcknowledge);
        setReg(mmio::kStatus, kStatusAcknowledge | kStatusDriver);
        setReg(mmio::kDriverFeaturesSel, 0);
        setReg(mmio::kDriverFeatures, static_cast<uint32_t>(accept));
        setReg(mmio::kDriverFeaturesSel, 1);
        setReg(mmio::kDriverFeatures, static_cast<uint32_t>(accept >> 32));
        setReg(mmio::kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
        ASSERT_TRUE(reg(mmio::kStatus) & kStatusFeaturesOk);
        const unsigned queues = accept & VirtioBalloon::kFeatureStatsVq ? 3 : 2;
        for (unsigned q = 0; q < queues; ++q) {
            const auto l = rings[q]->layout();
            setReg(mmio::kQueueSel, q);
            setReg(mmio::kQueueNum, l.size);
            setReg(mmio::kQueueDescLow, static_cast<uint32_t>(l.descTable));
            setReg(mmio::kQueueDescHigh, 0);
            setReg(mmio::kQueueDriverLow, static_cast<uint32_t>(l.availRing));
            setReg(mmio::kQueueDriverHigh, 0);
            setReg(mmio::kQueueDeviceLow, static_cast<uint32_t>(l.usedRing));
            setReg(mmio::kQueueDeviceHigh, 0);
            setReg(mmio::kQueueReady, 1);
        }
    }
    void driverOk() {
        setReg(mmio::kStatus,
               kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
        ASSERT_TRUE(reg(mmio::kStatus) & kStatusDriverOk);
    }
    void start(uint64_t accept = kFeatureVersion1 | VirtioBalloon::kFeatureDeflateOnOom) {
        negotiate(accept);
        driverOk();
    }

    // One buffer on `queue` and a notification; the device must give it back at once, with
    // nothing written (tell_host waits for exactly that).
    void sendBuffers(unsigned queue, const std::vector<TestBuffer>& buffers) {
        TestRing& ring = *rings[queue];
        const uint16_t head = ring.addChain(buffers);
        const uint16_t before = ring.usedIdx();
        ring.publish(head);
        setReg(mmio::kQueueNotify, queue);
        ASSERT_EQ(ring.usedIdx(), static_cast<uint16_t>(before + 1));
        EXPECT_EQ(ring.used(before).id, head);
        EXPECT_EQ(ring.used(before).len, 0u);
    }
    void send(unsigned queue, const std::vector<uint32_t>& pfns) {
        memory->write(kPfns, {reinterpret_cast<const uint8_t*>(pfns.data()), pfns.size() * 4});
        sendBuffers(queue, {{kPfns, static_cast<uint32_t>(pfns.size() * 4), false}});
    }
    void inflate(const std::vector<uint32_t>& pfns) { send(VirtioBalloon::kInflateQueue, pfns); }
    void deflate(const std::vector<uint32_t>& pfns) { send(VirtioBalloon::kDeflateQueue, pfns); }
    // PFNs of [gpa, gpa + len).
    static std::vector<uint32_t> pages(uint64_t gpa, uint64_t len) {
        std::vector<uint32_t> out(len / kPage);
        std::iota(out.begin(), out.end(), pfnOf(gpa));
        return out;
    }

    struct Stat {
        uint16_t tag;
        uint64_t value;
    };
    void putStats(const std::vector<Stat>& stats) {
        for (size_t i = 0; i < stats.size(); ++i) {
            memory->writeObject<uint16_t>(kStats + 10 * i, stats[i].tag);
            memory->writeObject<uint64_t>(kStats + 10 * i + 2, stats[i].value);
        }
    }
    // Publishes the stats buffer and notifies, as stats_handle_request does.
    void sendStats(const std::vector<Stat>& stats) {
        putStats(stats);
        TestRing& ring = *rings[VirtioBalloon::kStatsQueue];
        ring.publish(ring.addChain({{kStats, static_cast<uint32_t>(10 * stats.size()), false}}));
        setReg(mmio::kQueueNotify, VirtioBalloon::kStatsQueue);
    }

    bool logged(const std::string& text) const {
        for (const auto& l : lines)
            if (l.find(text) != std::string::npos) return true;
        return false;
    }

    std::unique_ptr<GuestMemory> memory;
    std::vector<std::unique_ptr<TestRing>> rings;
    std::shared_ptr<VirtioBalloon> balloon;
    std::unique_ptr<VirtioMmioTransport> transport;
    CountingInterrupt* interrupt = nullptr;
    std::vector<std::string> lines;
};

TEST_F(VirtioBalloonTest, IsTheBalloonWithItsFeatures) {
    EXPECT_EQ(reg(mmio::kDeviceId), 5u);
    const uint64_t features = deviceFeatures();
    EXPECT_TRUE(features & kFeatureVersion1);
    EXPECT_TRUE(features & VirtioBalloon::kFeatureDeflateOnOom);
    EXPECT_TRUE(features & VirtioBalloon::kFeatureStatsVq);
    // Deflating needs nothing from the host, so the driver need not wait to reuse pages.
    EXPECT_FALSE(features & VirtioBalloon::kFeatureMustTellHost);
    EXPECT_EQ(transport->queueCount(), 3u);
}

TEST_F(VirtioBalloonTest, TargetIsWholePagesAndLeavesTheGuestAFloor) {
    balloon->setTarget(100 * kMiB + 123);
    EXPECT_EQ(balloon->targetBytes(), 100 * kMiB);
    EXPECT_EQ(config32(0), 100 * kMiB / kPage);
    balloon->setTarget(1ull << 40);
    EXPECT_EQ(balloon->maxTargetBytes(), 256 * kMiB - VirtioBalloon::kFloorBytes);
    EXPECT_EQ(balloon->targetBytes(), 192 * kMiB);
    balloon->setTarget(0);
    EXPECT_EQ(config32(0), 0u);

    GuestMemory tiny(16 * kMiB);
    VirtioBalloon small("virtio-balloon", tiny);
    small.setTarget(8 * kMiB);
    EXPECT_EQ(small.targetBytes(), 0u);  // all of it is floor
}

TEST_F(VirtioBalloonTest, ANewTargetRaisesTheConfigurationChangeInterrupt) {
    start();
    const uint32_t generation = reg(mmio::kConfigGeneration);
    const int before = interrupt->seen();
    balloon->setTarget(32 * kMiB);
    EXPECT_EQ(interrupt->seen(), before + 1);
    EXPECT_EQ(reg(mmio::kInterruptStatus), kInterruptConfigChange);
    EXPECT_NE(reg(mmio::kConfigGeneration), generation);
    // What vm_interrupt then does: acknowledge, and the driver reads the target.
    setReg(mmio::kInterruptAck, kInterruptConfigChange);
    EXPECT_EQ(reg(mmio::kInterruptStatus), 0u);
    EXPECT_EQ(config32(0), 32 * kMiB / kPage);
    // The same target again asks again (the guest may have deflated on OOM meanwhile).
    balloon->setTarget(32 * kMiB);
    EXPECT_EQ(interrupt->seen(), before + 2);
}

TEST_F(VirtioBalloonTest, TheTransportLetsGoOfTheDevice) {
    transport.reset();
    balloon->setTarget(32 * kMiB);  // no transport to call back into
    EXPECT_EQ(balloon->targetBytes(), 32 * kMiB);
}

TEST_F(VirtioBalloonTest, ActualIsWhatTheDriverWrites) {
    start();
    setConfig32(4, 1234);
    EXPECT_EQ(config32(4), 1234u);
    EXPECT_EQ(balloon->actualBytes(), 1234 * kPage);
    // In pieces: the upper half alone.
    uint8_t half[2] = {0x01, 0x00};
    transport->write(mmio::kConfig + 6, half);
    EXPECT_EQ(config32(4), 0x10000u + 1234u);
    // num_pages is the device's.
    balloon->setTarget(8 * kMiB);
    setConfig32(0, 99);
    EXPECT_EQ(config32(0), 8 * kMiB / kPage);
    EXPECT_TRUE(logged("only `actual`"));
    // Byte reads, and past the end.
    uint8_t byte[1];
    transport->read(mmio::kConfig + 1, byte);
    EXPECT_EQ(byte[0], static_cast<uint8_t>((8 * kMiB / kPage) >> 8));
    EXPECT_EQ(config32(8), 0u);
    EXPECT_EQ(config32(0x40), 0u);
}

TEST_F(VirtioBalloonTest, InflatedPagesAreDiscardedAndDeflatedOnesComeBackAsZeroes) {
    start();
    fill(*memory, kData, 8 * kPage, 0xab);
    balloon->setTarget(4 * kPage);
    inflate({pfnOf(kData + kPage), pfnOf(kData + 2 * kPage), pfnOf(kData + 4 * kPage),
             pfnOf(kData + 3 * kPage)});
    setConfig32(4, 4);
    EXPECT_TRUE(allBytes(*memory, kData, kPage, 0xab));
    EXPECT_TRUE(allBytes(*memory, kData + kPage, 4 * kPage, 0));
    EXPECT_TRUE(allBytes(*memory, kData + 5 * kPage, 3 * kPage, 0xab));
    EXPECT_EQ(balloon->discardedBytes(), 4 * kPage);
    EXPECT_EQ(balloon->actualBytes(), 4 * kPage);
    EXPECT_EQ(balloon->inflatedPages(), 4u);

    deflate({pfnOf(kData + 2 * kPage), pfnOf(kData + 3 * kPage)});
    EXPECT_EQ(balloon->discardedBytes(), 2 * kPage);
    EXPECT_EQ(balloon->deflatedPages(), 2u);
    fill(*memory, kData + 2 * kPage, kPage, 0x33);  // the guest uses it again
    EXPECT_TRUE(allBytes(*memory, kData + 2 * kPage, kPage, 0x33));
    EXPECT_EQ(balloon->refusedPfns(), 0u);
    EXPECT_TRUE(lines.empty()) << lines.front();
}

// The measure: inflating lowers the monitor's RSS by about as much. 64 MiB of touched
// guest RAM handed over as Linux does, 256 PFNs a buffer, in no particular order.
TEST_F(VirtioBalloonTest, ALargeInflateLowersResidentMemory) {
    start();
    const uint64_t from = 64 * kMiB, len = 64 * kMiB;
    fill(*memory, from, len, 0xcd);
    const uint8_t* host = memory->slice(from, len).data();
    ASSERT_EQ(residentPages(host, len), len / kPage);
    const uint64_t rssBefore = rssBytes();

    auto pfns = pages(from, len);
    std::shuffle(pfns.begin(), pfns.end(), std::mt19937(7));
    balloon->setTarget(len);
    for (size_t i = 0; i < pfns.size(); i += 256)
        inflate(std::vector<uint32_t>(pfns.begin() + i, pfns.begin() + i + 256));

    EXPECT_EQ(residentPages(host, len), 0u);
    const uint64_t rssAfter = rssBytes();
    EXPECT_GE(rssBefore - std::min(rssBefore, rssAfter), len - 8 * kMiB)
        << "RSS " << rssBefore << " -> " << rssAfter;
    EXPECT_EQ(balloon->discardedBytes(), len);
    EXPECT_TRUE(allBytes(*memory, from, len, 0));
}

TEST_F(VirtioBalloonTest, APageGivenTwiceCountsOnce) {
    start();
    inflate({pfnOf(kData), pfnOf(kData), pfnOf(kData + kPage)});
    inflate({pfnOf(kData + kPage)});
    EXPECT_EQ(balloon->inflatedPages(), 2u);
    EXPECT_EQ(balloon->discardedBytes(), 2 * kPage);
    EXPECT_EQ(balloon->refusedPfns(), 2u);
    EXPECT_TRUE(logged("already in the balloon"));
}

TEST_F(VirtioBalloonTest, DeflatingAPageNotInTheBalloonIsReported) {
    start();
    fill(*memory, kData, kPage, 0x42);
    deflate({pfnOf(kData)});
    EXPECT_EQ(balloon->deflatedPages(), 0u);
    EXPECT_EQ(balloon->refusedPfns(), 1u);
    EXPECT_EQ(balloon->discardedBytes(), 0u);
    EXPECT_TRUE(logged("not in the balloon"));
    EXPECT_TRUE(allBytes(*memory, kData, kPage, 0x42));
}

TEST_F(VirtioBalloonTest, PfnsOutsideGuestRamAreRefused) {
    // Low RAM up to the MMIO hole, 64 MiB above 4 GiB.
    attach(GuestMemory::kMmioHoleStart + 64 * kMiB);
    start();
    const uint64_t lastLow = GuestMemory::kMmioHoleStart - kPage;
    const uint64_t firstHigh = GuestMemory::kHighRamStart;
    const uint64_t lastHigh = GuestMemory::kHighRamStart + 64 * kMiB - kPage;
    for (uint64_t gpa : {lastLow, firstHigh, lastHigh}) fill(*memory, gpa, kPage, 0x99);
    const std::vector<uint32_t> hostile = {
        pfnOf(GuestMemory::kMmioHoleStart),      // the hole's first page
        pfnOf(GuestMemory::kHighRamStart) - 1,   // its last
        pfnOf(lastHigh + kPage),                 // just past the end of RAM
        0xffffffff,
    };
    inflate(hostile);
    deflate(hostile);
    EXPECT_EQ(balloon->refusedPfns(), 8u);
    EXPECT_EQ(balloon->discardedBytes(), 0u);
    EXPECT_TRUE(logged("outside guest RAM (the first 0xc0000)"));
    for (uint64_t gpa : {lastLow, firstHigh, lastHigh})
        EXPECT_TRUE(allBytes(*memory, gpa, kPage, 0x99)) << std::hex << gpa;
    // The pages around the hole are RAM.
    inflate({pfnOf(lastLow), pfnOf(firstHigh), pfnOf(lastHigh)});
    EXPECT_EQ(balloon->discardedBytes(), 3 * kPage);
    for (uint64_t gpa : {lastLow, firstHigh, lastHigh})
        EXPECT_TRUE(allBytes(*memory, gpa, kPage, 0)) << std::hex << gpa;
}

TEST_F(VirtioBalloonTest, TrailingBytesThatMakeNoPfnAreIgnored) {
    start();
    fill(*memory, kData, 3 * kPage, 0x55);
    const uint32_t pfns[3] = {pfnOf(kData), pfnOf(kData + kPage), pfnOf(kData + 2 * kPage)};
    memory->write(kPfns, {reinterpret_cast<const uint8_t*>(pfns), sizeof pfns});
    sendBuffers(VirtioBalloon::kInflateQueue, {{kPfns, 10, false}});
    EXPECT_EQ(balloon->discardedBytes(), 2 * kPage);
    EXPECT_TRUE(allBytes(*memory, kData + 2 * kPage, kPage, 0x55));
    EXPECT_TRUE(logged("not whole 32-bit PFNs"));
}

TEST_F(VirtioBalloonTest, PfnsMaySpanBuffersAndWritableOnesAreIgnored) {
    start();
    fill(*memory, kData, 2 * kPage, 0x66);
    const uint32_t pfns[2] = {pfnOf(kData), pfnOf(kData + kPage)};
    memory->write(kPfns, {reinterpret_cast<const uint8_t*>(pfns), sizeof pfns});
    // One PFN split across two buffers, then a device-writable one.
    sendBuffers(VirtioBalloon::kInflateQueue,
                {{kPfns, 6, false}, {kPfns + 6, 2, false}, {kPfns + 0x1000, 16, true}});
    EXPECT_EQ(balloon->discardedBytes(), 2 * kPage);
    EXPECT_TRUE(allBytes(*memory, kData, 2 * kPage, 0));
    EXPECT_TRUE(logged("device-writable"));
}

TEST_F(VirtioBalloonTest, AnOversizedBufferIsRefusedWhole) {
    start();
    fill(*memory, kData, kPage, 0x44);
    // kMaxPfnsPerBuffer + 1 copies of a valid PFN.
    const std::vector<uint32_t> many(VirtioBalloon::kMaxPfnsPerBuffer + 1, pfnOf(kData));
    inflate(many);
    EXPECT_EQ(balloon->discardedBytes(), 0u);
    EXPECT_EQ(balloon->refusedPfns(), many.size());
    EXPECT_TRUE(allBytes(*memory, kData, kPage, 0x44));
    EXPECT_TRUE(logged("refused whole"));
    // The largest allowed, and the queue goes on.
    inflate(pages(kData, VirtioBalloon::kMaxPfnsPerBuffer * kPage));
    EXPECT_EQ(balloon->discardedBytes(), VirtioBalloon::kMaxPfnsPerBuffer * kPage);
}

TEST_F(VirtioBalloonTest, AResetGivesEveryPageBack) {
    start();
    inflate(pages(kData, 16 * kPage));
    setConfig32(4, 16);
    balloon->setTarget(16 * kPage);
    setReg(mmio::kStatus, 0);
    EXPECT_EQ(balloon->discardedBytes(), 0u);
    EXPECT_EQ(balloon->actualBytes(), 0u);
    EXPECT_EQ(balloon->deflatedPages(), 16u);
    EXPECT_EQ(balloon->targetBytes(), 16 * kPage);  // the host still wants it
    // The next driver starts from an empty balloon.
    for (auto& ring : rings) ring->reset();
    start();
    inflate(pages(kData, 16 * kPage));
    EXPECT_EQ(balloon->inflatedPages(), 32u);
    EXPECT_EQ(balloon->refusedPfns(), 0u);
}

// The stats buffer is left with the device; giving it back asks for fresh figures.
TEST_F(VirtioBalloonTest, StatsComeWhenTheBufferGoesBack) {
    EXPECT_FALSE(balloon->requestStats());  // no driver yet
    const uint64_t accept =
        kFeatureVersion1 | VirtioBalloon::kFeatureStatsVq | VirtioBalloon::kFeatureDeflateOnOom;
    negotiate(accept);
    sendStats({{VirtioBalloon::kStatFreeMemory, 100 * kMiB},
               {VirtioBalloon::kStatTotalMemory, 250 * kMiB},
               {VirtioBalloon::kStatAvailableMemory, 180 * kMiB},
               {40, 1}});  // a tag from the future
    driverOk();
    // Without a worker nothing processes the primed buffer: do what its wake-up does.
    EXPECT_EQ(balloon->guestStats().updates, 0u);
    transport->processQueue(VirtioBalloon::kStatsQueue);
    auto stats = balloon->guestStats();
    EXPECT_EQ(stats.updates, 1u);
    EXPECT_TRUE(stats.has(VirtioBalloon::kStatFreeMemory));
    EXPECT_FALSE(stats.has(VirtioBalloon::kStatSwapIn));
    EXPECT_EQ(stats.values[VirtioBalloon::kStatAvailableMemory], 180 * kMiB);
    TestRing& ring = *rings[VirtioBalloon::kStatsQueue];
    EXPECT_EQ(ring.usedIdx(), 0u);  // held

    const int irqs = interrupt->seen();
    EXPECT_TRUE(balloon->requestStats());
    transport->processQueue(VirtioBalloon::kStatsQueue);
    EXPECT_EQ(ring.usedIdx(), 1u);
    EXPECT_EQ(interrupt->seen(), irqs + 1);
    sendStats({{VirtioBalloon::kStatFreeMemory, 90 * kMiB}});
    stats = balloon->guestStats();
    EXPECT_EQ(stats.updates, 2u);
    EXPECT_EQ(stats.values[VirtioBalloon::kStatFreeMemory], 90 * kMiB);
    EXPECT_FALSE(stats.has(VirtioBalloon::kStatTotalMemory));
    EXPECT_EQ(ring.usedIdx(), 1u);
    EXPECT_TRUE(lines.empty()) << lines.front();
}

TEST_F(VirtioBalloonTest, TheWorkerTakesThePrimedStatsBufferAndAnswersRequests) {
    VirtioWorker worker(*transport, "test-balloon");
    const uint64_t accept = kFeatureVersion1 | VirtioBalloon::kFeatureStatsVq;
    negotiate(accept);
    sendStats({{VirtioBalloon::kStatFreeMemory, 7 * kMiB}});  // before DRIVER_OK: lost
    driverOk();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (balloon->guestStats().updates == 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ASSERT_EQ(balloon->guestStats().updates, 1u);
    EXPECT_EQ(balloon->guestStats().values[VirtioBalloon::kStatFreeMemory], 7 * kMiB);

    const int irqs = interrupt->seen();
    ASSERT_TRUE(balloon->requestStats());
    ASSERT_TRUE(interrupt->waitFor(irqs + 1));
    EXPECT_EQ(rings[VirtioBalloon::kStatsQueue]->usedIdx(), 1u);
}

TEST_F(VirtioBalloonTest, ASecondStatsBufferSendsTheFirstBack) {
    negotiate(kFeatureVersion1 | VirtioBalloon::kFeatureStatsVq);
    driverOk();
    sendStats({{VirtioBalloon::kStatFreeMemory, 1}});
    sendStats({{VirtioBalloon::kStatFreeMemory, 2}});
    EXPECT_EQ(rings[VirtioBalloon::kStatsQueue]->usedIdx(), 1u);
    EXPECT_EQ(balloon->guestStats().values[VirtioBalloon::kStatFreeMemory], 2u);
    EXPECT_TRUE(logged("second buffer"));
}

}  // namespace
}  // namespace ingot::vmm::virtio
