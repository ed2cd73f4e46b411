// virtio-net against a driver's chains in guest memory and a datagram socket pair standing in
// for the tap: frames both ways with their headers, chains of the wrong shape, waiting for
// frames and for buffers, offloads following the negotiated features, rate limits per
// direction, and --net parsing.
#include "devices/virtio/VirtioNet.h"

#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "VirtioTestSupport.h"
#include "VmConfig.h"
#include "VmmTestSupport.h"
#include "devices/virtio/VirtioSpec.h"

namespace ingot::vmm::virtio {
namespace {

using test::TestRing;

struct Offloads {
    bool checksum = false, tso4 = false, tso6 = false;
    int calls = 0;
};

// One end of a SOCK_DGRAM pair keeps frame boundaries as a tap does.
class SocketPairBackend : public NetBackend {
public:
    SocketPairBackend(int fd, Offloads* offloads) : fd_(fd), offloads_(offloads) {}
    int fd() const override { return fd_.get(); }
    std::string setReceiveOffloads(bool checksum, bool tso4, bool tso6) override {
        *offloads_ = {checksum, tso4, tso6, offloads_->calls + 1};
        return {};
    }
    std::string describe() const override { return "socket pair"; }

private:
    FileDescriptor fd_;
    Offloads* offloads_;
};

constexpr uint64_t kRxData = 0x100000;
constexpr uint64_t kTxData = 0x800000;

class VirtioNetTest : public ::testing::Test {
protected:
    void SetUp() override {
        int fds[2];
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
        deviceEnd = fds[0];
        peer = FileDescriptor(fds[1]);
        // Room for a few 64 KiB frames in flight.
        int big = 1 << 20;
        ::setsockopt(deviceEnd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
        ::setsockopt(peer.get(), SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    }

    std::unique_ptr<VirtioNet> makeNet(RateLimiter receive = {}, RateLimiter send = {}) {
        auto net = std::make_unique<VirtioNet>(
            "virtio-net-test", std::make_unique<SocketPairBackend>(deviceEnd, &offloads), kMac,
            std::move(receive), std::move(send));
        net->log().setSink([this](const std::string& line) { logLines.push_back(line); });
        net->setWakeUp([this](unsigned queue, std::chrono::nanoseconds after) {
            wakeUps.push_back({queue, after});
        });
        return net;
    }
    VirtQueue queue(TestRing& ring, unsigned index) {
        return VirtQueue(memory, ring.layout(), kFeatureVersion1 | kFeatureIndirectDesc, index, log);
    }
    // A frame as the backend carries it: a 12-byte header (first byte `flags`), then `payload`
    // bytes of a pattern that starts at `seed`.
    static std::vector<uint8_t> frame(size_t payload, uint8_t seed, uint8_t flags = 0) {
        std::vector<uint8_t> f(VirtioNet::kHeaderBytes + payload, 0);
        f[0] = flags;
        for (size_t i = 0; i < payload; ++i)
            f[VirtioNet::kHeaderBytes + i] = static_cast<uint8_t>(seed + i * 13);
        return f;
    }
    void peerSends(const std::vector<uint8_t>& f) {
        ASSERT_EQ(::send(peer.get(), f.data(), f.size(), 0), static_cast<ssize_t>(f.size()));
    }
    // The next frame the device sent, or empty when there is none.
    std::vector<uint8_t> peerReceives() {
        std::vector<uint8_t> f(VirtioNet::kMaxPacketBytes + 16);
        ssize_t n = ::recv(peer.get(), f.data(), f.size(), MSG_DONTWAIT);
        f.resize(n > 0 ? static_cast<size_t>(n) : 0);
        return f;
    }
    // Publishes `f` as one transmit chain split into two buffers (header, then the rest).
    void guestSends(const std::vector<uint8_t>& f, uint64_t at = kTxData) {
        memory.write(at, f);
        tx.publish(tx.addChain({{at, VirtioNet::kHeaderBytes, false},
                                {at + VirtioNet::kHeaderBytes,
                                 static_cast<uint32_t>(f.size() - VirtioNet::kHeaderBytes),
                                 false}}));
    }
    // Publishes a receive chain of two writable buffers, `first` and `second` bytes long.
    void guestPostsReceive(uint32_t first, uint32_t second, uint64_t at = kRxData) {
        rx.publish(rx.addChain({{at, first, true}, {at + 0x10000, second, true}}));
    }
    std::vector<uint8_t> guestBytes(uint64_t gpa, size_t n) {
        auto bytes = memory.slice(gpa, n);
        return {bytes.begin(), bytes.end()};
    }

    static constexpr VirtioNet::Mac kMac{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    GuestMemory memory{16ull << 20};
    TestRing rx{memory, 16};
    TestRing tx{memory, 16, 0x40000};
    RateLimitedLog log{"test-net", std::chrono::nanoseconds(0)};
    int deviceEnd = -1;
    FileDescriptor peer;
    Offloads offloads;
    std::vector<std::string> logLines;
    std::vector<std::pair<unsigned, std::chrono::nanoseconds>> wakeUps;
};

TEST_F(VirtioNetTest, IsANetworkCardWithItsMacAndOffloads) {
    auto net = makeNet();
    EXPECT_EQ(net->deviceType(), 1u);
    EXPECT_EQ(net->queueCount(), 2u);
    const uint64_t f = net->offeredFeatures();
    for (uint64_t bit : {kFeatureVersion1, VirtioNet::kFeatureMac, VirtioNet::kFeatureCsum,
                         VirtioNet::kFeatureGuestCsum, VirtioNet::kFeatureHostTso4,
                         VirtioNet::kFeatureGuestTso4})
        EXPECT_TRUE(f & bit) << bit;
    uint8_t config[10];
    std::memset(config, 0xff, sizeof config);
    net->readConfig(0, config);
    EXPECT_EQ(std::vector<uint8_t>(config, config + 6), std::vector<uint8_t>(kMac.begin(), kMac.end()));
    EXPECT_EQ(config[6], 0);  // status: not offered, reads as zero
    uint8_t tail[2];
    net->readConfig(4, tail);
    EXPECT_EQ(tail[0], 0x34);
    EXPECT_EQ(tail[1], 0x56);
}

TEST_F(VirtioNetTest, TransmitsEachChainAsOneFrameWithItsHeader) {
    auto net = makeNet();
    auto q = queue(tx, VirtioNet::kTransmitQueue);
    auto a = frame(1500, 1, 1), b = frame(60, 7);
    guestSends(a, kTxData);
    guestSends(b, kTxData + 0x10000);
    net->processQueue(VirtioNet::kTransmitQueue, q);
    EXPECT_EQ(peerReceives(), a);
    EXPECT_EQ(peerReceives(), b);
    EXPECT_TRUE(peerReceives().empty());
    ASSERT_EQ(tx.usedIdx(), 2u);
    EXPECT_EQ(tx.used(0).len, 0u);
    auto s = net->stats();
    EXPECT_EQ(s.sentFrames, 2u);
    EXPECT_EQ(s.sentBytes, a.size() + b.size());
}

TEST_F(VirtioNetTest, ReceivesAFrameIntoTheNextChainAndSetsNumBuffers) {
    auto net = makeNet();
    net->activate(kFeatureVersion1);
    auto q = queue(rx, VirtioNet::kReceiveQueue);
    guestPostsReceive(12, 4000);
    auto f = frame(1000, 3, 1);
    f[10] = 0x77;  // tun leaves num_buffers alone; the device must write it
    peerSends(f);
    net->processQueue(VirtioNet::kReceiveQueue, q);
    ASSERT_EQ(rx.usedIdx(), 1u);
    EXPECT_EQ(rx.used(0).len, f.size());
    auto header = guestBytes(kRxData, 12);
    EXPECT_EQ(header[0], 1);
    EXPECT_EQ(header[10], 1);  // num_buffers = 1
    EXPECT_EQ(header[11], 0);
    EXPECT_EQ(guestBytes(kRxData + 0x10000, 1000),
              std::vector<uint8_t>(f.begin() + 12, f.end()));
    EXPECT_EQ(net->stats().receivedFrames, 1u);
}

TEST_F(VirtioNetTest, WantsInputOnlyWhileItHasABufferForIt) {
    auto net = makeNet();
    EXPECT_FALSE(net->wantsHostInput());  // not active yet
    net->activate(kFeatureVersion1);
    auto q = queue(rx, VirtioNet::kReceiveQueue);
    // No buffers: the tap must not be polled, or a waiting frame would spin the worker.
    peerSends(frame(100, 1));
    net->processQueue(VirtioNet::kReceiveQueue, q);
    EXPECT_FALSE(net->wantsHostInput());
    EXPECT_EQ(rx.usedIdx(), 0u);
    // A buffer: the waiting frame goes in; then the buffer-less wait again.
    guestPostsReceive(12, 2000);
    net->processQueue(VirtioNet::kReceiveQueue, q);
    EXPECT_EQ(rx.usedIdx(), 1u);
    EXPECT_FALSE(net->wantsHostInput());
    // A buffer and no frame: the chain is held and the tap polled.
    guestPostsReceive(12, 2000, kRxData + 0x40000);
    net->processQueue(VirtioNet::kReceiveQueue, q);
    EXPECT_TRUE(net->wantsHostInput());
    EXPECT_EQ(rx.usedIdx(), 1u);
    const auto late = frame(200, 9);
    peerSends(late);
    net->processQueue(VirtioNet::kReceiveQueue, q);
    ASSERT_EQ(rx.usedIdx(), 2u);
    EXPECT_EQ(rx.used(1).len, 212u);
    EXPECT_EQ(guestBytes(kRxData + 0x50000, 200), std::vector<uint8_t>(late.begin() + 12, late.end()));
    net->reset();
    EXPECT_FALSE(net->wantsHostInput());
}

TEST_F(VirtioNetTest, ChainsOfTheWrongShapeAreReturnedUnusedAndTheRestServed) {
    auto net = makeNet();
    net->activate(kFeatureVersion1);
    auto tq = queue(tx, VirtioNet::kTransmitQueue);
    memory.write(kTxData, frame(100, 1));
    tx.publish(tx.addChain({{kTxData, 11, false}}));                      // shorter than a header
    tx.publish(tx.addChain({{kTxData, 112, false}, {kTxData + 0x1000, 4, true}}));  // writable part
    tx.publish(tx.addChain({{kTxData, 65536, false}, {kTxData + 65536, 65536, false}}));  // too big
    guestSends(frame(100, 5), kTxData + 0x40000);
    net->processQueue(VirtioNet::kTransmitQueue, tq);
    ASSERT_EQ(tx.usedIdx(), 4u);
    EXPECT_EQ(peerReceives(), frame(100, 5));
    EXPECT_TRUE(peerReceives().empty());

    auto rq = queue(rx, VirtioNet::kReceiveQueue);
    rx.publish(rx.addChain({{kRxData, 11, true}}));                        // no room for a header
    rx.publish(rx.addChain({{kRxData, 4, false}, {kRxData + 0x1000, 2000, true}}));  // readable part
    guestPostsReceive(12, 2000, kRxData + 0x80000);
    peerSends(frame(50, 2));
    net->processQueue(VirtioNet::kReceiveQueue, rq);
    ASSERT_EQ(rx.usedIdx(), 3u);
    EXPECT_EQ(rx.used(0).len, 0u);
    EXPECT_EQ(rx.used(1).len, 0u);
    EXPECT_EQ(rx.used(2).len, 62u);
    auto s = net->stats();
    EXPECT_EQ(s.refusedChains, 5u);
    EXPECT_EQ(s.sentFrames, 1u);
    EXPECT_EQ(s.receivedFrames, 1u);
    EXPECT_EQ(net->log().total(), 5u);  // printed at most once a second, all counted
    EXPECT_FALSE(logLines.empty());
}

TEST_F(VirtioNetTest, OffloadsFollowWhatTheGuestAccepted) {
    auto net = makeNet();
    net->activate(kFeatureVersion1 | VirtioNet::kFeatureGuestCsum | VirtioNet::kFeatureGuestTso4);
    EXPECT_TRUE(offloads.checksum);
    EXPECT_TRUE(offloads.tso4);
    EXPECT_FALSE(offloads.tso6);
    net->reset();
    EXPECT_FALSE(offloads.checksum || offloads.tso4 || offloads.tso6);
    // TSO without checksum offload is not something tun can do: neither is enabled.
    net->activate(kFeatureVersion1 | VirtioNet::kFeatureGuestTso4);
    EXPECT_FALSE(offloads.checksum || offloads.tso4);
}

TEST_F(VirtioNetTest, AFullBatchSendsAndComesBackWithoutANotification) {
    auto net = makeNet();
    TestRing big(memory, 128, 0x80000);
    VirtQueue q(memory, big.layout(), kFeatureVersion1, VirtioNet::kTransmitQueue, log);
    memory.write(kTxData, frame(40, 1));
    for (unsigned i = 0; i < VirtioNet::kBatch + 6; ++i)
        big.publish(big.addChain({{kTxData, 52, false}}));
    net->processQueue(VirtioNet::kTransmitQueue, q);
    EXPECT_EQ(big.usedIdx(), VirtioNet::kBatch);
    ASSERT_EQ(wakeUps.size(), 1u);
    EXPECT_EQ(wakeUps[0].first, VirtioNet::kTransmitQueue);
    EXPECT_EQ(wakeUps[0].second.count(), 0);
    net->processQueue(VirtioNet::kTransmitQueue, q);
    EXPECT_EQ(big.usedIdx(), VirtioNet::kBatch + 6);
}

// --- rate limits, on a fake clock ---

class VirtioNetRateTest : public VirtioNetTest {
protected:
    RateLimiter limiter(uint64_t bytesPerSecond, uint64_t framesPerSecond) {
        return RateLimiter(RateLimit{bytesPerSecond, framesPerSecond}, [this] { return now; });
    }
    RateLimiter::Clock::time_point now{std::chrono::seconds(1000)};
};

TEST_F(VirtioNetRateTest, TransmitWaitsForTokensThenSends) {
    auto net = makeNet({}, limiter(1000, 0));  // 1000 bytes/s, one second of burst
    auto q = queue(tx, VirtioNet::kTransmitQueue);
    guestSends(frame(588, 1), kTxData);             // 600 bytes: paid from the burst
    guestSends(frame(588, 2), kTxData + 0x10000);   // 600 more: 200 short
    net->processQueue(VirtioNet::kTransmitQueue, q);
    EXPECT_EQ(tx.usedIdx(), 1u);
    ASSERT_EQ(wakeUps.size(), 1u);
    EXPECT_EQ(wakeUps[0].first, VirtioNet::kTransmitQueue);
    EXPECT_EQ(wakeUps[0].second, std::chrono::milliseconds(200));
    EXPECT_EQ(net->stats().sendThrottled, 1u);
    net->processQueue(VirtioNet::kTransmitQueue, q);  // too early: still held, counted once
    EXPECT_EQ(tx.usedIdx(), 1u);
    EXPECT_EQ(net->stats().sendThrottled, 1u);
    now += std::chrono::milliseconds(200);
    net->processQueue(VirtioNet::kTransmitQueue, q);
    EXPECT_EQ(tx.usedIdx(), 2u);
    EXPECT_EQ(peerReceives(), frame(588, 1));
    EXPECT_EQ(peerReceives(), frame(588, 2));
}

TEST_F(VirtioNetRateTest, ReceiveWaitsUntilAFullChainIsPaidFor) {
    auto net = makeNet(limiter(0, 2), {});  // 2 frames/s
    net->activate(kFeatureVersion1);
    auto q = queue(rx, VirtioNet::kReceiveQueue);
    for (int i = 0; i < 3; ++i) guestPostsReceive(12, 1000, kRxData + 0x20000ull * i);
    for (int i = 0; i < 3; ++i) peerSends(frame(100, static_cast<uint8_t>(i)));
    net->processQueue(VirtioNet::kReceiveQueue, q);
    EXPECT_EQ(rx.usedIdx(), 2u);
    EXPECT_FALSE(net->wantsHostInput());  // throttled: the tap is not polled meanwhile
    ASSERT_EQ(wakeUps.size(), 1u);
    EXPECT_EQ(wakeUps[0].first, VirtioNet::kReceiveQueue);
    EXPECT_EQ(wakeUps[0].second, std::chrono::milliseconds(500));
    now += std::chrono::milliseconds(500);
    net->processQueue(VirtioNet::kReceiveQueue, q);
    EXPECT_EQ(rx.usedIdx(), 3u);
    const auto third = frame(100, 2);
    EXPECT_EQ(guestBytes(kRxData + 0x40000 + 0x10000, 100),
              std::vector<uint8_t>(third.begin() + 12, third.end()));
}

// --- --net ---

TEST(NetSpec, ParsesTapMacAndRates) {
    auto n = parseNetSpec("tap=ingot0,mac=52:54:00:AB:cd:01,bps=4M,tx-pps=1000");
    EXPECT_EQ(n.tap, "ingot0");
    EXPECT_EQ(n.mac, (std::array<uint8_t, 6>{0x52, 0x54, 0x00, 0xab, 0xcd, 0x01}));
    EXPECT_EQ(n.receiveBytesPerSecond, 4u << 20);
    EXPECT_EQ(n.sendBytesPerSecond, 4u << 20);
    EXPECT_EQ(n.sendFramesPerSecond, 1000u);
    EXPECT_EQ(n.receiveFramesPerSecond, 0u);
    auto r = parseNetSpec("tap=t1,rx-bps=1M");
    EXPECT_EQ(r.receiveBytesPerSecond, 1u << 20);
    EXPECT_EQ(r.sendBytesPerSecond, 0u);
}

TEST(NetSpec, WithoutAMacPicksALocallyAdministeredUnicastOne) {
    auto a = parseNetSpec("tap=t0"), b = parseNetSpec("tap=t0");
    EXPECT_EQ(a.mac[0] & 0x03, 0x02);
    EXPECT_NE(a.mac, b.mac);
}

TEST(NetSpec, RefusesWhatIsNotANetworkCard) {
    for (const char* bad : {"", "ingot0", "tap=", "tap=t0,mac=52:54:00:12:34", "tap=t0,mac=zz:54:00:12:34:56",
                            "tap=t0,mac=01:00:5e:00:00:01", "tap=t0,speed=1G", "tap=t0,bps=4M,rx-bps=1M",
                            "tap=t0,bps=fast", "tap=t0,pps=0", "tap=t0,mac=52:54:00:12:34:56,mac=52:54:00:12:34:57"}) {
        auto e = test::errorFrom([&] { parseNetSpec(bad); });
        ASSERT_TRUE(e) << bad;
        EXPECT_EQ(e->status(), ExitStatus::kUsage) << bad;
        EXPECT_TRUE(test::contains(e->what(), "--net")) << e->what();
    }
    auto e = test::errorFrom([] { parseNetSpec("tap=t0,mac=01:00:5e:00:00:01"); });
    EXPECT_TRUE(test::contains(e->what(), "multicast")) << e->what();
}

}  // namespace
}  // namespace ingot::vmm::virtio
