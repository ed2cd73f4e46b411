// virtio-blk requests end to end through the virtio-mmio transport, the way a driver issues them:
// registers for negotiation and queue setup, chains in guest memory, QueueNotify, then the used
// ring, the status byte and the disk file. Also the raw-file backend's refusals and the
// transport's state machine.
#include "devices/virtio/VirtioBlk.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <thread>

#include "VirtioTestSupport.h"
#include "VmConfig.h"
#include "VmmTestSupport.h"
#include "devices/virtio/VirtioMmioSlots.h"
#include "devices/virtio/VirtioMmioTransport.h"
#include "devices/virtio/VirtioSpec.h"
#include "devices/virtio/VirtioWorker.h"

namespace ingot::vmm::virtio {
namespace {

using test::TestBuffer;
using test::TestRing;

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
    std::mutex mutex;
    std::condition_variable changed;
    int count = 0;
};

constexpr uint64_t kDiskBytes = 64 * 512;
constexpr uint64_t kHeader = 0x100000;
constexpr uint64_t kData = 0x200000;
constexpr uint64_t kStatus = 0x300000;

class VirtioBlkTest : public ::testing::Test {
protected:
    void attach(bool readOnly, std::string id = "disk.img") {
        auto backend = test::memfdDisk(kDiskBytes, readOnly, &diskFd);
        ASSERT_TRUE(backend);
        blk = std::make_shared<VirtioBlk>("virtio-blk0 (test)", std::move(backend), id);
        blk->log().setSink([this](const std::string& line) { lines.push_back(line); });
        blk->log().setInterval(std::chrono::nanoseconds(0));
        auto irq = std::make_unique<CountingInterrupt>();
        interrupt = irq.get();
        transport = std::make_unique<VirtioMmioTransport>(memory, blk, std::move(irq));
    }
    void TearDown() override {
        if (diskFd >= 0) ::close(diskFd);
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
    // The driver's initialisation sequence (3.1.1) with the queue at TestRing's addresses.
    // Returns the status read back after FEATURES_OK.
    uint32_t negotiate(uint64_t accept) {
        setReg(mmio::kStatus, kStatusAcknowledge);
        setReg(mmio::kStatus, kStatusAcknowledge | kStatusDriver);
        setReg(mmio::kDriverFeaturesSel, 0);
        setReg(mmio::kDriverFeatures, static_cast<uint32_t>(accept));
        setReg(mmio::kDriverFeaturesSel, 1);
        setReg(mmio::kDriverFeatures, static_cast<uint32_t>(accept >> 32));
        setReg(mmio::kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
        return reg(mmio::kStatus);
    }
    void setUpQueue(const QueueLayout& l) {
        setReg(mmio::kQueueSel, 0);
        setReg(mmio::kQueueNum, l.size);
        setReg(mmio::kQueueDescLow, static_cast<uint32_t>(l.descTable));
        setReg(mmio::kQueueDescHigh, static_cast<uint32_t>(l.descTable >> 32));
        setReg(mmio::kQueueDriverLow, static_cast<uint32_t>(l.availRing));
        setReg(mmio::kQueueDriverHigh, static_cast<uint32_t>(l.availRing >> 32));
        setReg(mmio::kQueueDeviceLow, static_cast<uint32_t>(l.usedRing));
        setReg(mmio::kQueueDeviceHigh, static_cast<uint32_t>(l.usedRing >> 32));
        setReg(mmio::kQueueReady, 1);
    }
    void driverOk() {
        setReg(mmio::kStatus,
               kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
    }
    void start(bool readOnly = false, uint64_t accept = 0) {
        attach(readOnly);
        if (accept == 0) accept = deviceFeatures();
        ASSERT_TRUE(negotiate(accept) & kStatusFeaturesOk);
        setUpQueue(ring.layout());
        driverOk();
        ASSERT_EQ(reg(mmio::kStatus) & kStatusDriverOk, kStatusDriverOk);
    }

    void header(uint32_t type, uint64_t sector) {
        memory.writeObject<uint32_t>(kHeader, type);
        memory.writeObject<uint32_t>(kHeader + 4, 0);
        memory.writeObject<uint64_t>(kHeader + 8, sector);
    }
    struct Completion {
        uint16_t head;
        uint32_t len;
        uint8_t status;
    };
    // Publishes `buffers` as one chain, notifies, and returns what the device put back.
    Completion submit(const std::vector<TestBuffer>& buffers, uint64_t statusGpa = kStatus) {
        memory.writeObject<uint8_t>(statusGpa, 0xee);
        uint16_t head = ring.addChain(buffers);
        uint16_t before = ring.usedIdx();
        ring.publish(head);
        setReg(mmio::kQueueNotify, 0);
        EXPECT_EQ(ring.usedIdx(), static_cast<uint16_t>(before + 1));
        auto u = ring.used(before);
        EXPECT_EQ(u.id, head);
        return {head, u.len, memory.readObject<uint8_t>(statusGpa)};
    }
    Completion request(uint32_t type, uint64_t sector, std::vector<TestBuffer> data) {
        header(type, sector);
        std::vector<TestBuffer> chain{{kHeader, 16, false}};
        chain.insert(chain.end(), data.begin(), data.end());
        chain.push_back({kStatus, 1, true});
        return submit(chain);
    }
    std::vector<uint8_t> fileBytes(uint64_t offset, size_t n) {
        std::vector<uint8_t> out(n);
        EXPECT_EQ(::pread(diskFd, out.data(), n, static_cast<off_t>(offset)),
                  static_cast<ssize_t>(n));
        return out;
    }
    bool logged(const std::string& text) const {
        for (const auto& l : lines)
            if (l.find(text) != std::string::npos) return true;
        return false;
    }

    GuestMemory memory{16ull << 20};
    TestRing ring{memory, 256};
    std::shared_ptr<VirtioBlk> blk;
    std::unique_ptr<VirtioMmioTransport> transport;
    CountingInterrupt* interrupt = nullptr;
    int diskFd = -1;
    std::vector<std::string> lines;
};

// --- transport registers and state machine ---

TEST_F(VirtioBlkTest, IdentifiesAsModernBlockDevice) {
    attach(false);
    EXPECT_EQ(reg(mmio::kMagicValue), 0x74726976u);
    EXPECT_EQ(reg(mmio::kVersion), 2u);
    EXPECT_EQ(reg(mmio::kDeviceId), kDeviceBlock);
    EXPECT_EQ(reg(mmio::kStatus), 0u);
    EXPECT_EQ(reg(mmio::kQueueNumMax), 256u);
    setReg(mmio::kQueueSel, 1);
    EXPECT_EQ(reg(mmio::kQueueNumMax), 0u);  // only one queue
    for (uint64_t shm :
         {mmio::kShmLenLow, mmio::kShmLenHigh, mmio::kShmBaseLow, mmio::kShmBaseHigh})
        EXPECT_EQ(reg(shm), 0xffffffffu);
}

TEST_F(VirtioBlkTest, OffersFeaturesInTwoWords) {
    attach(false);
    uint64_t f = deviceFeatures();
    EXPECT_EQ(f, kFeatureVersion1 | kFeatureIndirectDesc | kFeatureEventIdx |
                     VirtioBlk::kFeatureSegMax | VirtioBlk::kFeatureFlush);
    setReg(mmio::kDeviceFeaturesSel, 2);
    EXPECT_EQ(reg(mmio::kDeviceFeatures), 0u);
    attach(true);
    EXPECT_TRUE(deviceFeatures() & VirtioBlk::kFeatureRo);
}

TEST_F(VirtioBlkTest, FeaturesOkNeedsVersion1AndOnlyOfferedFeatures) {
    attach(false);
    EXPECT_FALSE(negotiate(VirtioBlk::kFeatureFlush) & kStatusFeaturesOk);
    EXPECT_TRUE(logged("lack VIRTIO_F_VERSION_1"));
    setReg(mmio::kStatus, 0);
    EXPECT_FALSE(negotiate(kFeatureVersion1 | (1ull << 13)) & kStatusFeaturesOk);  // DISCARD
    EXPECT_TRUE(logged("never offered"));
    setReg(mmio::kStatus, 0);
    EXPECT_TRUE(negotiate(kFeatureVersion1) & kStatusFeaturesOk);
}

TEST_F(VirtioBlkTest, ConfigSpaceHoldsCapacityAndSegMax) {
    attach(false);
    uint8_t cap[8];
    transport->read(mmio::kConfig, {cap, 4});
    transport->read(mmio::kConfig + 4, {cap + 4, 4});
    EXPECT_EQ(test::load<uint64_t>(cap), kDiskBytes / 512);
    EXPECT_EQ(reg(mmio::kConfig + 12), 254u);
    uint8_t one = 0xff;
    transport->read(mmio::kConfig + 0xf0, {&one, 1});
    EXPECT_EQ(one, 0);
    EXPECT_EQ(reg(mmio::kConfigGeneration), 0u);
}

TEST_F(VirtioBlkTest, RegistersTakeOnlyAlignedWordAccesses) {
    attach(false);
    uint8_t b[2] = {0xff, 0xff};
    transport->read(mmio::kMagicValue, b);
    EXPECT_EQ(b[0], 0);
    EXPECT_EQ(b[1], 0);
    uint8_t w[4];
    transport->read(mmio::kMagicValue + 2, w);
    EXPECT_EQ(accessValue(w), 0u);
    fillAccess(w, kStatusAcknowledge);
    transport->write(mmio::kStatus + 1, {w, 1});
    EXPECT_EQ(reg(mmio::kStatus), 0u);
    EXPECT_TRUE(logged("aligned 32-bit accesses"));
}

TEST_F(VirtioBlkTest, StatusBitsCannotBeClearedButResetClearsAll) {
    attach(false);
    negotiate(deviceFeatures());
    setReg(mmio::kStatus, kStatusAcknowledge);
    EXPECT_EQ(reg(mmio::kStatus), kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    EXPECT_TRUE(logged("only a reset"));
    setReg(mmio::kStatus, 0);
    EXPECT_EQ(reg(mmio::kStatus), 0u);
}

TEST_F(VirtioBlkTest, DriverOkWithoutFeaturesOkIsRefused) {
    attach(false);
    setReg(mmio::kStatus, kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
    EXPECT_EQ(reg(mmio::kStatus), kStatusAcknowledge | kStatusDriver);
}

TEST_F(VirtioBlkTest, QueueRegistersAreFrozenWhileReady) {
    attach(false);
    negotiate(deviceFeatures());
    setUpQueue(ring.layout());
    EXPECT_EQ(reg(mmio::kQueueReady), 1u);
    setReg(mmio::kQueueDescLow, 0x40000);
    setReg(mmio::kQueueNum, 8);
    EXPECT_TRUE(logged("written while the queue is ready"));
    driverOk();
    // The queue still works at the original addresses and size.
    header(VirtioBlk::kTypeFlush, 0);
    auto c = submit({{kHeader, 16, false}, {kStatus, 1, true}});
    EXPECT_EQ(c.status, VirtioBlk::kStatusOk);
}

TEST_F(VirtioBlkTest, BadQueueLayoutAtDriverOkAsksForReset) {
    attach(false);
    negotiate(deviceFeatures());
    auto l = ring.layout();
    l.usedRing = 32ull << 20;  // past the end of guest RAM
    setUpQueue(l);
    driverOk();
    EXPECT_TRUE(reg(mmio::kStatus) & kStatusDeviceNeedsReset);
    EXPECT_EQ(reg(mmio::kInterruptStatus), kInterruptConfigChange);
    EXPECT_EQ(interrupt->count, 1);
    EXPECT_TRUE(logged("used ring"));
    // Notifications do nothing: the device never touches a queue it could not set up.
    header(VirtioBlk::kTypeFlush, 0);
    ring.publish(ring.addChain({{kHeader, 16, false}, {kStatus, 1, true}}));
    setReg(mmio::kQueueNotify, 0);
    EXPECT_EQ(ring.usedIdx(), 0);
    // A reset clears the condition.
    setReg(mmio::kStatus, 0);
    EXPECT_EQ(reg(mmio::kStatus), 0u);
    EXPECT_EQ(reg(mmio::kInterruptStatus), 0u);
}

TEST_F(VirtioBlkTest, UsedBufferRaisesInterruptUntilAcknowledged) {
    start();
    header(VirtioBlk::kTypeFlush, 0);
    submit({{kHeader, 16, false}, {kStatus, 1, true}});
    EXPECT_EQ(interrupt->count, 1);
    EXPECT_EQ(reg(mmio::kInterruptStatus), kInterruptUsedBuffer);
    setReg(mmio::kInterruptAck, kInterruptUsedBuffer);
    EXPECT_EQ(reg(mmio::kInterruptStatus), 0u);
}

TEST_F(VirtioBlkTest, ResetStopsTheQueueAndAllowsReinitialisation) {
    start();
    header(VirtioBlk::kTypeFlush, 0);
    submit({{kHeader, 16, false}, {kStatus, 1, true}});
    setReg(mmio::kStatus, 0);
    EXPECT_EQ(reg(mmio::kStatus), 0u);
    EXPECT_EQ(reg(mmio::kInterruptStatus), 0u);
    setReg(mmio::kQueueSel, 0);
    EXPECT_EQ(reg(mmio::kQueueReady), 0u);
    EXPECT_EQ(reg(mmio::kQueueNumMax), 256u);
    // Chains published while reset are not touched.
    ring.publish(ring.addChain({{kHeader, 16, false}, {kStatus, 1, true}}));
    setReg(mmio::kQueueNotify, 0);
    EXPECT_EQ(ring.usedIdx(), 1);
    // A fresh driver starts over with fresh rings.
    ring.reset();
    ASSERT_TRUE(negotiate(deviceFeatures()) & kStatusFeaturesOk);
    setUpQueue(ring.layout());
    driverOk();
    auto c = submit({{kHeader, 16, false}, {kStatus, 1, true}});
    EXPECT_EQ(c.status, VirtioBlk::kStatusOk);
}

TEST_F(VirtioBlkTest, DisabledQueueIsNotProcessed) {
    start();
    setReg(mmio::kQueueSel, 0);
    setReg(mmio::kQueueReady, 0);
    EXPECT_EQ(reg(mmio::kQueueReady), 0u);
    header(VirtioBlk::kTypeFlush, 0);
    ring.publish(ring.addChain({{kHeader, 16, false}, {kStatus, 1, true}}));
    setReg(mmio::kQueueNotify, 0);
    EXPECT_EQ(ring.usedIdx(), 0);
}

TEST_F(VirtioBlkTest, BrokenQueueAsksForReset) {
    start();
    ring.setAvailIdx(1000);
    setReg(mmio::kQueueNotify, 0);
    EXPECT_TRUE(reg(mmio::kStatus) & kStatusDeviceNeedsReset);
    EXPECT_TRUE(reg(mmio::kInterruptStatus) & kInterruptConfigChange);
    EXPECT_TRUE(logged("entries ahead of the device"));
}

TEST_F(VirtioBlkTest, NotificationForMissingQueueIsIgnored) {
    start();
    setReg(mmio::kQueueNotify, 3);
    EXPECT_TRUE(logged("queue 3, which does not exist"));
    EXPECT_EQ(reg(mmio::kStatus) & kStatusDeviceNeedsReset, 0u);
}

TEST_F(VirtioBlkTest, WorkerThreadServesNotifications) {
    start();
    VirtioWorker worker(*transport, "test-worker");
    transport->setNotifyHandler([&](unsigned q) { worker.notify(q); });
    header(VirtioBlk::kTypeFlush, 0);
    memory.writeObject<uint8_t>(kStatus, 0xee);
    ring.publish(ring.addChain({{kHeader, 16, false}, {kStatus, 1, true}}));
    setReg(mmio::kQueueNotify, 0);
    ASSERT_TRUE(interrupt->waitFor(1));
    EXPECT_EQ(ring.usedIdx(), 1);
    EXPECT_EQ(memory.readObject<uint8_t>(kStatus), VirtioBlk::kStatusOk);
    // Signalling the eventfd directly, as KVM's ioeventfd does; the driver wants to hear about
    // the next used buffer too (EVENT_IDX was negotiated).
    ring.setUsedEvent(1);
    ring.publish(ring.addChain({{kHeader, 16, false}, {kStatus, 1, true}}));
    uint64_t one = 1;
    ASSERT_EQ(::write(worker.queueEventFd(0), &one, 8), 8);
    ASSERT_TRUE(interrupt->waitFor(2));
    EXPECT_EQ(ring.usedIdx(), 2);
}

// --- block requests ---

TEST_F(VirtioBlkTest, ReadFillsScatteredBuffersFromTheDisk) {
    start();
    auto c = request(VirtioBlk::kTypeIn, 3, {{kData, 512, true}, {kData + 0x10000, 1024, true}});
    EXPECT_EQ(c.status, VirtioBlk::kStatusOk);
    EXPECT_EQ(c.len, 1536u + 1);
    for (uint64_t i = 0; i < 512; ++i)
        ASSERT_EQ(memory.readObject<uint8_t>(kData + i), test::diskPattern(3 * 512 + i)) << i;
    for (uint64_t i = 0; i < 1024; ++i)
        ASSERT_EQ(memory.readObject<uint8_t>(kData + 0x10000 + i), test::diskPattern(4 * 512 + i))
            << i;
    EXPECT_EQ(blk->stats().bytesRead, 1536u);
}

TEST_F(VirtioBlkTest, WriteReachesTheFile) {
    start();
    std::vector<uint8_t> data(1024);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(0xa0 ^ i);
    memory.write(kData, data);
    auto c = request(VirtioBlk::kTypeOut, 10, {{kData, 600, false}, {kData + 600, 424, false}});
    EXPECT_EQ(c.status, VirtioBlk::kStatusOk);
    EXPECT_EQ(c.len, 1u);
    EXPECT_EQ(fileBytes(10 * 512, 1024), data);
    EXPECT_EQ(fileBytes(9 * 512, 1)[0], test::diskPattern(9 * 512 + 0));  // neighbours untouched
    EXPECT_EQ(fileBytes(12 * 512, 1)[0], test::diskPattern(12 * 512));
    auto f = request(VirtioBlk::kTypeFlush, 0, {});
    EXPECT_EQ(f.status, VirtioBlk::kStatusOk);
    EXPECT_EQ(blk->stats().flushes, 1u);
}

TEST_F(VirtioBlkTest, HeaderMaySpanDescriptors) {
    start();
    header(VirtioBlk::kTypeIn, 1);
    // Header in two halves; data and status in one writable buffer (any layout, 2.7.4).
    auto c =
        submit({{kHeader, 8, false}, {kHeader + 8, 8, false}, {kData, 513, true}}, kData + 512);
    EXPECT_EQ(c.status, VirtioBlk::kStatusOk);
    EXPECT_EQ(memory.readObject<uint8_t>(kData), test::diskPattern(512));
}

TEST_F(VirtioBlkTest, IndirectRequestWorks) {
    start();
    header(VirtioBlk::kTypeIn, 0);
    memory.writeObject<uint8_t>(kStatus, 0xee);
    uint16_t head = ring.addIndirectChain(
        0x400000, {{kHeader, 16, false}, {kData, 512, true}, {kStatus, 1, true}});
    ring.publish(head);
    setReg(mmio::kQueueNotify, 0);
    ASSERT_EQ(ring.usedIdx(), 1);
    EXPECT_EQ(ring.used(0).len, 513u);
    EXPECT_EQ(memory.readObject<uint8_t>(kStatus), VirtioBlk::kStatusOk);
}

TEST_F(VirtioBlkTest, GetIdReturnsNulPaddedSerial) {
    start();
    std::vector<uint8_t> junk(20, 0x55);
    memory.write(kData, junk);
    auto c = request(VirtioBlk::kTypeGetId, 0, {{kData, 20, true}});
    EXPECT_EQ(c.status, VirtioBlk::kStatusOk);
    EXPECT_EQ(c.len, 21u);
    auto id = memory.slice(kData, 20);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(id.data())), "disk.img");
    EXPECT_EQ(id[19], 0);
}

TEST_F(VirtioBlkTest, GetIdTruncatesToTwentyBytes) {
    attach(false, "a-very-long-disk-image-name.img");
    ASSERT_TRUE(negotiate(deviceFeatures()) & kStatusFeaturesOk);
    setUpQueue(ring.layout());
    driverOk();
    auto c = request(VirtioBlk::kTypeGetId, 0, {{kData, 32, true}});
    EXPECT_EQ(c.len, 21u);
    auto id = memory.slice(kData, 20);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(id.data()), 20), "a-very-long-disk-ima");
}

TEST_F(VirtioBlkTest, ReadOnlyDiskRefusesWritesAndStillReads) {
    start(true);
    std::vector<uint8_t> data(512, 0x42);
    memory.write(kData, data);
    auto c = request(VirtioBlk::kTypeOut, 0, {{kData, 512, false}});
    EXPECT_EQ(c.status, VirtioBlk::kStatusIoErr);
    EXPECT_EQ(fileBytes(0, 1)[0], test::diskPattern(0));
    EXPECT_TRUE(logged("read-only"));
    auto r = request(VirtioBlk::kTypeIn, 0, {{kData, 512, true}});
    EXPECT_EQ(r.status, VirtioBlk::kStatusOk);
    EXPECT_EQ(memory.readObject<uint8_t>(kData + 1), test::diskPattern(1));
    EXPECT_EQ(request(VirtioBlk::kTypeFlush, 0, {}).status, VirtioBlk::kStatusOk);
    EXPECT_EQ(blk->stats().errors, 1u);
}

TEST_F(VirtioBlkTest, RequestsPastCapacityFail) {
    start();
    uint64_t sectors = kDiskBytes / 512;
    EXPECT_EQ(request(VirtioBlk::kTypeIn, sectors - 1, {{kData, 512, true}}).status,
              VirtioBlk::kStatusOk);
    EXPECT_EQ(request(VirtioBlk::kTypeIn, sectors - 1, {{kData, 1024, true}}).status,
              VirtioBlk::kStatusIoErr);
    EXPECT_EQ(request(VirtioBlk::kTypeIn, sectors, {{kData, 512, true}}).status,
              VirtioBlk::kStatusIoErr);
    // sector * 512 would overflow 64 bits.
    EXPECT_EQ(request(VirtioBlk::kTypeIn, ~0ull / 256, {{kData, 512, true}}).status,
              VirtioBlk::kStatusIoErr);
    auto w = request(VirtioBlk::kTypeOut, sectors, {{kData, 512, false}});
    EXPECT_EQ(w.status, VirtioBlk::kStatusIoErr);
    EXPECT_EQ(w.len, 1u);
    struct stat st {};
    ASSERT_EQ(::fstat(diskFd, &st), 0);
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), kDiskBytes);  // nothing appended
    EXPECT_TRUE(logged("past its end"));
}

