#pragma once

#include <array>
#include <cstdint>
#include <mutex>

#include "VmLifecycle.h"
#include "devices/IoDevice.h"

namespace ingot::vmm {

// The PS/2 controller with a keyboard and no mouse, as much of it as Linux's i8042 and atkbd
// drivers use. It exists for two things: the "pulse reset line" command (0xFE on the command
// port) that Linux's reboot falls back to, and Ctrl+Alt+Del, which is how `ingot stop` asks a
// guest to shut down: Linux's keyboard driver turns the chord into ctrl_alt_del(), which signals
// init (systemd and busybox init both shut down on it). This is the route Firecracker's
// SendCtrlAltDel takes; an ACPI power button would also need a daemon in the guest.
//
// The keyboard speaks scan code set 2 and the controller never translates (the command byte
// starts with XLATE clear, and Linux keeps what it reads). The AUX port is absent: its interface
// test fails, so Linux registers no mouse. Registered over ports 0x60–0x64: offset 0 is the data
// port, offset 4 the command/status port.
class I8042 : public IoDevice {
public:
    // `keyboardIrq` (ISA IRQ 1) may be null in unit tests that only look at the ports.
    I8042(VmLifecycle& lifecycle, InterruptLine* keyboardIrq)
        : lifecycle_(lifecycle), keyboardIrq_(keyboardIrq) {}
    std::string_view name() const override { return "i8042"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    // Presses and releases Ctrl+Alt+Del. False, with nothing queued, when the guest has no
    // keyboard driver listening yet (scanning off, or the keyboard interrupt masked) or the
    // output buffer has no room for the whole chord.
    bool pressCtrlAltDel();

    static constexpr uint64_t kDataPort = 0;
    static constexpr uint64_t kCommandPort = 4;

    // Controller commands (written to the command port).
    static constexpr uint8_t kCommandReadCommandByte = 0x20;
    static constexpr uint8_t kCommandWriteCommandByte = 0x60;
    static constexpr uint8_t kCommandDisableAux = 0xa7;
    static constexpr uint8_t kCommandEnableAux = 0xa8;
    static constexpr uint8_t kCommandTestAux = 0xa9;
    static constexpr uint8_t kCommandSelfTest = 0xaa;
    static constexpr uint8_t kCommandTestKeyboard = 0xab;
    static constexpr uint8_t kCommandDisableKeyboard = 0xad;
    static constexpr uint8_t kCommandEnableKeyboard = 0xae;
    static constexpr uint8_t kCommandReadOutputPort = 0xd0;
    static constexpr uint8_t kCommandWriteOutputPort = 0xd1;
    static constexpr uint8_t kCommandWriteKeyboardOutput = 0xd2;
    static constexpr uint8_t kCommandWriteAuxOutput = 0xd3;
    static constexpr uint8_t kCommandWriteAux = 0xd4;
    static constexpr uint8_t kCommandPulseReset = 0xfe;

    // Status register bits.
    static constexpr uint8_t kStatusOutputFull = 0x01;
    static constexpr uint8_t kStatusSystemFlag = 0x04;
    static constexpr uint8_t kStatusLastWriteWasCommand = 0x08;
    static constexpr uint8_t kStatusKeyboardUnlocked = 0x10;

    // Command byte bits.
    static constexpr uint8_t kCommandByteKeyboardInterrupt = 0x01;
    static constexpr uint8_t kCommandByteSystemFlag = 0x04;
    static constexpr uint8_t kCommandByteKeyboardDisabled = 0x10;
    static constexpr uint8_t kCommandByteAuxDisabled = 0x20;
    static constexpr uint8_t kCommandByteTranslate = 0x40;

    // Keyboard replies.
    static constexpr uint8_t kKeyboardAck = 0xfa;
    static constexpr uint8_t kKeyboardSelfTestPassed = 0xaa;

private:
    static constexpr size_t kBufferSize = 16;  // the 8042's own FIFO is one byte; Linux copes

    void writeCommand(uint8_t command);
    void writeData(uint8_t value);
    void keyboardCommand(uint8_t value);
    void pushController(uint8_t byte);
    bool pushKeyboard(std::initializer_list<uint8_t> bytes);
    void raiseIfKeyboardData();
    bool keyboardInterruptOpen() const;
    void clearBuffer() { head_ = count_ = 0; }

    VmLifecycle& lifecycle_;
    InterruptLine* keyboardIrq_;
    std::mutex mutex_;  // vCPU port accesses against pressCtrlAltDel from the signal thread
    std::array<uint8_t, kBufferSize> buffer_{};
    size_t head_ = 0;
    size_t count_ = 0;
    bool bufferIsKeyboardData_ = false;  // controller replies raise no interrupt
    uint8_t commandByte_ = kCommandByteKeyboardInterrupt | kCommandByteSystemFlag;
    uint8_t outputPort_ = 0x03;  // reset line released, A20 on
    uint8_t lastWriteWasCommand_ = 0;
    uint8_t pendingControllerCommand_ = 0;  // a command waiting for its byte on the data port
    uint8_t pendingKeyboardCommand_ = 0;    // a keyboard command waiting for its parameter
    bool scanning_ = false;                 // the driver has enabled the keyboard (0xF4)
};

}  // namespace ingot::vmm
