#include "I8042.h"

namespace ingot::vmm {
namespace {

// Keyboard commands (written to the data port when no controller command waits for a byte).
constexpr uint8_t kKeyboardSetLeds = 0xed;
constexpr uint8_t kKeyboardEcho = 0xee;
constexpr uint8_t kKeyboardScanCodeSet = 0xf0;
constexpr uint8_t kKeyboardGetId = 0xf2;
constexpr uint8_t kKeyboardTypematic = 0xf3;
constexpr uint8_t kKeyboardEnable = 0xf4;
constexpr uint8_t kKeyboardDisable = 0xf5;
constexpr uint8_t kKeyboardDefaults = 0xf6;
constexpr uint8_t kKeyboardReset = 0xff;

// An MF2 keyboard's identity, and the set its scan codes come in.
constexpr uint8_t kKeyboardId[] = {0xab, 0x83};
constexpr uint8_t kScanCodeSet2 = 0x02;

// The AUX interface test answers "clock line stuck low": there is no mouse behind it.
constexpr uint8_t kAuxTestClockLow = 0x01;
constexpr uint8_t kSelfTestPassed = 0x55;
constexpr uint8_t kKeyboardInterfaceOk = 0x00;

}  // namespace

bool I8042::keyboardInterruptOpen() const {
    return (commandByte_ & kCommandByteKeyboardInterrupt) &&
           !(commandByte_ & kCommandByteKeyboardDisabled);
}

// ISA IRQ 1 is edge-triggered; one edge per byte the guest should come and read.
void I8042::raiseIfKeyboardData() {
    if (count_ == 0 || !bufferIsKeyboardData_ || !keyboardInterruptOpen() || !keyboardIrq_) return;
    keyboardIrq_->set(true);
    keyboardIrq_->set(false);
}

// A controller reply replaces whatever was waiting: the driver asked for it and reads it next.
void I8042::pushController(uint8_t byte) {
    clearBuffer();
    buffer_[0] = byte;
    count_ = 1;
    bufferIsKeyboardData_ = false;
}

bool I8042::pushKeyboard(std::initializer_list<uint8_t> bytes) {
    if (!bufferIsKeyboardData_) clearBuffer();
    if (kBufferSize - count_ < bytes.size()) return false;  // a keyboard overrun: dropped
    for (uint8_t b : bytes) buffer_[(head_ + count_++) % kBufferSize] = b;
    bufferIsKeyboardData_ = true;
    raiseIfKeyboardData();
    return true;
}

void I8042::read(uint64_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(mutex_);
    if (offset == kCommandPort) {
        uint8_t status = kStatusSystemFlag | kStatusKeyboardUnlocked | lastWriteWasCommand_;
        if (count_) status |= kStatusOutputFull;
        fillAccess(data, status);
        return;
    }
    if (offset != kDataPort || count_ == 0) {
        fillAccess(data, 0);
        return;
    }
    fillAccess(data, buffer_[head_]);
    head_ = (head_ + 1) % kBufferSize;
    --count_;
    raiseIfKeyboardData();  // the next byte of a reply or a key sequence
}

void I8042::write(uint64_t offset, std::span<const uint8_t> data) {
    if (data.empty()) return;
    std::lock_guard lock(mutex_);
    if (offset == kCommandPort)
        writeCommand(data[0]);
    else if (offset == kDataPort)
        writeData(data[0]);
}

void I8042::writeCommand(uint8_t command) {
    lastWriteWasCommand_ = kStatusLastWriteWasCommand;
    pendingControllerCommand_ = 0;
    switch (command) {
        case kCommandReadCommandByte: pushController(commandByte_); break;
        case kCommandReadOutputPort: pushController(outputPort_); break;
        case kCommandWriteCommandByte:
        case kCommandWriteOutputPort:
        case kCommandWriteKeyboardOutput:
        case kCommandWriteAuxOutput:
        case kCommandWriteAux: pendingControllerCommand_ = command; break;
        case kCommandTestAux: pushController(kAuxTestClockLow); break;
        case kCommandSelfTest: pushController(kSelfTestPassed); break;
        case kCommandTestKeyboard: pushController(kKeyboardInterfaceOk); break;
        case kCommandDisableAux: commandByte_ |= kCommandByteAuxDisabled; break;
        case kCommandEnableAux: commandByte_ &= ~kCommandByteAuxDisabled; break;
        case kCommandDisableKeyboard: commandByte_ |= kCommandByteKeyboardDisabled; break;
        case kCommandEnableKeyboard:
            commandByte_ &= ~kCommandByteKeyboardDisabled;
            raiseIfKeyboardData();
            break;
        case kCommandPulseReset:
            lifecycle_.requestStop(StopReason::kReboot, 0, "i8042 reset");
            break;
        default: break;  // unknown commands are ignored, as a real controller does
    }
}

void I8042::writeData(uint8_t value) {
    lastWriteWasCommand_ = 0;
    uint8_t command = pendingControllerCommand_;
    pendingControllerCommand_ = 0;
    switch (command) {
        case kCommandWriteCommandByte:
            commandByte_ = value;
            raiseIfKeyboardData();
            return;
        case kCommandWriteOutputPort: outputPort_ = value; return;
        case kCommandWriteKeyboardOutput: pushKeyboard({value}); return;
        // Loopback through a port that is not there: the byte comes back without the AUX status
        // bit, which Linux takes as "no AUX" at once instead of waiting for a timeout.
        case kCommandWriteAuxOutput: pushController(value); return;
        case kCommandWriteAux: return;  // no mouse to receive it
        default: keyboardCommand(value); return;
    }
}

void I8042::keyboardCommand(uint8_t value) {
    if (uint8_t command = pendingKeyboardCommand_) {
        pendingKeyboardCommand_ = 0;
        if (command == kKeyboardScanCodeSet && value == 0)
            pushKeyboard({kKeyboardAck, kScanCodeSet2});  // "which set?": we only speak set 2
        else
            pushKeyboard({kKeyboardAck});
        return;
    }
    switch (value) {
        case kKeyboardSetLeds:
        case kKeyboardScanCodeSet:
        case kKeyboardTypematic:
            pendingKeyboardCommand_ = value;
            pushKeyboard({kKeyboardAck});
            break;
        case kKeyboardEcho: pushKeyboard({kKeyboardEcho}); break;
        case kKeyboardGetId: pushKeyboard({kKeyboardAck, kKeyboardId[0], kKeyboardId[1]}); break;
        case kKeyboardEnable:
            scanning_ = true;
            pushKeyboard({kKeyboardAck});
            break;
        case kKeyboardDisable:
            scanning_ = false;
            pushKeyboard({kKeyboardAck});
            break;
        case kKeyboardDefaults:
            pushKeyboard({kKeyboardAck});
            break;
        case kKeyboardReset:
            scanning_ = true;  // a keyboard scans after its self-test
            pushKeyboard({kKeyboardAck, kKeyboardSelfTestPassed});
            break;
        default: pushKeyboard({kKeyboardAck}); break;
    }
}

bool I8042::pressCtrlAltDel() {
    std::lock_guard lock(mutex_);
    if (!scanning_ || !keyboardInterruptOpen() || !keyboardIrq_) return false;
    // Set 2: left Ctrl 0x14, left Alt 0x11, Delete E0 71; a release is F0 before the code.
    return pushKeyboard({0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14});
}

}  // namespace ingot::vmm