TEST_F(VirtioBlkTest, PartialSectorsFail) {
    start();
    EXPECT_EQ(request(VirtioBlk::kTypeIn, 0, {{kData, 100, true}}).status, VirtioBlk::kStatusIoErr);
    EXPECT_EQ(request(VirtioBlk::kTypeOut, 0, {{kData, 511, false}}).status,
              VirtioBlk::kStatusIoErr);
    EXPECT_TRUE(logged("not whole sectors"));
}

TEST_F(VirtioBlkTest, DataInTheWrongDirectionFails) {
    start();
    header(VirtioBlk::kTypeIn, 0);
    auto c = submit(
        {{kHeader, 16, false}, {kData, 512, false}, {kData + 512, 512, true}, {kStatus, 1, true}});
    EXPECT_EQ(c.status, VirtioBlk::kStatusIoErr);
    header(VirtioBlk::kTypeOut, 0);
    c = submit({{kHeader, 16, false}, {kData, 512, true}, {kStatus, 1, true}});
    EXPECT_EQ(c.status, VirtioBlk::kStatusIoErr);
}

TEST_F(VirtioBlkTest, UnknownTypeIsUnsupported) {
    start();
    auto c = request(11, 0, {});  // VIRTIO_BLK_T_DISCARD, never negotiated
    EXPECT_EQ(c.status, VirtioBlk::kStatusUnsupported);
    EXPECT_EQ(c.len, 1u);
}

