#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "VmLifecycle.h"
#include "devices/BootProgress.h"
#include "devices/DebugExit.h"
#include "devices/IoDevice.h"
#include "devices/PvPanic.h"
#include "devices/power/AcpiPowerControl.h"

namespace ingot::vmm {
namespace {

void out8(IoDevice& d, uint64_t offset, uint8_t v) {
    d.write(offset, {&v, 1});
}
void out32(IoDevice& d, uint64_t offset, uint32_t v) {
    uint8_t b[4] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8),
                    static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 24)};
    d.write(offset, b);
}
uint8_t in8(IoDevice& d, uint64_t offset) {
    uint8_t v = 0xcc;
    d.read(offset, {&v, 1});
    return v;
}

// --- VmLifecycle -------------------------------------------------------------------------------

TEST(VmLifecycle, StartsRunning) {
    VmLifecycle life;
    EXPECT_FALSE(life.stopping());
    EXPECT_EQ(life.reason(), StopReason::kNone);
    EXPECT_STREQ(stopReasonName(StopReason::kNone), "running");
}

TEST(VmLifecycle, FirstStopWinsAndKicksOnce) {
    VmLifecycle life;
    int kicks = 0;
    life.setKick([&] { ++kicks; });
    life.requestStop(StopReason::kPoweroff, 0, "first");
    life.requestStop(StopReason::kGuestPanic, 6, "second");
    EXPECT_TRUE(life.stopping());
    EXPECT_EQ(life.reason(), StopReason::kPoweroff);
    EXPECT_EQ(life.exitStatus(), 0);
    EXPECT_EQ(life.detail(), "first");
    EXPECT_EQ(kicks, 1);
}

TEST(VmLifecycle, WaitForStopReturnsOnceAnotherThreadStops) {
    VmLifecycle life;
    std::thread stopper([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        life.requestStop(StopReason::kSignal, 1);
    });
    life.waitForStop();
    stopper.join();
    EXPECT_EQ(life.reason(), StopReason::kSignal);
}

// --- debug-exit --------------------------------------------------------------------------------

TEST(DebugExit, WriteEndsTheVmWithAnOddStatus) {
    for (uint8_t v : {0, 1, 0x10, 0x7f}) {
        SCOPED_TRACE(int{v});
        VmLifecycle life;
        DebugExit dev(life);
        out8(dev, 0, v);
        EXPECT_EQ(life.reason(), StopReason::kDebugExit);
        EXPECT_EQ(life.exitStatus(), (v << 1) | 1);
        EXPECT_EQ(life.detail(), "debug-exit value " + std::to_string(v));
    }
}

TEST(DebugExit, WideWritesUseTheWholeValueTruncatedToAnExitStatus) {
    VmLifecycle life;
    DebugExit dev(life);
    out32(dev, 0, 0x31);
    EXPECT_EQ(life.exitStatus(), 0x63);
}

TEST(DebugExit, FirstStopWinsOverALaterOne) {
    VmLifecycle life;
    DebugExit dev(life);
    out8(dev, 0, 3);
    out8(dev, 0, 9);
    EXPECT_EQ(life.exitStatus(), 7);

    VmLifecycle other;
    other.requestStop(StopReason::kPoweroff, 0);
    DebugExit late(other);
    out8(late, 0, 3);
    EXPECT_EQ(other.reason(), StopReason::kPoweroff);
    EXPECT_EQ(other.exitStatus(), 0);
}

TEST(DebugExit, ReadsReturnZero) {
    VmLifecycle life;
    DebugExit dev(life);
    EXPECT_EQ(in8(dev, 0), 0);
    EXPECT_FALSE(life.stopping());
}

// --- ACPI power controls -----------------------------------------------------------------------

TEST(AcpiPowerControl, SleepTypeFiveWithSlpEnPowersOff) {
    VmLifecycle life;
    AcpiPowerControl dev(life, 5, 0x0e);
    out8(dev, AcpiPowerControl::kSleepControl, AcpiPowerControl::kSlpEn | (5 << 2));
    EXPECT_EQ(life.reason(), StopReason::kPoweroff);
    EXPECT_EQ(life.exitStatus(), 0);
}

