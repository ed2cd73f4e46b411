#include "Uart16550.h"

#include <vector>

namespace ingot::vmm {

uint8_t Uart16550::interruptIdentification() const {
    // Priority order of the 16550: line status, received data, transmitter empty, modem status.
    uint8_t fifo = (fcr_ & 1) ? kIirFifoBits : 0;
    if ((ier_ & kIerLineStatus) && overrun_) return kIirLineStatus | fifo;
    if ((ier_ & kIerRxData) && !rx_.empty()) return kIirRxData | fifo;
    if ((ier_ & kIerThre) && thrInterruptPending_) return kIirThre | fifo;
    return kIirNone | fifo;
}

void Uart16550::updateInterrupt() {
    // OUT2 gates the interrupt output on PC serial ports.
    bool level = (interruptIdentification() & kIirNone) == 0 && (mcr_ & kMcrOut2);
    if (level != irqLevel_) {
        irqLevel_ = level;
        if (irq_) irq_->set(level);
    }
}

uint8_t Uart16550::readRegister(uint8_t reg) {
    switch (reg) {
        case kRbrThr: {
            if (lcr_ & kLcrDlab) return dll_;
            if (rx_.empty()) return 0;
            uint8_t b = rx_.front();
            rx_.pop_front();
            spaceAvailable_.notify_one();
            return b;
        }
        case kIer:
            return (lcr_ & kLcrDlab) ? dlm_ : ier_;
        case kIirFcr: {
            uint8_t iir = interruptIdentification();
            // Reading IIR acknowledges a transmitter-empty interrupt.
            if ((iir & 0x0f) == kIirThre) thrInterruptPending_ = false;
            return iir;
        }
        case kLcr:
            return lcr_;
        case kMcr:
            return mcr_;
        case kLsr: {
            uint8_t lsr = kLsrThre | kLsrTemt;
            if (!rx_.empty()) lsr |= kLsrDataReady;
            if (overrun_) lsr |= kLsrOverrun;
            overrun_ = false;
            return lsr;
        }
        case kMsr:
            if (mcr_ & kMcrLoop) {
                uint8_t msr = 0;
                if (mcr_ & kMcrRts) msr |= kMsrCts;
                if (mcr_ & kMcrDtr) msr |= kMsrDsr;
                if (mcr_ & kMcrOut1) msr |= kMsrRi;
                if (mcr_ & kMcrOut2) msr |= kMsrDcd;
                return msr;
            }
            return kMsrDcd | kMsrDsr | kMsrCts;
        case kScr:
            return scr_;
    }
    return 0xff;
}

void Uart16550::writeRegister(uint8_t reg, uint8_t value, std::vector<uint8_t>& transmitted) {
    switch (reg) {
        case kRbrThr:
            if (lcr_ & kLcrDlab) {
                dll_ = value;
                return;
            }
            if (mcr_ & kMcrLoop) {
                if (rx_.size() < kFifoSize)
                    rx_.push_back(value);
                else
                    overrun_ = true;
            } else {
                transmitted.push_back(value);
            }
            // Transmission is instantaneous, so the holding register is empty again at once.
            thrInterruptPending_ = true;
            return;
        case kIer:
            if (lcr_ & kLcrDlab) {
                dlm_ = value;
                return;
            }
            // Enabling the THRE interrupt while the register is empty raises it immediately,
            // which is what Linux's transmit path waits for.
            if ((value & kIerThre) && !(ier_ & kIerThre)) thrInterruptPending_ = true;
            ier_ = value & 0x0f;
            return;
        case kIirFcr:
            fcr_ = value & 0xc9;
            if (value & 0x02) {  // clear receive FIFO
                rx_.clear();
                spaceAvailable_.notify_all();
            }
            return;
        case kLcr:
            lcr_ = value;
            return;
        case kMcr:
            mcr_ = value & 0x1f;
            return;
        case kScr:
            scr_ = value;
            return;
        default:  // LSR and MSR are read-only
            return;
    }
}

void Uart16550::read(uint64_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(mutex_);
    for (auto& b : data) b = offset < 8 ? readRegister(static_cast<uint8_t>(offset)) : 0xff;
    updateInterrupt();
}

void Uart16550::write(uint64_t offset, std::span<const uint8_t> data) {
    std::vector<uint8_t> transmitted;
    {
        std::lock_guard lock(mutex_);
        if (offset < 8 && !data.empty()) writeRegister(static_cast<uint8_t>(offset), data[0], transmitted);
        updateInterrupt();
    }
    if (!transmitted.empty() && output_) output_(transmitted);
}

bool Uart16550::receive(std::span<const uint8_t> bytes) {
    std::unique_lock lock(mutex_);
    for (uint8_t b : bytes) {
        spaceAvailable_.wait(lock, [&] { return closed_ || rx_.size() < kFifoSize; });
        if (closed_) return false;
        rx_.push_back(b);
        updateInterrupt();
    }
    return !closed_;
}

void Uart16550::close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    spaceAvailable_.notify_all();
}

}  // namespace ingot::vmm