TEST_F(VirtioBlkTest, ShortHeaderFails) {
    start();
    auto c = submit({{kHeader, 8, false}, {kStatus, 1, true}});
    EXPECT_EQ(c.status, VirtioBlk::kStatusIoErr);
    EXPECT_TRUE(logged("request header is 8 bytes"));
}

TEST_F(VirtioBlkTest, RequestWithoutStatusByteIsReturnedUnanswered) {
    start();
    header(VirtioBlk::kTypeFlush, 0);
    auto c = submit({{kHeader, 16, false}});
    EXPECT_EQ(c.len, 0u);
    EXPECT_TRUE(logged("without a writable status byte"));
}

TEST_F(VirtioBlkTest, MalformedChainDoesNotStopLaterRequests) {
    start();
    header(VirtioBlk::kTypeFlush, 0);
    auto bad = submit({{kHeader, 16, false}, {1ull << 40, 1, true}});
    EXPECT_EQ(bad.len, 0u);
    EXPECT_EQ(bad.status, 0xee);  // untouched
    EXPECT_EQ(request(VirtioBlk::kTypeFlush, 0, {}).status, VirtioBlk::kStatusOk);
    EXPECT_EQ(reg(mmio::kStatus) & kStatusDeviceNeedsReset, 0u);
}