TEST(AcpiPowerControl, OtherSleepTypesOrNoSlpEnAreIgnored) {
    VmLifecycle life;
    AcpiPowerControl dev(life, 5, 0x0e);
    for (uint8_t type = 0; type < 8; ++type)
        if (type != 5) out8(dev, 0, static_cast<uint8_t>(AcpiPowerControl::kSlpEn | (type << 2)));
    out8(dev, 0, 5 << 2);                               // SLP_TYP without SLP_EN
    out8(dev, AcpiPowerControl::kSleepStatus, 0xff);    // sleep status register
    out8(dev, 2, AcpiPowerControl::kSlpEn | (5 << 2));  // not the control register
    EXPECT_FALSE(life.stopping());
}

TEST(AcpiPowerControl, ResetRegisterWithTheResetValueReboots) {
    VmLifecycle life;
    AcpiPowerControl dev(life, 5, 0x0e);
    out8(dev, AcpiPowerControl::kReset, 0x06);
    EXPECT_FALSE(life.stopping());
    out8(dev, AcpiPowerControl::kReset, 0x0e);
    EXPECT_EQ(life.reason(), StopReason::kReboot);
    EXPECT_EQ(life.exitStatus(), 0);
}

TEST(AcpiPowerControl, ReadsReturnZero) {
    VmLifecycle life;
    AcpiPowerControl dev(life, 5, 0x0e);
    EXPECT_EQ(in8(dev, AcpiPowerControl::kSleepStatus), 0);
}

// --- pvpanic -----------------------------------------------------------------------------------

TEST(PvPanic, PanickedEndsTheVmWithTheCrashStatus) {
    VmLifecycle life;
    PvPanic dev(life);
    out8(dev, 0, PvPanic::kPanicked);
    EXPECT_EQ(life.reason(), StopReason::kGuestPanic);
    EXPECT_EQ(life.exitStatus(), 6);
}

TEST(PvPanic, CrashLoadedAloneDoesNotStop) {
    VmLifecycle life;
    PvPanic dev(life);
    out8(dev, 0, PvPanic::kCrashLoaded);
    EXPECT_FALSE(life.stopping());
}

TEST(PvPanic, AdvertisesThePanickedEvent) {
    VmLifecycle life;
    PvPanic dev(life);
    EXPECT_EQ(in8(dev, 0), 1);
}

// --- boot progress -----------------------------------------------------------------------------

TEST(BootProgress, RecordsCodesWithIncreasingTimestamps) {
    auto start = std::chrono::steady_clock::now();
    BootProgress dev(start);
    out32(dev, 0, BootProgress::kFirmwareEntry);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    out32(dev, 0, BootProgress::kKernelJump);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    out32(dev, 0, 0x12345678);
    auto elapsed = std::chrono::steady_clock::now() - start;
    auto events = dev.events();
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].code, 0x01u);
    EXPECT_EQ(events[1].code, 0x03u);
    EXPECT_EQ(events[2].code, 0x12345678u);
    EXPECT_LT(events[0].nanoseconds, events[1].nanoseconds);
    EXPECT_LT(events[1].nanoseconds, events[2].nanoseconds);
    EXPECT_GE(events[1].nanoseconds - events[0].nanoseconds, 2'000'000u);
    EXPECT_LE(events[2].nanoseconds, static_cast<uint64_t>(elapsed.count()));
}

TEST(BootProgress, CapsTheNumberOfEvents) {
    BootProgress dev(std::chrono::steady_clock::now());
    for (uint32_t i = 0; i < 5000; ++i) out32(dev, 0, i);
    auto events = dev.events();
    ASSERT_EQ(events.size(), 4096u);
    EXPECT_EQ(events.front().code, 0u);
    EXPECT_EQ(events.back().code, 4095u);  // the earliest ones are kept
    for (size_t i = 1; i < events.size(); ++i)
        ASSERT_LE(events[i - 1].nanoseconds, events[i].nanoseconds) << i;
}

TEST(BootProgress, NamesTheDocumentedMilestones) {
    EXPECT_STREQ(BootProgress::codeName(0x01), "firmware-entry");
    EXPECT_STREQ(BootProgress::codeName(0x02), "firmware-verified");
    EXPECT_STREQ(BootProgress::codeName(0x03), "kernel-jump");
    EXPECT_STREQ(BootProgress::codeName(0x10), "userspace-up");
    EXPECT_EQ(BootProgress::codeName(0x42), nullptr);
}

TEST(BootProgress, ReadsReturnZero) {
    BootProgress dev(std::chrono::steady_clock::now());
    EXPECT_EQ(in8(dev, 0), 0);
    EXPECT_TRUE(dev.events().empty());
}

}  // namespace
}  // namespace ingot::vmm
