#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <vector>

#include "devices/IoDevice.h"

namespace ingot::vmm {

// A 16550A UART at eight consecutive ports: what the guest transmits goes to `output`; host
// input queued with `receive` appears in the receive FIFO. Implements what Linux's 8250 driver
// relies on: the divisor latch, FIFO control, the interrupt identification priorities, the
// scratch register and loopback mode (its autoconfig probe checks that MSR mirrors MCR there).
class Uart16550 : public IoDevice {
public:
    using Output = std::function<void(std::span<const uint8_t>)>;
    Uart16550(InterruptLine* irq, Output output) : irq_(irq), output_(std::move(output)) {}

    std::string_view name() const override { return "uart16550"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    // Queues host input; blocks while the FIFO is full so no keystroke is dropped. Returns
    // false once `close` was called.
    bool receive(std::span<const uint8_t> bytes);
    void close();

    static constexpr size_t kFifoSize = 64;

    // Register offsets and bits, shared with the tests.
    enum : uint8_t { kRbrThr = 0, kIer = 1, kIirFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7 };
    enum : uint8_t { kIerRxData = 1, kIerThre = 2, kIerLineStatus = 4, kIerModemStatus = 8 };
    enum : uint8_t { kIirNone = 1, kIirThre = 2, kIirRxData = 4, kIirLineStatus = 6, kIirFifoBits = 0xc0 };
    enum : uint8_t { kLcrDlab = 0x80 };
    enum : uint8_t { kMcrDtr = 1, kMcrRts = 2, kMcrOut1 = 4, kMcrOut2 = 8, kMcrLoop = 0x10 };
    enum : uint8_t { kLsrDataReady = 1, kLsrOverrun = 2, kLsrThre = 0x20, kLsrTemt = 0x40 };
    enum : uint8_t { kMsrCts = 0x10, kMsrDsr = 0x20, kMsrRi = 0x40, kMsrDcd = 0x80 };

private:
    uint8_t readRegister(uint8_t reg);
    void writeRegister(uint8_t reg, uint8_t value, std::vector<uint8_t>& transmitted);
    uint8_t interruptIdentification() const;
    void updateInterrupt();

    InterruptLine* irq_;
    Output output_;
    std::mutex mutex_;
    std::condition_variable spaceAvailable_;
    std::deque<uint8_t> rx_;
    bool closed_ = false;
    bool irqLevel_ = false;
    bool thrInterruptPending_ = false;
    bool overrun_ = false;
    uint8_t ier_ = 0, lcr_ = 0, mcr_ = kMcrOut2, scr_ = 0, fcr_ = 0;
    uint8_t dll_ = 0x0c, dlm_ = 0;  // 9600 baud until the guest says otherwise
};

}  // namespace ingot::vmm
