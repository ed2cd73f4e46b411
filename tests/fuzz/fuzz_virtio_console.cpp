// virtio-console's queue handling (the agent port's control messages and answers) on guest
// memory the fuzzer writes, in VirtioFuzzInput.h's format. The flags byte says more here:
//   bit 0     the driver did not accept VIRTIO_CONSOLE_F_MULTIPORT
//   bits 3-5  the queue to process (0..5); 6 and 7 process every queue in turn, each from a
//             fresh VirtQueue over the same rings, so one queue's state meets another's
//   bit 6     the harness runs the driver's handshake (DEVICE_READY, PORT_READY, PORT_OPEN) on
//             its own control queue first, so that answers and control receive buffers have
//             somewhere to go without the fuzzer having to find a valid handshake
//   bit 7     ask() a request whose deadline has passed before the queues run, leaving its line
//             for the agent's receiveq and making any answer stale
// An answer matched to an outstanding ask() would need a second thread blocked in ask(); that
// is left out, so finishAnswer's keep path is not reached here.
//
// What must hold for any input: nothing outside guest RAM is touched (ASan); every byte dropped
// was a byte the guest sent (port 0's output aside, see below); no pass does more than a batch
// of chains; only known queues are woken; nothing is answered that was not asked for.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "FuzzCheck.h"
#include "GuestMemory.h"
#include "VirtioFuzzInput.h"
#include "devices/virtio/VirtQueue.h"
#include "devices/virtio/VirtioConsole.h"
#include "devices/virtio/VirtioSpec.h"

using namespace ingot::vmm;
using virtio::VirtioConsole;