TEST_F(VirtioBlkTest, ManyRequestsInOneNotification) {
    start();
    // 80 chains of 3 descriptors fit the 256-entry table at once.
    for (uint64_t i = 0; i < 80; ++i) {
        uint64_t hdr = kHeader + 16 * i;
        memory.writeObject<uint32_t>(hdr, VirtioBlk::kTypeIn);
        memory.writeObject<uint64_t>(hdr + 8, i % 64);
        ring.publish(ring.addChain(
            {{hdr, 16, false}, {kData + 512 * i, 512, true}, {kStatus + i, 1, true}}));
    }
    setReg(mmio::kQueueNotify, 0);
    EXPECT_EQ(ring.usedIdx(), 80);
    for (uint64_t i = 0; i < 80; ++i) {
        EXPECT_EQ(memory.readObject<uint8_t>(kStatus + i), VirtioBlk::kStatusOk);
        EXPECT_EQ(memory.readObject<uint8_t>(kData + 512 * i + 5),
                  test::diskPattern((i % 64) * 512 + 5));
    }
    EXPECT_EQ(interrupt->count, 1);  // one interrupt for the batch
}

// --- backend and configuration ---

class DiskFileTest : public ::testing::Test {
protected:
    std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("ingot-disk-test-" + std::to_string(::getpid()));
    void SetUp() override { std::filesystem::create_directories(dir); }
    void TearDown() override { std::filesystem::remove_all(dir); }
    std::string file(const std::string& name, size_t bytes) {
        auto p = dir / name;
        std::ofstream(p, std::ios::binary) << std::string(bytes, 'x');
        return p;
    }
};

