#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "devices/virtio/RateLimiter.h"
#include "devices/virtio/VirtioDevice.h"
#include "kvm/FileDescriptor.h"

namespace ingot::vmm::virtio {

// virtio-console (virtio 1.2, 5.3) carrying the guest agent channel (docs/agent.md): one named,
// non-console port, org.ingot.agent.0, over which the monitor asks the agent in the guest for
// its own view of things (its /proc/stat) and reads the answer.
//
// Layout. VIRTIO_CONSOLE_F_MULTIPORT with max_nr_ports 2, and the agent on port 1:
//   queue 0, 1  port 0 receiveq, transmitq (port 0 is never added)
//   queue 2, 3  control receiveq (device to driver), control transmitq (driver to device)
//   queue 4, 5  port 1 receiveq (requests to the agent), transmitq (its answers)
// Port 0 stays free because of what Linux's virtio_console does with it: a driver that does not
// negotiate MULTIPORT makes port 0 a console (hvc0) unconditionally, and systemd starts a getty
// on hvc0; the agent's port must only ever be a named generic port (/dev/vportNp1, linked by
// udev as /dev/virtio-ports/org.ingot.agent.0). QEMU reserves port 0 for the same reason and
// puts a virtserialport at 1 (so qemu-guest-agent runs there); this is the layout Linux's driver
// sees under every QEMU with a guest agent. The price is one unused queue pair.
//
// Handshake, driven by the driver (Linux: virtcons_probe, add_port): DEVICE_READY, to which the
// device answers PORT_ADD 1; PORT_READY 1, answered by PORT_NAME "org.ingot.agent.0" and
// PORT_OPEN 1 (the host end is always open, so the guest's reads block rather than see EOF, and
// its writes go through); then PORT_OPEN 1 / 0 from the driver whenever the agent opens or
// closes the port. No CONSOLE_PORT is ever sent: the port is never an hvc console.
//
// Host side: ask() (the monitor's control thread) queues one request line and waits for the
// answer. Its bytes reach the guest through the agent's receiveq; the worker finds them through
// HostInput, an eventfd ask() signals. Answers come back on the transmitq and are parsed as they
// arrive; everything the guest controls is bounded: an answer's payload (kMaxAnswerBytes, more
// is refused), a header line (kMaxHeaderBytes), a transmit chain (kMaxTransmitChainBytes);
// bytes that belong to no outstanding request (late answers to timed-out requests, anything
// sent unasked) are counted and dropped, never buffered. Guest mistakes go to log() (rate
// limited) and the counters in stats().
//
// Control messages the device sends wait for control receive buffers; after handling the
// driver's messages the device asks its worker (Throttleable's wake-up) to process the control
// receiveq, since one queue's processing cannot touch another queue.
//
// Construction (the VM attaches it like virtio-rng):
//   attach(std::make_shared<VirtioConsole>("virtio-console (agent)"), "virtio-console",
//          VirtioSlot{});
// Throws ingot::Error when the eventfd cannot be created.
class VirtioConsole : public VirtioDevice, public Throttleable, public HostInput {
public:
    static constexpr uint32_t kDeviceConsole = 3;  // device type (5)
    // Feature bits (5.3.3). SIZE and EMERG_WRITE are not offered: the port is no console.
    static constexpr uint64_t kFeatureMultiport = 1ull << 1;

    static constexpr uint32_t kMaxPorts = 2;
    static constexpr uint32_t kAgentPort = 1;
    static constexpr unsigned kPort0Receive = 0;
    static constexpr unsigned kPort0Transmit = 1;
    static constexpr unsigned kControlReceive = 2;
    static constexpr unsigned kControlTransmit = 3;
    static constexpr unsigned kAgentReceive = 4;
    static constexpr unsigned kAgentTransmit = 5;