namespace {

// Far above anything the input (at most max_len bytes from 0) places, inside the 16 MiB of RAM.
constexpr uint64_t kHandshakeBase = 8ull << 20;

void putLe(uint8_t* at, uint64_t value, size_t bytes) {
    for (size_t i = 0; i < bytes; ++i) at[i] = static_cast<uint8_t>(value >> (8 * i));
}

// What Linux's driver sends to bring up port 1 and open it, as three 8-byte control messages on
// a 4-entry control transmitq of the harness's own.
void handshake(GuestMemory& memory, VirtioConsole& console) {
    virtio::QueueLayout layout;
    layout.size = 4;
    layout.descTable = kHandshakeBase;
    layout.availRing = kHandshakeBase + 0x40;
    layout.usedRing = kHandshakeBase + 0x80;
    const uint64_t messages = kHandshakeBase + 0x100;
    struct {
        uint32_t id;
        uint16_t event, value;
    } const steps[] = {{0xffffffff, VirtioConsole::kDeviceReady, 1},
                       {VirtioConsole::kAgentPort, VirtioConsole::kPortReady, 1},
                       {VirtioConsole::kAgentPort, VirtioConsole::kPortOpen, 1}};
    auto ram = memory.slice(kHandshakeBase, 0x200);
    std::memset(ram.data(), 0, ram.size());
    uint16_t i = 0;
    for (const auto& step : steps) {
        uint8_t* desc = ram.data() + 16 * i;
        putLe(desc, messages + 8 * i, 8);
        putLe(desc + 8, VirtioConsole::kControlBytes, 4);
        uint8_t* message = ram.data() + 0x100 + 8 * i;
        putLe(message, step.id, 4);
        putLe(message + 4, step.event, 2);
        putLe(message + 6, step.value, 2);
        putLe(ram.data() + 0x40 + 4 + 2 * i, i, 2);
        ++i;
    }
    putLe(ram.data() + 0x40 + 2, i, 2);
    FUZZ_CHECK(virtio::VirtQueue::checkLayout(memory, layout, layout.size).empty());
    virtio::VirtQueue queue(memory, layout, virtio::kFeatureVersion1,
                            VirtioConsole::kControlTransmit, console.log());
    console.processQueue(VirtioConsole::kControlTransmit, queue);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static GuestMemory memory(16ull << 20);
    if (size < 2) return 0;
    const uint8_t flags = data[0];
    const bool multiport = !(flags & 1);
    const unsigned pick = (flags >> 3) & 7;
    // Named members rather than a structured binding: clang 14 cannot capture one in a lambda.
    const fuzz::VirtioFuzzQueue input = fuzz::loadVirtioFuzzInput(memory, data, size);
    const uint64_t features = input.features;
    const virtio::QueueLayout& layout = input.layout;
    FUZZ_CHECK(virtio::VirtQueue::checkLayout(memory, layout, layout.size).empty());

    VirtioConsole console("fuzz-console");
    console.log().setSink([](const std::string&) {});
    console.setWakeUp([&](unsigned queue, std::chrono::nanoseconds) {
        FUZZ_CHECK(queue < console.queueCount());
    });
    console.activate(features | (multiport ? VirtioConsole::kFeatureMultiport : 0));

    unsigned passes = 0;
    if (flags & 0x40) {
        handshake(memory, console);
        ++passes;
        FUZZ_CHECK(console.guestConnected() == multiport);
    }
    const bool connectedBefore = console.guestConnected();

    uint64_t requestBytes = 0;
    if (flags & 0x80) {
        std::string error;
        const auto answer =
            console.ask("procstat", std::chrono::steady_clock::now(), error);
        FUZZ_CHECK(!answer && !error.empty());
        // "procstat 1\n": the id is the device's first.
        if (connectedBefore) requestBytes += std::strlen("procstat 1\n");
    }

    auto run = [&](unsigned index) {
        virtio::VirtQueue queue(memory, layout, features, index, console.log());
        const auto before = console.stats();
        console.processQueue(index, queue);
        (void)queue.needsNotification();
        (void)console.wantsHostInput();
        const auto after = console.stats();
        ++passes;
        FUZZ_CHECK(after.refusedChains - before.refusedChains <= VirtioConsole::kBatch);
        FUZZ_CHECK(after.bytesFromGuest - before.bytesFromGuest <=
                   uint64_t{VirtioConsole::kBatch} * VirtioConsole::kMaxTransmitChainBytes);
        // Port 0's output is counted as the guest's and dropped whole.
        if (index == VirtioConsole::kPort0Transmit)
            FUZZ_CHECK(after.bytesFromGuest - before.bytesFromGuest ==
                       after.discardedBytes - before.discardedBytes);
        if (index != VirtioConsole::kControlTransmit)
            FUZZ_CHECK(after.guestConnected == before.guestConnected);
        if (!multiport && index != VirtioConsole::kPort0Transmit)
            FUZZ_CHECK(after.discardedBytes == before.discardedBytes &&
                       after.refusedChains == before.refusedChains &&
                       after.controlErrors == before.controlErrors);
    };
    if (pick < console.queueCount()) {
        run(pick);
    } else {
        for (unsigned index : {VirtioConsole::kControlTransmit, VirtioConsole::kControlReceive,
                               VirtioConsole::kAgentTransmit, VirtioConsole::kAgentReceive,
                               VirtioConsole::kPort0Transmit, VirtioConsole::kPort0Receive})
            run(index);
    }

    const auto s = console.stats();
    FUZZ_CHECK(s.discardedBytes <= s.bytesFromGuest);
    FUZZ_CHECK(s.bytesToGuest <= requestBytes);
    // No ask() ever waited while answers were parsed, so none can have been taken as its answer.
    FUZZ_CHECK(s.answers == 0 && s.agentErrors == 0);
    FUZZ_CHECK(s.timeouts == s.requests);
    FUZZ_CHECK(s.requests == (requestBytes != 0 ? 1u : 0u));
    FUZZ_CHECK(s.refusedChains <= uint64_t{passes} * VirtioConsole::kBatch);
    FUZZ_CHECK(s.refusedAnswers + s.staleAnswers <= s.bytesFromGuest);
    FUZZ_CHECK(s.malformedAnswers <= s.bytesFromGuest);

    // A reset in any state leaves nothing that a later ask() could mistake for the guest.
    console.reset();
    FUZZ_CHECK(!console.guestConnected());
    std::string error;
    FUZZ_CHECK(!console.ask("procstat", std::chrono::steady_clock::now(), error));
    return 0;
}