TEST_F(DiskFileTest, RawFileSizeBecomesCapacity) {
    auto backend = RawFileBackend::open(file("ok.img", 4096), false);
    EXPECT_EQ(backend->sizeBytes(), 4096u);
    EXPECT_FALSE(backend->readOnly());
}

TEST_F(DiskFileTest, FileThatIsNotWholeSectorsIsRefused) {
    auto path = file("odd.img", 1000);
    auto e = test::errorFrom([&] { RawFileBackend::open(path, false); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status(), ExitStatus::kUsage);
    EXPECT_TRUE(test::contains(e->what(), path)) << e->what();
    EXPECT_TRUE(test::contains(e->what(), "not a whole number of 512-byte sectors")) << e->what();
}

TEST_F(DiskFileTest, MissingFileAndDirectoryAreRefused) {
    auto e = test::errorFrom([&] { RawFileBackend::open((dir / "none.img").string(), true); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status(), ExitStatus::kUsage);
    EXPECT_TRUE(test::contains(e->what(), "cannot open disk")) << e->what();
    e = test::errorFrom([&] { RawFileBackend::open(dir.string(), true); });
    ASSERT_TRUE(e);
    EXPECT_TRUE(test::contains(e->what(), "neither a regular file nor a block device"))
        << e->what();
}

TEST_F(DiskFileTest, ReadOnlyBackendNeverWrites) {
    auto path = file("ro.img", 512);
    auto backend = RawFileBackend::open(path, true);
    uint8_t b[512] = {};
    iovec iov{b, sizeof b};
    EXPECT_EQ(backend->write(0, {&iov, 1}), EROFS);
    EXPECT_EQ(backend->read(0, {&iov, 1}), 0);
    EXPECT_EQ(b[0], 'x');
}

TEST(DiskSpec, ParsesPathAndReadonly) {
    auto d = parseDiskSpec("/x/disk.img");
    EXPECT_EQ(d.path, "/x/disk.img");
    EXPECT_FALSE(d.readOnly);
    d = parseDiskSpec("/x/disk.img,readonly");
    EXPECT_EQ(d.path, "/x/disk.img");
    EXPECT_TRUE(d.readOnly);
    auto e = test::errorFrom([] { parseDiskSpec("/x/disk.img,rw"); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status(), ExitStatus::kUsage);
    EXPECT_TRUE(test::contains(e->what(), "unknown option 'rw'")) << e->what();
    EXPECT_TRUE(test::errorFrom([] { parseDiskSpec(",readonly"); }));
    EXPECT_TRUE(test::errorFrom([] { parseDiskSpec(""); }));
}

TEST(VirtioMmioSlots, FollowTheLayoutAndQemuCmdlineForm) {
    auto first = virtioMmioSlot(0);
    EXPECT_EQ(first.base, 0xd0000000u);
    EXPECT_EQ(first.size, 0x200u);
    EXPECT_EQ(first.gsi, 5u);
    auto third = virtioMmioSlot(2);
    EXPECT_EQ(third.base, 0xd0000400u);
    EXPECT_EQ(third.gsi, 7u);
    EXPECT_EQ(virtioMmioCmdlineParameter(third), "virtio_mmio.device=512@0xd0000400:7");
    // The last slot's GSI is still an IOAPIC pin the ACPI tables accept.
    EXPECT_LT(virtioMmioSlot(kMaxVirtioMmioDevices - 1).gsi, 24u);
}

}  // namespace
}  // namespace ingot::vmm::virtio