    // Control events (5.3.6.2), struct virtio_console_control {le32 id; le16 event; le16 value}.
    static constexpr uint16_t kDeviceReady = 0;
    static constexpr uint16_t kPortAdd = 1;
    static constexpr uint16_t kPortRemove = 2;
    static constexpr uint16_t kPortReady = 3;
    static constexpr uint16_t kConsolePort = 4;
    static constexpr uint16_t kResize = 5;
    static constexpr uint16_t kPortOpen = 6;
    static constexpr uint16_t kPortName = 7;
    static constexpr uint64_t kControlBytes = 8;

    static constexpr const char* kAgentPortName = "org.ingot.agent.0";
    static constexpr int kProtocolVersion = 1;
    // An answer's payload: /proc/stat of a 64-vCPU guest with a few thousand interrupts is about
    // 20 KiB.
    static constexpr uint64_t kMaxAnswerBytes = 64 * 1024;
    // "ingot-agent 1 <20 digits> error 65536" and room to spare.
    static constexpr size_t kMaxHeaderBytes = 128;
    // A request as ask() takes it, command and arguments, without id and newline.
    static constexpr size_t kMaxRequestBytes = 1024;
    // Linux sends at most 32 KiB per write() and a pipe's worth (1 MiB at most by default) per
    // splice(); a larger chain is returned unread, so that a chain of buffers that each cover
    // all of guest RAM cannot keep the worker scanning for terabytes.
    static constexpr uint64_t kMaxTransmitChainBytes = 1 << 20;
    // Control messages waiting for receive buffers. The device sends at most three per
    // handshake; a driver repeating DEVICE_READY in a loop cannot make the queue grow.
    static constexpr size_t kMaxPendingControl = 16;
    // Chains per queue before the worker looks at the other queues (and is asked to come back).
    static constexpr unsigned kBatch = 64;

    struct Stats {
        bool guestConnected = false;
        uint64_t requests = 0;          // ask() calls that sent a request
        uint64_t answers = 0;           // answers matched to an outstanding request
        uint64_t agentErrors = 0;       // ... of which the agent answered "error"
        uint64_t timeouts = 0;          // requests that reached their deadline unanswered
        uint64_t refusedAnswers = 0;    // answers over kMaxAnswerBytes
        uint64_t malformedAnswers = 0;  // lines that are not an answer header where one belongs
        uint64_t staleAnswers = 0;      // answers to no outstanding request (a timed-out one)
        uint64_t bytesToGuest = 0;      // request bytes placed in the agent's receive buffers
        uint64_t bytesFromGuest = 0;    // bytes the guest wrote to the port
        uint64_t discardedBytes = 0;    // of those, bytes no ask() got: stale, unasked, refused
        uint64_t controlErrors = 0;     // control messages refused (size, event, port, order)
        uint64_t refusedChains = 0;     // chains of the wrong shape, returned unused
    };

    // `name` names the device in log lines; `portName` is what the guest sees (tests only ever
    // change it to check it travels).
    explicit VirtioConsole(std::string name, std::string portName = kAgentPortName);
    ~VirtioConsole() override;

    uint32_t deviceType() const override { return kDeviceConsole; }
    uint64_t offeredFeatures() const override;
    unsigned queueCount() const override { return 2 * (kMaxPorts + 1); }
    void readConfig(uint64_t offset, std::span<uint8_t> data) override;
    void activate(uint64_t features) override;
    void processQueue(unsigned index, VirtQueue& queue) override;
    void reset() override;
    void setWakeUp(WakeUp wakeUp) override;

    // The eventfd ask() signals when it has queued bytes for the guest. Polled while the device
    // holds a receive chain of the agent's port: it is drained on every pass over that queue, so
    // it only reads readable when bytes were queued since. One case remains where the worker
    // could spin on it: the transport skipping the queue (the driver disabled it, or broke it,
    // without a reset), so that nothing drains it. A signal is therefore polled for once; if the
    // pass it brings never reaches the device, polling stops until the device drains it or
    // ask() signals again.
    int hostInputFd() const override { return hostInput_.get(); }
    unsigned hostInputQueue() const override { return kAgentReceive; }
    bool wantsHostInput() const override;

