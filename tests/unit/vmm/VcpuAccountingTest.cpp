#include "accounting/VcpuAccounting.h"

#include <gtest/gtest.h>
#include <linux/kvm.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "devices/IoBus.h"
#include "devices/IoDevice.h"

namespace ingot::vmm {
namespace {

class NamedDevice : public IoDevice {
public:
    explicit NamedDevice(std::string name) : name_(std::move(name)) {}
    std::string_view name() const override { return name_; }
    void read(uint64_t, std::span<uint8_t> data) override { fillAccess(data, 0); }
    void write(uint64_t, std::span<const uint8_t>) override {}

private:
    std::string name_;
};

using Bus = VcpuAccounting::Bus;

// What a vCPU does with a port I/O or MMIO exit: the bus says which range took the address,
// and the exit's time goes to that range's counter.
void exitAt(VcpuAccounting& a, const IoBus& bus, Bus kind, uint64_t address, uint64_t ns) {
    auto claim = bus.claim(address);
    a.recordExit(kind == Bus::kPio ? KVM_EXIT_IO : KVM_EXIT_MMIO,
                 {kind, claim ? std::optional<size_t>(claim->range) : std::nullopt}, ns);
}

class DeviceAttribution : public ::testing::Test {
protected:
    void SetUp() override {
        auto uart = std::make_shared<NamedDevice>("uart16550");
        pio.add(0x3f8, 8, uart);
        pio.add(0x60, 5, std::make_shared<NamedDevice>("i8042"));
        pio.add(0x2f8, 8, uart);  // a second range of the same device
        mmio.add(0xd0000000, 0x200, std::make_shared<NamedDevice>("virtio-blk0 (a.img)"));
        mmio.add(0xd0000200, 0x200, std::make_shared<NamedDevice>("virtio-net0 (tap t0)"));
    }
    IoBus pio, mmio;
};

TEST_F(DeviceAttribution, ChargesEachExitToTheDeviceAtItsAddress) {
    VcpuAccounting a(pio.rangeNames(), mmio.rangeNames());
    exitAt(a, pio, Bus::kPio, 0x3f8, 100);
    exitAt(a, pio, Bus::kPio, 0x3fd, 200);
    exitAt(a, pio, Bus::kPio, 0x2f8, 1000);
    exitAt(a, pio, Bus::kPio, 0x64, 30);
    exitAt(a, pio, Bus::kPio, 0x80, 7);  // nothing there
    exitAt(a, mmio, Bus::kMmio, 0xd0000070, 400);
    exitAt(a, mmio, Bus::kMmio, 0xd00003fc, 50);
    exitAt(a, mmio, Bus::kMmio, 0xfee00000, 9);
    a.recordExit(KVM_EXIT_HLT, {}, 5);

    auto c = a.exitCounts();
    ASSERT_EQ(c.byDevice.size(), 6u);
    EXPECT_EQ(c.byDevice.at("uart16550").bus, "pio");
    EXPECT_EQ(c.byDevice.at("uart16550").exits.count, 3u);  // both ranges
    EXPECT_EQ(c.byDevice.at("uart16550").exits.ns, 1300u);
    EXPECT_EQ(c.byDevice.at("i8042").exits.ns, 30u);
    EXPECT_EQ(c.byDevice.at("unclaimed-pio").exits.ns, 7u);
    EXPECT_EQ(c.byDevice.at("virtio-blk0 (a.img)").bus, "mmio");
    EXPECT_EQ(c.byDevice.at("virtio-blk0 (a.img)").exits.ns, 400u);
    EXPECT_EQ(c.byDevice.at("virtio-net0 (tap t0)").exits.ns, 50u);
    EXPECT_EQ(c.byDevice.at("unclaimed-mmio").exits.count, 1u);
    EXPECT_EQ(c.byReason.at("io").count, 5u);
    EXPECT_EQ(c.byReason.at("io").ns, 1337u);
    EXPECT_EQ(c.byReason.at("mmio").count, 3u);
    EXPECT_EQ(c.byReason.at("hlt").ns, 5u);
    EXPECT_EQ(c.byReason.size(), 3u);
}

TEST_F(DeviceAttribution, AnUnknownRangeOrReasonLandsInACatchAll) {
    VcpuAccounting a(pio.rangeNames(), mmio.rangeNames());
    a.recordExit(KVM_EXIT_IO, {Bus::kPio, size_t{99}}, 1);  // a range added after the vCPU
    a.recordExit(1000, {}, 2);
    a.recordExit(UINT32_MAX, {}, 3);
    auto c = a.exitCounts();
    EXPECT_EQ(c.byDevice.at("unclaimed-pio").exits.count, 1u);
    EXPECT_EQ(c.byReason.at("reason-other").count, 2u);
    EXPECT_EQ(c.byReason.at("reason-other").ns, 5u);
}

TEST(VcpuAccounting, NothingBeforeTheThreadStarts) {
    VcpuAccounting a({}, {});
    auto f = a.figures(2, {{"exits", 5}});
    EXPECT_EQ(f.index, 2u);
    EXPECT_EQ(f.wallNs, 0u);
    EXPECT_EQ(f.cpuNs, 0u);
}

TEST(VcpuAccounting, ReadsAnotherThreadWhileItRunsAndKeepsItsLastReadings) {
    VcpuAccounting a({"uart16550"}, {});
    std::atomic<int> phase{0};
    std::thread vcpu([&] {
        a.threadStarted();
        // Some CPU time of its own, then exits, then wait to be read.
        volatile uint64_t sink = 0;
        const uint64_t until = VcpuAccounting::monotonicNs() + 20'000'000;
        while (VcpuAccounting::monotonicNs() < until) sink = sink + 1;
        a.recordExit(KVM_EXIT_IO, {Bus::kPio, size_t{0}}, 40);
        phase = 1;
        while (phase.load() != 2) std::this_thread::yield();
        a.threadFinished();
    });
    while (phase.load() != 1) std::this_thread::yield();
    auto live = a.figures(0, {});
    EXPECT_GT(live.wallNs, 0u);
    EXPECT_GT(live.cpuNs, 0u);  // the other thread's CPU clock, not this one's
    EXPECT_EQ(live.devices.at("uart16550").exits.ns, 40u);
    EXPECT_EQ(live.monitorNs, 40u);
    phase = 2;
    vcpu.join();

    // The thread is gone: its own last readings stand, read as often as anyone likes.
    auto end1 = a.figures(0, {});
    auto end2 = a.figures(0, {});
    EXPECT_EQ(end1.wallNs, end2.wallNs);
    EXPECT_EQ(end1.cpuNs, end2.cpuNs);
    EXPECT_GE(end1.wallNs, live.wallNs);
    EXPECT_GE(end1.cpuNs, live.cpuNs);
    EXPECT_LE(end1.guestNs, end1.cpuNs);
}

}  // namespace
}  // namespace ingot::vmm
