#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "devices/IoDevice.h"
#include "devices/legacy/Uart16550.h"

namespace ingot::vmm {
namespace {

using namespace std::chrono_literals;
using U = Uart16550;

class RecordingLine : public InterruptLine {
public:
    void set(bool level) override {
        std::lock_guard lock(mutex_);
        levels_.push_back(level);
    }
    bool level() const {
        std::lock_guard lock(mutex_);
        return !levels_.empty() && levels_.back();
    }
    std::vector<bool> levels() const {
        std::lock_guard lock(mutex_);
        return levels_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<bool> levels_;
};

class UartTest : public ::testing::Test {
protected:
    uint8_t in(uint8_t reg) {
        uint8_t b = 0;
        uart.read(reg, {&b, 1});
        return b;
    }
    void out(uint8_t reg, uint8_t value) { uart.write(reg, {&value, 1}); }
    bool receive(const std::string& s) {
        return uart.receive({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
    }
    std::string output() {
        std::lock_guard lock(outputMutex);
        return transmitted;
    }

    RecordingLine line;
    std::mutex outputMutex;
    std::string transmitted;
    Uart16550 uart{&line, [this](std::span<const uint8_t> bytes) {
                       std::lock_guard lock(outputMutex);
                       transmitted.append(bytes.begin(), bytes.end());
                   }};
};

TEST_F(UartTest, TransmitsWhatTheGuestWritesToThr) {
    for (char c : std::string("hello\n")) out(U::kRbrThr, static_cast<uint8_t>(c));
    EXPECT_EQ(output(), "hello\n");
    EXPECT_TRUE(line.levels().empty());  // no interrupt enabled, none raised
}

TEST_F(UartTest, LsrReportsAnEmptyTransmitterAndNoData) {
    EXPECT_EQ(in(U::kLsr), U::kLsrThre | U::kLsrTemt);
    out(U::kRbrThr, 'x');
    EXPECT_EQ(in(U::kLsr), U::kLsrThre | U::kLsrTemt);
}

TEST_F(UartTest, ReceivedBytesAreReadFromRbrInOrder) {
    ASSERT_TRUE(receive("abc"));
    EXPECT_TRUE(in(U::kLsr)&U::kLsrDataReady);
    EXPECT_EQ(in(U::kRbrThr), 'a');
    EXPECT_EQ(in(U::kRbrThr), 'b');
    EXPECT_TRUE(in(U::kLsr)&U::kLsrDataReady);
    EXPECT_EQ(in(U::kRbrThr), 'c');
    EXPECT_FALSE(in(U::kLsr)&U::kLsrDataReady);
    EXPECT_EQ(in(U::kRbrThr), 0);  // empty FIFO
}

TEST_F(UartTest, EnablingThreInterruptRaisesItAndReadingIirClearsIt) {
    EXPECT_EQ(in(U::kIirFcr), U::kIirNone);
    out(U::kIer, U::kIerThre);
    EXPECT_TRUE(line.level());
    EXPECT_EQ(in(U::kIer), U::kIerThre);
    EXPECT_EQ(in(U::kIirFcr), 0x02);
    EXPECT_FALSE(line.level());
    EXPECT_EQ(in(U::kIirFcr), U::kIirNone);
    // Each transmitted byte empties the holding register again.
    out(U::kRbrThr, 'x');
    EXPECT_TRUE(line.level());
    EXPECT_EQ(in(U::kIirFcr), 0x02);
    EXPECT_FALSE(line.level());
    EXPECT_EQ(line.levels(), (std::vector<bool>{true, false, true, false}));
}

TEST_F(UartTest, IirCarriesFifoBitsWhenFifosAreEnabled) {
    out(U::kIirFcr, 0x01);
    EXPECT_EQ(in(U::kIirFcr), 0xc1);
    out(U::kIer, U::kIerThre);
    EXPECT_EQ(in(U::kIirFcr), 0xc2);
    EXPECT_EQ(in(U::kIirFcr), 0xc1);
    out(U::kIirFcr, 0x00);
    EXPECT_EQ(in(U::kIirFcr), 0x01);
}

TEST_F(UartTest, ReceivedDataRaisesTheInterruptUntilDrained) {
    out(U::kIer, U::kIerRxData);
    EXPECT_FALSE(line.level());
    ASSERT_TRUE(receive("ok"));
    EXPECT_TRUE(line.level());
    EXPECT_EQ(in(U::kIirFcr), 0x04);
    EXPECT_TRUE(line.level());  // reading IIR does not acknowledge received data
    in(U::kRbrThr);
    EXPECT_TRUE(line.level());
    in(U::kRbrThr);
    EXPECT_FALSE(line.level());
    EXPECT_EQ(in(U::kIirFcr), U::kIirNone);
}

TEST_F(UartTest, ReceivedDataTakesPriorityOverThre) {
    out(U::kIer, U::kIerRxData | U::kIerThre);
    ASSERT_TRUE(receive("z"));
    EXPECT_EQ(in(U::kIirFcr), 0x04);
    EXPECT_EQ(in(U::kIirFcr), 0x04);  // THRE stays pending underneath
    EXPECT_EQ(in(U::kRbrThr), 'z');
    EXPECT_EQ(in(U::kIirFcr), 0x02);
    EXPECT_EQ(in(U::kIirFcr), U::kIirNone);
    EXPECT_FALSE(line.level());
}

TEST_F(UartTest, DlabTurnsTheFirstTwoRegistersIntoTheDivisorLatch) {
    out(U::kIer, U::kIerRxData);
    out(U::kLcr, U::kLcrDlab | 0x03);
    EXPECT_EQ(in(U::kRbrThr), 0x0c);  // 9600 baud until told otherwise
    EXPECT_EQ(in(U::kIer), 0x00);
    out(U::kRbrThr, 0x01);  // 115200 baud
    out(U::kIer, 0x00);
    EXPECT_EQ(output(), "");  // divisor writes are not transmitted
    EXPECT_EQ(in(U::kRbrThr), 0x01);
    EXPECT_EQ(in(U::kIer), 0x00);
    EXPECT_EQ(in(U::kLcr), U::kLcrDlab | 0x03);
    out(U::kLcr, 0x03);
    EXPECT_EQ(in(U::kIer), U::kIerRxData);  // IER was left alone
    out(U::kRbrThr, 'A');
    EXPECT_EQ(output(), "A");
}

TEST_F(UartTest, DlabHidesReceivedData) {
    ASSERT_TRUE(receive("q"));
    out(U::kLcr, U::kLcrDlab);
    EXPECT_EQ(in(U::kRbrThr), 0x0c);
    out(U::kLcr, 0);
    EXPECT_EQ(in(U::kRbrThr), 'q');
}

TEST_F(UartTest, ScratchRegisterRoundTrips) {
    for (uint8_t v : {0x00, 0x55, 0xaa, 0xff}) {
        out(U::kScr, v);
        EXPECT_EQ(in(U::kScr), v);
    }
}

TEST_F(UartTest, ModemStatusOutsideLoopbackSaysTheLineIsUp) {
    EXPECT_EQ(in(U::kMsr), U::kMsrDcd | U::kMsrDsr | U::kMsrCts);
    EXPECT_EQ(in(U::kMcr), U::kMcrOut2);
}

TEST_F(UartTest, LoopbackMirrorsModemControlLikeLinuxAutoconfigExpects) {
    // drivers/tty/serial/8250/8250_port.c autoconfig: MCR = LOOP | 0x0A, then MSR & 0xF0 == 0x90.
    out(U::kMcr, U::kMcrLoop | 0x0a);
    EXPECT_EQ(in(U::kMsr)&0xf0, 0x90);
    out(U::kMcr, U::kMcrLoop);
    EXPECT_EQ(in(U::kMsr)&0xf0, 0x00);
    out(U::kMcr, U::kMcrLoop | U::kMcrDtr | U::kMcrOut1);
    EXPECT_EQ(in(U::kMsr)&0xf0, U::kMsrDsr | U::kMsrRi);
}

TEST_F(UartTest, LoopbackReturnsTransmittedBytesInsteadOfSendingThem) {
    out(U::kMcr, U::kMcrLoop | U::kMcrOut2);
    out(U::kRbrThr, 0x5a);
    out(U::kRbrThr, 0xa5);
    EXPECT_EQ(output(), "");
    EXPECT_TRUE(in(U::kLsr)&U::kLsrDataReady);
    EXPECT_EQ(in(U::kRbrThr), 0x5a);
    EXPECT_EQ(in(U::kRbrThr), 0xa5);
    out(U::kMcr, U::kMcrOut2);
    out(U::kRbrThr, 'o');
    EXPECT_EQ(output(), "o");
}

TEST_F(UartTest, LoopbackOverflowReportsAnOverrun) {
    out(U::kMcr, U::kMcrLoop | U::kMcrOut2);
    out(U::kIer, U::kIerLineStatus);
    for (size_t i = 0; i < U::kFifoSize; ++i) out(U::kRbrThr, static_cast<uint8_t>(i));
    EXPECT_FALSE(line.level());
    out(U::kRbrThr, 0xee);
    EXPECT_TRUE(line.level());
    EXPECT_EQ(in(U::kIirFcr), U::kIirLineStatus);
    uint8_t lsr = in(U::kLsr);
    EXPECT_TRUE(lsr & U::kLsrOverrun);
    EXPECT_TRUE(lsr & U::kLsrDataReady);
    EXPECT_FALSE(in(U::kLsr)&U::kLsrOverrun);  // reading LSR clears it
    EXPECT_FALSE(line.level());
    EXPECT_EQ(in(U::kRbrThr), 0);  // the first byte, not the one that overflowed
}

TEST_F(UartTest, ClearingOut2GatesTheInterruptLine) {
    out(U::kIer, U::kIerThre);
    EXPECT_TRUE(line.level());
    out(U::kMcr, 0);
    EXPECT_FALSE(line.level());
    EXPECT_EQ(in(U::kMcr), 0);
    out(U::kMcr, U::kMcrOut2);  // still pending: raised again
    EXPECT_TRUE(line.level());
}

TEST_F(UartTest, FifoControlClearsPendingInput) {
    out(U::kIer, U::kIerRxData);
    ASSERT_TRUE(receive("stale"));
    EXPECT_TRUE(line.level());
    out(U::kIirFcr, 0x01 | 0x02);
    EXPECT_FALSE(in(U::kLsr)&U::kLsrDataReady);
    EXPECT_FALSE(line.level());
    EXPECT_EQ(in(U::kIirFcr), 0xc1);
    ASSERT_TRUE(receive("new"));
    EXPECT_EQ(in(U::kRbrThr), 'n');
}

TEST_F(UartTest, WritesToReadOnlyRegistersAreIgnored) {
    out(U::kLsr, 0);
    out(U::kMsr, 0);
    EXPECT_EQ(in(U::kLsr), U::kLsrThre | U::kLsrTemt);
    EXPECT_EQ(in(U::kMsr), U::kMsrDcd | U::kMsrDsr | U::kMsrCts);
}

// Closes the UART when a test ends early, so a receive() still blocked cannot hang the test.
struct CloseAtExit {
    Uart16550& uart;
    ~CloseAtExit() { uart.close(); }
};

TEST_F(UartTest, ReceiveOnAFullFifoWaitsForTheGuestToRead) {
    std::string full(U::kFifoSize, 'f');
    ASSERT_TRUE(receive(full));
    std::atomic<bool> returned{false};
    auto pending = std::async(std::launch::async, [&] {
        bool ok = receive("+!");
        returned = true;
        return ok;
    });
    CloseAtExit guard{uart};
    EXPECT_EQ(pending.wait_for(200ms), std::future_status::timeout);
    EXPECT_FALSE(returned);
    EXPECT_EQ(in(U::kRbrThr), 'f');  // frees one slot: '+' goes in, '!' still waits
    EXPECT_EQ(pending.wait_for(100ms), std::future_status::timeout);
    EXPECT_EQ(in(U::kRbrThr), 'f');
    ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
    EXPECT_TRUE(pending.get());
    for (size_t i = 2; i < U::kFifoSize; ++i) ASSERT_EQ(in(U::kRbrThr), 'f') << i;
    EXPECT_EQ(in(U::kRbrThr), '+');
    EXPECT_EQ(in(U::kRbrThr), '!');
}

TEST_F(UartTest, FifoClearReleasesABlockedReceive) {
    ASSERT_TRUE(receive(std::string(U::kFifoSize, 'f')));
    auto pending = std::async(std::launch::async, [&] { return receive("x"); });
    CloseAtExit guard{uart};
    EXPECT_EQ(pending.wait_for(100ms), std::future_status::timeout);
    out(U::kIirFcr, 0x03);
    ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
    EXPECT_TRUE(pending.get());
    EXPECT_EQ(in(U::kRbrThr), 'x');
}

TEST_F(UartTest, CloseReleasesABlockedReceiveWithFalse) {
    ASSERT_TRUE(receive(std::string(U::kFifoSize, 'f')));
    auto pending = std::async(std::launch::async, [&] { return receive("x"); });
    CloseAtExit guard{uart};
    EXPECT_EQ(pending.wait_for(100ms), std::future_status::timeout);
    uart.close();
    ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
    EXPECT_FALSE(pending.get());
    EXPECT_FALSE(receive("y"));
}

TEST(Uart16550, WorksWithoutAnInterruptLineOrOutput) {
    Uart16550 uart(nullptr, nullptr);
    uint8_t ier = U::kIerThre, thr = 'a';
    uart.write(U::kIer, {&ier, 1});
    uart.write(U::kRbrThr, {&thr, 1});
    uint8_t iir = 0;
    uart.read(U::kIirFcr, {&iir, 1});
    EXPECT_EQ(iir, 0x02);
}

}  // namespace
}  // namespace ingot::vmm