    // Thread-safe; called from the monitor's control thread, not the vCPU or worker threads.
    // Sends `request` (one line without its newline: a command, then optional arguments,
    // printable ASCII, at most kMaxRequestBytes) to the agent and waits until `deadline` for its
    // whole answer. Returns the answer's payload, or std::nullopt with `error` set ("no agent:
    // the guest has not opened org.ingot.agent.0", "timed out after 2 s", ...). One request at
    // a time: a second caller waits for the first, within its own deadline.
    std::optional<std::string> ask(const std::string& request,
                                   std::chrono::steady_clock::time_point deadline,
                                   std::string& error);
    // The guest has the port open (an agent is listening, or at least holds the port).
    bool guestConnected() const;

    Stats stats() const;
    // stats() as the stats document's "agent" object.
    nlohmann::ordered_json statsJson() const;

private:
    enum class PortState { kAbsent, kAdded, kReady };
    enum class ParseState { kHeader, kPayload };

    void controlTransmit(VirtQueue& queue);
    void controlReceive(VirtQueue& queue);
    void agentReceive(VirtQueue& queue);
    void agentTransmit(VirtQueue& queue);
    void port0Transmit(VirtQueue& queue);
    void handleControl(uint32_t id, uint16_t event, uint16_t value);
    void sendControl(uint16_t event, uint16_t value, std::string_view extra = {});
    void setGuestConnected(bool connected);
    void refuse(VirtQueue& queue, const DescriptorChain& chain, const std::string& why);
    void wakeUp(unsigned queue);

    // The answer parser; under mutex_.
    void feed(std::span<const uint8_t> bytes);
    void headerLine(const std::string& line);
    void finishAnswer();
    void malformed(const std::string& why);
    void resetParser();
    // Ends the outstanding request, if any, with `why`; under mutex_.
    void fail(const std::string& why);

    const std::string portName_;
    FileDescriptor hostInput_;

    std::mutex wakeUpMutex_;
    WakeUp wakeUp_;

    // Everything below, between the worker (processQueue), the transport (activate, reset, on
    // a vCPU thread) and ask().
    mutable std::mutex mutex_;
    std::condition_variable answered_;
    // One request in flight: asking_ while an ask() runs, turn_ for the next caller.
    bool asking_ = false;
    std::condition_variable turn_;
    bool multiport_ = false;
    PortState port_ = PortState::kAbsent;
    bool guestConnected_ = false;
    std::deque<std::vector<uint8_t>> controlOut_;

    // Host to guest: the unsent bytes of request lines. midLine_: the first line has been partly
    // delivered already, so its rest must follow before anything else.
    std::string outbox_;
    bool midLine_ = false;
    DescriptorChain receiveChain_;  // the agent's receiveq chain the device holds
    bool holdingReceive_ = false;
    std::atomic<bool> wantsInput_{false};  // holdingReceive_, for the worker without the lock
    // Signals ask() sent, the count when the device last drained the eventfd, and when the worker
    // was last told to poll for a pending signal (see hostInputFd).
    std::atomic<uint64_t> signalled_{0};
    std::atomic<uint64_t> drained_{0};
    mutable std::atomic<uint64_t> polledAt_{0};

    // The request in flight.
    std::optional<uint64_t> outstanding_;  // its id while ask() waits for it
    uint64_t nextId_ = 0;
    bool done_ = false;
    std::optional<std::string> result_;
    std::string failure_;

    // Guest to host: the parser's state.
    ParseState parse_ = ParseState::kHeader;
    std::string line_;         // the header line so far
    bool skipLine_ = false;    // dropping the rest of an overlong line
    bool resyncing_ = false;   // after a bad header: dropping lines until a header parses
    uint64_t remaining_ = 0;   // payload bytes still to come
    bool keep_ = false;        // the payload answers the outstanding request
    uint64_t keepId_ = 0;      // ... whose id this is
    bool answerOk_ = false;    // its status was "ok"
    std::string answerError_;  // set instead when the header itself dooms the answer
    std::string answer_;

    Stats stats_;
    bool port0Reported_ = false;
    DescriptorChain chain_;
};

}  // namespace ingot::vmm::virtio
