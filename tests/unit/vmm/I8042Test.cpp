#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "VmLifecycle.h"
#include "devices/legacy/I8042.h"

namespace ingot::vmm {
namespace {

class CountingLine : public InterruptLine {
public:
    void set(bool level) override {
        if (level && !level_) ++edges;
        level_ = level;
    }
    int edges = 0;

private:
    bool level_ = false;
};

struct Fixture {
    VmLifecycle life;
    CountingLine irq;
    I8042 dev{life, &irq};

    void command(uint8_t c) { dev.write(I8042::kCommandPort, {&c, 1}); }
    void data(uint8_t v) { dev.write(I8042::kDataPort, {&v, 1}); }
    uint8_t status() {
        uint8_t v = 0xcc;
        dev.read(I8042::kCommandPort, {&v, 1});
        return v;
    }
    uint8_t readData() {
        uint8_t v = 0xcc;
        dev.read(I8042::kDataPort, {&v, 1});
        return v;
    }
    // Everything waiting in the output buffer, read the way Linux's i8042_flush does.
    std::vector<uint8_t> drain() {
        std::vector<uint8_t> out;
        while (status() & I8042::kStatusOutputFull) out.push_back(readData());
        return out;
    }
    // What Linux's i8042 driver does before it hands the port to atkbd, and atkbd's probe.
    void bootLikeLinux() {
        command(I8042::kCommandReadCommandByte);
        uint8_t ctr = readData();
        command(I8042::kCommandSelfTest);
        EXPECT_EQ(readData(), 0x55) << "controller self-test";
        command(I8042::kCommandWriteAuxOutput);  // AUX loopback: there is no AUX port
        data(0x5a);
        command(I8042::kCommandTestAux);
        drain();
        command(I8042::kCommandWriteCommandByte);
        data(static_cast<uint8_t>((ctr | I8042::kCommandByteKeyboardInterrupt) &
                                  ~I8042::kCommandByteKeyboardDisabled));
        data(0xf2);  // GETID
        EXPECT_EQ(drain(), (std::vector<uint8_t>{0xfa, 0xab, 0x83}));
        data(0xf4);  // enable scanning
        EXPECT_EQ(drain(), std::vector<uint8_t>{0xfa});
    }
};

TEST(I8042, PulseResetCommandReboots) {
    Fixture f;
    f.command(I8042::kCommandPulseReset);
    EXPECT_EQ(f.life.reason(), StopReason::kReboot);
    EXPECT_EQ(f.life.exitStatus(), 0);
}

TEST(I8042, StartsEmptyUntranslatedWithTheKeyboardInterruptOn) {
    Fixture f;
    EXPECT_EQ(f.status() & I8042::kStatusOutputFull, 0);
    EXPECT_EQ(f.readData(), 0) << "an empty buffer reads zero";
    f.command(I8042::kCommandReadCommandByte);
    EXPECT_NE(f.status() & I8042::kStatusOutputFull, 0);
    uint8_t ctr = f.readData();
    EXPECT_EQ(ctr & I8042::kCommandByteTranslate, 0) << "set 2 reaches the guest untranslated";
    EXPECT_NE(ctr & I8042::kCommandByteKeyboardInterrupt, 0);
    EXPECT_EQ(f.irq.edges, 0) << "controller replies raise no interrupt";
}

TEST(I8042, CommandByteAndOutputPortRoundTrip) {
    Fixture f;
    f.command(I8042::kCommandWriteCommandByte);
    EXPECT_NE(f.status() & I8042::kStatusLastWriteWasCommand, 0);
    f.data(0x47);
    f.command(I8042::kCommandReadCommandByte);
    EXPECT_EQ(f.readData(), 0x47);
    f.command(I8042::kCommandWriteOutputPort);
    f.data(0xdf);  // Linux's A20 gate
    f.command(I8042::kCommandReadOutputPort);
    EXPECT_EQ(f.readData(), 0xdf);
    EXPECT_FALSE(f.life.stopping());
}

TEST(I8042, TheAuxPortIsAbsent) {
    Fixture f;
    f.command(I8042::kCommandWriteAuxOutput);
    f.data(0x5a);
    ASSERT_NE(f.status() & I8042::kStatusOutputFull, 0) << "answered at once, no timeout";
    EXPECT_EQ(f.status() & 0x20, 0) << "and not as AUX data";
    f.command(I8042::kCommandTestAux);
    EXPECT_EQ(f.drain(), std::vector<uint8_t>{0x01}) << "interface test fails: no mouse";
    f.command(I8042::kCommandWriteAux);
    f.data(0xff);
    EXPECT_EQ(f.status() & I8042::kStatusOutputFull, 0) << "nothing answers for a mouse";
}

TEST(I8042, KeyboardCommandsAreAnsweredAsAnMf2KeyboardDoes) {
    Fixture f;
    f.data(0xff);  // reset
    EXPECT_EQ(f.drain(), (std::vector<uint8_t>{0xfa, 0xaa}));
    f.data(0xf0);  // scan code set: which?
    EXPECT_EQ(f.drain(), std::vector<uint8_t>{0xfa});
    f.data(0x00);
    EXPECT_EQ(f.drain(), (std::vector<uint8_t>{0xfa, 0x02}));
    f.data(0xed);  // LEDs, then their mask
    f.data(0x07);
    EXPECT_EQ(f.drain(), (std::vector<uint8_t>{0xfa, 0xfa}));
    f.data(0xee);
    EXPECT_EQ(f.drain(), std::vector<uint8_t>{0xee}) << "echo";
    f.data(0x42);  // anything else is acknowledged
    EXPECT_EQ(f.drain(), std::vector<uint8_t>{0xfa});
}

TEST(I8042, KeyboardBytesRaiseOneEdgePerByte) {
    Fixture f;
    f.data(0xf2);
    EXPECT_EQ(f.irq.edges, 1);
    f.readData();
    EXPECT_EQ(f.irq.edges, 2) << "the next byte of the reply";
    f.readData();
    EXPECT_EQ(f.irq.edges, 3);
    f.readData();
    EXPECT_EQ(f.irq.edges, 3) << "nothing left";
}

TEST(I8042, NoInterruptWhileTheGuestHasMaskedIt) {
    Fixture f;
    f.command(I8042::kCommandWriteCommandByte);
    f.data(0);
    f.data(0xf2);
    EXPECT_EQ(f.irq.edges, 0);
    f.command(I8042::kCommandWriteCommandByte);
    f.data(I8042::kCommandByteKeyboardInterrupt);
    EXPECT_EQ(f.irq.edges, 1) << "unmasking with data waiting interrupts";
}

TEST(I8042, CtrlAltDelNeedsAListeningDriver) {
    Fixture f;
    EXPECT_FALSE(f.dev.pressCtrlAltDel()) << "scanning is off until the driver enables it";
    EXPECT_EQ(f.status() & I8042::kStatusOutputFull, 0);
    f.bootLikeLinux();
    f.command(I8042::kCommandDisableKeyboard);
    EXPECT_FALSE(f.dev.pressCtrlAltDel()) << "keyboard disabled";
    f.command(I8042::kCommandEnableKeyboard);
    EXPECT_TRUE(f.dev.pressCtrlAltDel());
}

TEST(I8042, CtrlAltDelIsPressedAndReleasedInSet2) {
    Fixture f;
    f.bootLikeLinux();
    int before = f.irq.edges;
    ASSERT_TRUE(f.dev.pressCtrlAltDel());
    EXPECT_EQ(f.drain(), (std::vector<uint8_t>{0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0,
                                               0x11, 0xf0, 0x14}));
    EXPECT_EQ(f.irq.edges - before, 11) << "one edge per byte";
    EXPECT_FALSE(f.life.stopping()) << "the guest decides what the chord means";
}

TEST(I8042, AFullBufferRefusesTheWholeChord) {
    Fixture f;
    f.bootLikeLinux();
    ASSERT_TRUE(f.dev.pressCtrlAltDel());
    EXPECT_FALSE(f.dev.pressCtrlAltDel()) << "11 + 11 bytes do not fit in 16";
    EXPECT_EQ(f.drain().size(), 11u) << "the first chord intact, nothing of the second";
}

TEST(I8042, HostileAccessesAreHarmless) {
    Fixture f;
    for (int v = 0; v < 256; ++v) {
        if (v == I8042::kCommandPulseReset) continue;
        f.command(static_cast<uint8_t>(v));
        f.data(static_cast<uint8_t>(255 - v));
        f.readData();
    }
    uint8_t wide[8] = {};
    f.dev.read(2, wide);  // ports 0x62/0x63 are in the range but are nothing
    f.dev.write(1, {wide, 4});
    f.dev.write(I8042::kCommandPort, {wide, size_t{0}});
    EXPECT_FALSE(f.life.stopping());
}

}  // namespace
}  // namespace ingot::vmm
