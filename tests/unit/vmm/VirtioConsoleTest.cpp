// virtio-console carrying the agent channel, driven as Linux's virtio_console driver drives it
// (DEVICE_READY, PORT_READY, PORT_OPEN on the control transmitq; buffers on the receiveqs), with
// the test playing the in-guest agent (and, once, the guest kernel under the real agent script,
// recipes/files/ingot-agent): the handshake, requests and answers both ways, and what a
// hostile guest can send (control messages of the wrong size, unknown events and ports, answers
// too large or malformed, data nobody asked for, a reset in the middle of a request).
#include "devices/virtio/VirtioConsole.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <map>
#include <thread>

#include "VirtioTestSupport.h"
#include "devices/virtio/VirtioSpec.h"

namespace ingot::vmm::virtio {
namespace {

using namespace std::chrono_literals;
using test::TestBuffer;
using test::TestRing;
using C = VirtioConsole;

constexpr uint64_t kRingSpacing = 0x40000;  // a TestRing spans 0x10000..0x31000 past its base
constexpr uint64_t kDataStart = 0x400000;
constexpr uint64_t kDataEnd = 0xf00000;
constexpr uint32_t kBadId = 0xffffffff;  // VIRTIO_CONSOLE_BAD_ID, DEVICE_READY's id in Linux

struct Control {
    uint32_t id;
    uint16_t event;
    uint16_t value;
    std::string extra;
};

using Answer = std::pair<std::optional<std::string>, std::string>;

class VirtioConsoleTest : public ::testing::Test {
protected:
    void SetUp() override {
        for (unsigned q = 0; q < 6; ++q)
            rings.push_back(std::make_unique<TestRing>(memory, 64, q * kRingSpacing));
        console = std::make_unique<VirtioConsole>("virtio-console-test");
        console->log().setInterval(0ns);
        console->log().setSink([this](const std::string& line) {
            std::lock_guard lock(logMutex);
            logLines.push_back(line);
        });
        console->setWakeUp(
            [this](unsigned queue, std::chrono::nanoseconds) { wakeUps.push_back(queue); });
    }

    // DRIVER_OK with `features`: fresh queues over the rings, as the transport builds them.
    void activate(uint64_t features = kFeatureVersion1 | C::kFeatureMultiport) {
        queues.clear();
        for (unsigned q = 0; q < 6; ++q)
            queues.push_back(
                std::make_unique<VirtQueue>(memory, rings[q]->layout(), features, q, queueLog));
        console->activate(features);
    }
    // The worker: one queue, then whatever the device asked to have processed again.
    void run(unsigned queue) {
        console->processQueue(queue, *queues[queue]);
        for (int i = 0; i < 10000 && !wakeUps.empty(); ++i) {
            unsigned q = wakeUps.front();
            wakeUps.erase(wakeUps.begin());
            console->processQueue(q, *queues[q]);
        }
        ASSERT_TRUE(wakeUps.empty()) << "the device keeps asking to be run";
    }

    uint64_t alloc(uint64_t bytes) {
        if (next + bytes > kDataEnd) next = kDataStart;
        uint64_t at = next;
        next += (bytes + 15) & ~15ull;
        return at;
    }
    uint64_t place(const std::string& bytes) {
        uint64_t at = alloc(bytes.size());
        memory.write(at, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
        return at;
    }
    std::string guestBytes(uint64_t gpa, size_t n) {
        auto bytes = memory.slice(gpa, n);
        return {bytes.begin(), bytes.end()};
    }

    static std::string controlBytes(uint32_t id, uint16_t event, uint16_t value) {
        std::string m(8, '\0');
        for (int i = 0; i < 4; ++i) m[i] = static_cast<char>(id >> (8 * i));
        m[4] = static_cast<char>(event), m[5] = static_cast<char>(event >> 8);
        m[6] = static_cast<char>(value), m[7] = static_cast<char>(value >> 8);
        return m;
    }
    // The driver's send_control_msg: one 8-byte buffer on the control transmitq, and a kick.
    void driverSends(uint32_t id, uint16_t event, uint16_t value) {
        const uint16_t head =
            rings[3]->addChain({{place(controlBytes(id, event, value)), 8, false}});
        rings[3]->publish(head);
        run(C::kControlTransmit);
        EXPECT_EQ(rings[3]->used(static_cast<uint16_t>(rings[3]->usedIdx() - 1)).id, head)
            << "the control buffer must come back at once";
    }
    // Linux's fill_queue: page-sized buffers on a receiveq.
    void postBuffers(unsigned queue, int n, uint32_t size = 4096) {
        for (int i = 0; i < n; ++i) {
            uint64_t at = alloc(size);
            uint16_t head = rings[queue]->addChain({{at, size, true}});
            bufferAt[queue][head] = at;
            rings[queue]->publish(head);
        }
        run(queue);
    }
    // What the device put in receive buffers since the last look.
    std::vector<std::string> received(unsigned queue) {
        std::vector<std::string> out;
        while (seen[queue] != rings[queue]->usedIdx()) {
            auto used = rings[queue]->used(seen[queue]++);
            out.push_back(guestBytes(bufferAt[queue][static_cast<uint16_t>(used.id)], used.len));
        }
        return out;
    }
    std::vector<Control> controlMessages() {
        std::vector<Control> out;
        for (const auto& m : received(C::kControlReceive)) {
            EXPECT_GE(m.size(), 8u);
            if (m.size() < 8) continue;
            auto byte = [&](int i) { return static_cast<uint8_t>(m[i]); };
            out.push_back({static_cast<uint32_t>(byte(0) | byte(1) << 8 | byte(2) << 16 |
                                                 uint32_t{byte(3)} << 24),
                           static_cast<uint16_t>(byte(4) | byte(5) << 8),
                           static_cast<uint16_t>(byte(6) | byte(7) << 8), m.substr(8)});
        }
        return out;
    }
    std::string agentReads() {
        std::string all;
        for (const auto& piece : received(C::kAgentReceive)) all += piece;
        return all;
    }
    // The agent's write(): one chain on port 1's transmitq, made of `pieces` as buffers.
    void agentWrites(const std::vector<std::string>& pieces) {
        std::vector<TestBuffer> buffers;
        for (const auto& p : pieces)
            buffers.push_back({place(p), static_cast<uint32_t>(p.size()), false});
        rings[C::kAgentTransmit]->publish(rings[C::kAgentTransmit]->addChain(buffers));
        run(C::kAgentTransmit);
    }
    void agentWrites(const std::string& bytes) { agentWrites(std::vector<std::string>{bytes}); }
    static std::string answer(uint64_t id, const std::string& payload, const char* status = "ok") {
        return "ingot-agent 1 " + std::to_string(id) + " " + status + " " +
               std::to_string(payload.size()) + "\n" + payload;
    }

    // What Linux does from probe to an agent holding the port open.
    void handshake() {
        activate();
        postBuffers(C::kControlReceive, 8);
        driverSends(kBadId, C::kDeviceReady, 1);
        auto added = controlMessages();
        ASSERT_EQ(added.size(), 1u);
        postBuffers(C::kAgentReceive, 4);
        driverSends(C::kAgentPort, C::kPortReady, 1);
        ASSERT_EQ(controlMessages().size(), 2u);
        driverSends(C::kAgentPort, C::kPortOpen, 1);
        ASSERT_TRUE(console->guestConnected());
    }

    std::future<Answer> askAsync(std::string request, std::chrono::milliseconds timeout = 10s) {
        return std::async(std::launch::async, [this, request, timeout] {
            std::string error;
            auto payload = console->ask(request, std::chrono::steady_clock::now() + timeout, error);
            return Answer{payload, error};
        });
    }
    void waitForRequests(uint64_t n) {
        const auto until = std::chrono::steady_clock::now() + 10s;
        while (console->stats().requests < n && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(1ms);
        ASSERT_EQ(console->stats().requests, n);
    }
    // The worker woken by ask()'s eventfd: the request lands in the held receive buffer.
    std::string deliver(uint64_t requestNumber) {
        waitForRequests(requestNumber);
        EXPECT_TRUE(hostInputReadable());
        run(C::kAgentReceive);
        return agentReads();
    }
    bool hostInputReadable() {
        pollfd p{console->hostInputFd(), POLLIN, 0};
        return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
    }
    size_t logCount() {
        std::lock_guard lock(logMutex);
        return logLines.size();
    }
    std::string lastLog() {
        std::lock_guard lock(logMutex);
        return logLines.empty() ? "" : logLines.back();
    }

    GuestMemory memory{16ull << 20};
    std::vector<std::unique_ptr<TestRing>> rings;
    std::vector<std::unique_ptr<VirtQueue>> queues;
    RateLimitedLog queueLog{"test-console-queue", 0ns};
    std::unique_ptr<VirtioConsole> console;
    std::vector<unsigned> wakeUps;
    std::mutex logMutex;
    std::vector<std::string> logLines;
    std::map<uint16_t, uint64_t> bufferAt[6];
    uint16_t seen[6] = {};
    uint64_t next = kDataStart;
};

TEST_F(VirtioConsoleTest, IsAMultiportConsoleWithTwoPortsAndSixQueues) {
    EXPECT_EQ(console->deviceType(), 3u);
    EXPECT_EQ(console->queueCount(), 6u);
    const uint64_t f = console->offeredFeatures();
    EXPECT_TRUE(f & kFeatureVersion1);
    EXPECT_TRUE(f & C::kFeatureMultiport);
    EXPECT_FALSE(f & 1) << "VIRTIO_CONSOLE_F_SIZE: the port is no console";
    EXPECT_FALSE(f & 4) << "VIRTIO_CONSOLE_F_EMERG_WRITE";
    uint8_t config[16];
    std::memset(config, 0xff, sizeof config);
    console->readConfig(0, config);
    const uint8_t expected[16] = {0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_EQ(std::memcmp(config, expected, sizeof config), 0);  // cols, rows, max_nr_ports 2
    uint8_t one;
    console->readConfig(4, {&one, 1});
    EXPECT_EQ(one, 2);
}

TEST_F(VirtioConsoleTest, HandshakeAddsNamesAndOpensPortOne) {
    activate();
    postBuffers(C::kControlReceive, 8);
    EXPECT_TRUE(controlMessages().empty()) << "nothing before the driver's DEVICE_READY";
    driverSends(kBadId, C::kDeviceReady, 1);
    auto added = controlMessages();
    ASSERT_EQ(added.size(), 1u);
    EXPECT_EQ(added[0].id, 1u);
    EXPECT_EQ(added[0].event, C::kPortAdd);
    EXPECT_TRUE(added[0].extra.empty());
    // Linux's add_port fills the port's receiveq, then says PORT_READY.
    postBuffers(C::kAgentReceive, 4);
    driverSends(1, C::kPortReady, 1);
    auto ready = controlMessages();
    ASSERT_EQ(ready.size(), 2u);
    EXPECT_EQ(ready[0].id, 1u);
    EXPECT_EQ(ready[0].event, C::kPortName);
    EXPECT_EQ(ready[0].value, 1u);
    EXPECT_EQ(ready[0].extra, "org.ingot.agent.0") << "the name without a NUL (5.3.6.2)";
    EXPECT_EQ(ready[1].id, 1u);
    EXPECT_EQ(ready[1].event, C::kPortOpen);
    EXPECT_EQ(ready[1].value, 1u);
    EXPECT_FALSE(console->guestConnected()) << "until the agent opens /dev/vportNp1";
    driverSends(1, C::kPortOpen, 1);
    EXPECT_TRUE(console->guestConnected());
    driverSends(1, C::kPortOpen, 0);
    EXPECT_FALSE(console->guestConnected());
    EXPECT_TRUE(controlMessages().empty()) << "no CONSOLE_PORT, nothing else";
    EXPECT_EQ(console->stats().controlErrors, 0u);
    EXPECT_EQ(logCount(), 0u);
}

TEST_F(VirtioConsoleTest, ControlMessagesWaitForTheDriversBuffers) {
    activate();
    driverSends(kBadId, C::kDeviceReady, 1);
    EXPECT_EQ(rings[C::kControlReceive]->usedIdx(), 0u);
    postBuffers(C::kControlReceive, 1);  // the driver's kick
    auto added = controlMessages();
    ASSERT_EQ(added.size(), 1u);
    EXPECT_EQ(added[0].event, C::kPortAdd);
}

TEST_F(VirtioConsoleTest, AskSendsOneLineAndReturnsThePayload) {
    handshake();
    EXPECT_TRUE(console->wantsHostInput()) << "it holds one of the port's receive buffers";
    auto pending = askAsync("stat");
    EXPECT_EQ(deliver(1), "stat 1\n");
    EXPECT_FALSE(hostInputReadable()) << "drained by the pass that delivered";
    const std::string payload = "uptime 12.34 20.00\nclk_tck 100\ncpu  1 2 3 4 5 6 7 8 0 0\n";
    const std::string whole = answer(1, payload);
    // Split as writes may split it: inside the header, across buffers of one chain, and chains.
    agentWrites({whole.substr(0, 5), whole.substr(5, 9)});
    agentWrites(whole.substr(14, 20));
    agentWrites(whole.substr(34));
    auto [result, error] = pending.get();
    ASSERT_TRUE(result) << error;
    EXPECT_EQ(*result, payload);
    EXPECT_TRUE(error.empty());
    auto s = console->stats();
    EXPECT_EQ(s.requests, 1u);
    EXPECT_EQ(s.answers, 1u);
    EXPECT_EQ(s.bytesToGuest, 7u);
    EXPECT_EQ(s.bytesFromGuest, whole.size());
    EXPECT_EQ(s.discardedBytes, 0u);
    EXPECT_TRUE(s.guestConnected);
}

TEST_F(VirtioConsoleTest, RequestArgumentsFollowTheId) {
    handshake();
    auto pending = askAsync("stat cpu extra");
    EXPECT_EQ(deliver(1), "stat 1 cpu extra\n");
    agentWrites(answer(1, ""));
    auto [result, error] = pending.get();
    ASSERT_TRUE(result) << error;
    EXPECT_EQ(*result, "");
}

TEST_F(VirtioConsoleTest, AskWithoutAnAgentFailsAtOnce) {
    std::string error;
    EXPECT_FALSE(console->ask("stat", std::chrono::steady_clock::now() + 10s, error));
    EXPECT_EQ(error, "no agent: the guest has not opened org.ingot.agent.0");
    handshake();
    driverSends(1, C::kPortOpen, 0);
    EXPECT_FALSE(console->ask("stat", std::chrono::steady_clock::now() + 10s, error));
    EXPECT_EQ(error, "no agent: the guest has not opened org.ingot.agent.0");
    EXPECT_EQ(console->stats().requests, 0u);
    EXPECT_FALSE(hostInputReadable());
}

TEST_F(VirtioConsoleTest, RequestsAreOnePrintableLine) {
    handshake();
    std::string error;
    for (const std::string& bad : {std::string(), std::string("stat\n"), std::string(" stat"),
                                   std::string("st\x01t"), std::string(1025, 'a')}) {
        EXPECT_FALSE(console->ask(bad, std::chrono::steady_clock::now() + 10s, error));
        EXPECT_NE(error.find("bad request"), std::string::npos) << error;
    }
    EXPECT_EQ(console->stats().requests, 0u);
}

TEST_F(VirtioConsoleTest, ALateAnswerIsDroppedAndTheNextRequestGetsItsOwn) {
    handshake();
    auto first = askAsync("stat", 300ms);
    EXPECT_EQ(deliver(1), "stat 1\n");
    auto [late, error] = first.get();
    EXPECT_FALSE(late);
    EXPECT_EQ(error, "timed out after 0.3 s: the agent did not answer");
    // The agent was slow, not dead: its answer to request 1 arrives after the second request.
    auto second = askAsync("stat");
    EXPECT_EQ(deliver(2), "stat 2\n");
    const std::string stale = answer(1, "old figures\n");
    agentWrites(stale);
    agentWrites(answer(2, "new figures\n"));
    auto [result, error2] = second.get();
    ASSERT_TRUE(result) << error2;
    EXPECT_EQ(*result, "new figures\n");
    auto s = console->stats();
    EXPECT_EQ(s.timeouts, 1u);
    EXPECT_EQ(s.staleAnswers, 1u);
    EXPECT_EQ(s.answers, 1u);
    EXPECT_EQ(s.discardedBytes, stale.size());
}

TEST_F(VirtioConsoleTest, ARequestNobodyTookIsReplacedByTheNext) {
    activate();
    postBuffers(C::kControlReceive, 8);
    driverSends(kBadId, C::kDeviceReady, 1);
    driverSends(1, C::kPortReady, 1);
    driverSends(1, C::kPortOpen, 1);  // open, but no receive buffers yet
    EXPECT_FALSE(console->wantsHostInput()) << "no buffer to put a request in";
    auto [result, error] = askAsync("stat", 50ms).get();
    EXPECT_FALSE(result);
    EXPECT_EQ(error, "timed out after 0.05 s: the guest took no buffer for the request");
    auto second = askAsync("ping");
    waitForRequests(2);
    postBuffers(C::kAgentReceive, 2);
    EXPECT_EQ(agentReads(), "ping 2\n") << "the abandoned request never reaches the agent";
    agentWrites(answer(2, ""));
    EXPECT_TRUE(second.get().first);
}

TEST_F(VirtioConsoleTest, AnErrorAnswerBecomesTheError) {
    handshake();
    auto pending = askAsync("frobnicate");
    EXPECT_EQ(deliver(1), "frobnicate 1\n");
    agentWrites(answer(1, "unknown request: frobnicate\n", "error"));
    auto [result, error] = pending.get();
    EXPECT_FALSE(result);
    EXPECT_EQ(error, "the agent answered with an error: unknown request: frobnicate");
    EXPECT_EQ(console->stats().agentErrors, 1u);
}

TEST_F(VirtioConsoleTest, AnAnswerWithoutAnIdFailsTheRequest) {
    handshake();
    auto pending = askAsync("stat");
    deliver(1);
    agentWrites("ingot-agent 1 - error 12\nbad request\n");
    auto [result, error] = pending.get();
    EXPECT_FALSE(result);
    EXPECT_EQ(error, "the agent answered with an error: bad request");
}

TEST_F(VirtioConsoleTest, AnotherProtocolVersionIsRefused) {
    handshake();
    auto pending = askAsync("stat");
    deliver(1);
    agentWrites("ingot-agent 2 1 ok 3\nabc");
    auto [result, error] = pending.get();
    EXPECT_FALSE(result);
    EXPECT_EQ(error, "the agent speaks protocol version 2, the monitor 1");
}

TEST_F(VirtioConsoleTest, AnswersUpToTheLimitPassAndLargerOnesAreRefused) {
    handshake();
    const std::string big(C::kMaxAnswerBytes, 'x');
    auto first = askAsync("stat");
    deliver(1);
    agentWrites({answer(1, big).substr(0, 40000), answer(1, big).substr(40000)});
    auto [result, error] = first.get();
    ASSERT_TRUE(result) << error;
    EXPECT_EQ(result->size(), C::kMaxAnswerBytes);

    // One byte more is refused as soon as the header says so, without waiting for the payload.
    auto second = askAsync("stat");
    deliver(2);
    agentWrites("ingot-agent 1 2 ok 65537\n");
    auto [refused, why] = second.get();
    EXPECT_FALSE(refused);
    EXPECT_EQ(why, "the agent's answer of 65537 bytes is over the 65536-byte limit; refused");
    EXPECT_EQ(console->stats().refusedAnswers, 1u);
    // Its payload is skipped, never held, and the answer after it is found.
    const std::string tooBig(C::kMaxAnswerBytes + 1, 'y');
    agentWrites({tooBig.substr(0, 30000), tooBig.substr(30000)});
    auto third = askAsync("stat");
    deliver(3);
    agentWrites(answer(3, "fine\n"));
    auto [recovered, error3] = third.get();
    ASSERT_TRUE(recovered) << error3;
    EXPECT_EQ(*recovered, "fine\n");
    auto s = console->stats();
    EXPECT_EQ(s.malformedAnswers, 0u);
    EXPECT_EQ(s.discardedBytes, std::string("ingot-agent 1 2 ok 65537\n").size() + tooBig.size());
}

TEST_F(VirtioConsoleTest, AMalformedHeaderFailsTheRequestAndIsReportedOnce) {
    handshake();
    auto pending = askAsync("stat");
    deliver(1);
    agentWrites("login: \nPassword: \nlogin incorrect\n");
    auto [result, error] = pending.get();
    EXPECT_FALSE(result);
    EXPECT_EQ(error, "the agent sent a malformed answer: 'login: ' is not an answer header");
    auto s = console->stats();
    EXPECT_EQ(s.malformedAnswers, 1u);
    EXPECT_EQ(logCount(), 1u);
    EXPECT_NE(lastLog().find("'login: ' is not an answer header"), std::string::npos) << lastLog();
    uint64_t id = 1;
    for (const char* bad :
         {"ingot-agent 1 2 ok\n", "ingot-agent 1 2 maybe 3\n", "ingot-agent 1 2 ok -3\n",
          "ingot-agent 1 0x2 ok 3\n", "ingot-agent  1 2 ok 3\n", "ingot-agent 1 2 ok 3 4\n"}) {
        auto next = askAsync("stat");
        deliver(++id);
        agentWrites(bad);
        auto [r, e] = next.get();
        EXPECT_FALSE(r) << bad;
        EXPECT_NE(e.find("malformed answer"), std::string::npos) << bad << ": " << e;
    }
    auto good = askAsync("stat");
    deliver(++id);
    agentWrites(answer(id, "ok\n"));
    EXPECT_TRUE(good.get().first);
}

TEST_F(VirtioConsoleTest, AnOverlongLineIsDroppedWithoutBeingBuffered) {
    handshake();
    auto pending = askAsync("stat");
    deliver(1);
    agentWrites(std::string(1000, 'A'));  // no newline yet
    auto [result, error] = pending.get();
    EXPECT_FALSE(result);
    EXPECT_NE(error.find("a line of more than 128 bytes"), std::string::npos) << error;
    agentWrites(std::string(5000, 'B') + "\n");
    auto next = askAsync("stat");
    deliver(2);
    agentWrites(answer(2, "x"));
    auto [r, e] = next.get();
    ASSERT_TRUE(r) << e;
    EXPECT_EQ(*r, "x");
    EXPECT_EQ(console->stats().discardedBytes, 6001u);
    EXPECT_EQ(console->stats().malformedAnswers, 1u);
}

TEST_F(VirtioConsoleTest, AGuestFloodingThePortIsDrainedCountedAndReportedOnce) {
    handshake();
    // 320 writes of 32 KiB (Linux's largest) with nobody asking: every chain comes back, nothing
    // is kept, one complaint.
    const uint64_t junk = place(std::string(32 * 1024, 'z'));
    uint64_t used = 0;
    for (int round = 0; round < 5; ++round) {
        for (int i = 0; i < 64; ++i) {
            auto& ring = *rings[C::kAgentTransmit];
            ring.publish(ring.addChain({{junk, 32 * 1024, false}}));
        }
        console->processQueue(C::kAgentTransmit, *queues[C::kAgentTransmit]);
        used += 64;
        EXPECT_EQ(rings[C::kAgentTransmit]->usedIdx(), used % 65536);
        ASSERT_EQ(wakeUps.size(), 1u) << "a full batch asks the worker to come back";
        wakeUps.clear();
        run(C::kAgentTransmit);
    }
    auto s = console->stats();
    EXPECT_EQ(s.bytesFromGuest, 320u * 32 * 1024);
    EXPECT_EQ(s.discardedBytes, 320u * 32 * 1024);
    EXPECT_EQ(s.malformedAnswers, 1u);
    EXPECT_EQ(logCount(), 1u);
    EXPECT_NE(lastLog().find("no request outstanding"), std::string::npos) << lastLog();
    // The flood ends; the agent's answers are found again.
    agentWrites("\n");
    auto pending = askAsync("stat");
    deliver(1);
    agentWrites(answer(1, "calm\n"));
    auto [result, error] = pending.get();
    ASSERT_TRUE(result) << error;
    EXPECT_EQ(*result, "calm\n");
}

TEST_F(VirtioConsoleTest, ControlMessagesOfTheWrongSizeAreIgnored) {
    activate();
    postBuffers(C::kControlReceive, 8);
    auto& ring = *rings[C::kControlTransmit];
    const std::string ready = controlBytes(kBadId, C::kDeviceReady, 1);
    ring.publish(ring.addChain({{place(ready.substr(0, 4)), 4, false}}));          // truncated
    ring.publish(ring.addChain({{place(ready + "more"), 12, false}}));             // oversized
    ring.publish(ring.addChain({{place(ready), 8, false}, {alloc(8), 8, true}}));  // writable
    run(C::kControlTransmit);
    EXPECT_EQ(ring.usedIdx(), 3u) << "every chain comes back";
    EXPECT_TRUE(controlMessages().empty()) << "none of them counts as DEVICE_READY";
    auto s = console->stats();
    EXPECT_EQ(s.controlErrors, 2u);
    EXPECT_EQ(s.refusedChains, 1u);
    EXPECT_EQ(logCount(), 3u);
}

TEST_F(VirtioConsoleTest, UnknownEventsAndPortsAreReportedAndChangeNothing) {
    activate();
    postBuffers(C::kControlReceive, 8);
    driverSends(1, C::kPortReady, 1);  // before DEVICE_READY added it
    driverSends(1, C::kPortOpen, 1);
    driverSends(kBadId, C::kDeviceReady, 1);
    ASSERT_EQ(controlMessages().size(), 1u);
    driverSends(1, C::kPortOpen, 1);  // before PORT_READY
    driverSends(1, 42, 1);
    driverSends(1, C::kPortName, 1);  // the device's to send
    driverSends(1, C::kConsolePort, 1);
    driverSends(0, C::kPortReady, 1);  // port 0 is never added
    driverSends(7, C::kPortOpen, 1);
    driverSends(kBadId, C::kPortReady, 1);
    EXPECT_FALSE(console->guestConnected());
    EXPECT_TRUE(controlMessages().empty());
    EXPECT_EQ(console->stats().controlErrors, 9u);
    std::lock_guard lock(logMutex);
    ASSERT_EQ(logLines.size(), 9u);
    EXPECT_NE(logLines[3].find("unknown event 42"), std::string::npos) << logLines[3];
    EXPECT_NE(logLines[6].find("port 0, which does not exist"), std::string::npos) << logLines[6];
}

TEST_F(VirtioConsoleTest, ARepeatedDeviceReadyCannotGrowTheControlQueue) {
    activate();
    for (int i = 0; i < 100; ++i) driverSends(kBadId, C::kDeviceReady, 1);
    postBuffers(C::kControlReceive, 64);
    auto messages = controlMessages();
    EXPECT_EQ(messages.size(), C::kMaxPendingControl);
    EXPECT_EQ(console->stats().controlErrors, 100u - C::kMaxPendingControl);
}

TEST_F(VirtioConsoleTest, FailureReportsFromTheDriverAreLogged) {
    activate();
    postBuffers(C::kControlReceive, 8);
    driverSends(kBadId, C::kDeviceReady, 0);
    EXPECT_TRUE(controlMessages().empty());
    driverSends(kBadId, C::kDeviceReady, 1);
    controlMessages();
    driverSends(1, C::kPortReady, 0);
    EXPECT_TRUE(controlMessages().empty()) << "no name for a port the driver failed to add";
    EXPECT_EQ(console->stats().controlErrors, 2u);
}

TEST_F(VirtioConsoleTest, AResetInTheMiddleFailsTheRequestAndTheDeviceStartsOver) {
    handshake();
    auto pending = askAsync("stat");
    EXPECT_EQ(deliver(1), "stat 1\n");
    agentWrites("ingot-agent 1 1 ok 100\npartial");  // half an answer
    console->reset();
    auto [result, error] = pending.get();
    EXPECT_FALSE(result);
    EXPECT_EQ(error, "the guest reset its virtio-console device before the agent answered");
    EXPECT_FALSE(console->guestConnected());
    EXPECT_FALSE(console->wantsHostInput());
    // The driver sets the device up again from scratch (fresh rings, as after a reset).
    for (auto& ring : rings) ring->reset();
    for (auto& s : seen) s = 0;
    for (auto& b : bufferAt) b.clear();
    handshake();
    auto again = askAsync("stat");
    EXPECT_EQ(deliver(2), "stat 2\n");
    agentWrites(answer(2, "after reset\n"));
    auto [r, e] = again.get();
    ASSERT_TRUE(r) << e;
    EXPECT_EQ(*r, "after reset\n");
}

TEST_F(VirtioConsoleTest, TheAgentClosingThePortFailsTheRequest) {
    handshake();
    auto pending = askAsync("stat");
    deliver(1);
    driverSends(1, C::kPortOpen, 0);
    auto [result, error] = pending.get();
    EXPECT_FALSE(result);
    EXPECT_EQ(error, "the agent closed org.ingot.agent.0 before answering");
    // A new agent opens the port and starts from a clean stream.
    driverSends(1, C::kPortOpen, 1);
    auto next = askAsync("stat");
    EXPECT_EQ(deliver(2), "stat 2\n");
    agentWrites(answer(2, "y"));
    EXPECT_TRUE(next.get().first);
}

TEST_F(VirtioConsoleTest, WantsHostInputOnlyWhileItHoldsAReceiveBuffer) {
    activate();
    EXPECT_FALSE(console->wantsHostInput());
    postBuffers(C::kControlReceive, 8);
    driverSends(kBadId, C::kDeviceReady, 1);
    driverSends(1, C::kPortReady, 1);
    driverSends(1, C::kPortOpen, 1);
    run(C::kAgentReceive);  // a notification with an empty ring
    EXPECT_FALSE(console->wantsHostInput());
    postBuffers(C::kAgentReceive, 1);
    EXPECT_TRUE(console->wantsHostInput());
    auto pending = askAsync("stat");
    EXPECT_EQ(deliver(1), "stat 1\n");
    EXPECT_FALSE(console->wantsHostInput()) << "its only buffer went to the request";
    agentWrites(answer(1, ""));
    EXPECT_TRUE(pending.get().first);
}

TEST_F(VirtioConsoleTest, ASignalTheDeviceNeverSeesIsPolledOnceNotForever) {
    handshake();
    auto pending = askAsync("stat", 300ms);
    waitForRequests(1);
    // The worker's loop when the transport skips the queue (the driver disabled it without a
    // reset): the eventfd stays readable, and the device is not run to drain it.
    EXPECT_TRUE(hostInputReadable());
    EXPECT_TRUE(console->wantsHostInput()) << "polled once for the signal";
    EXPECT_FALSE(console->wantsHostInput()) << "then no more: a readable eventfd would spin";
    EXPECT_FALSE(console->wantsHostInput());
    EXPECT_TRUE(hostInputReadable());
    // A pass that reaches the device drains it, and polling resumes.
    EXPECT_EQ(deliver(1), "stat 1\n");
    EXPECT_TRUE(console->wantsHostInput());
    EXPECT_TRUE(console->wantsHostInput());
    EXPECT_FALSE(pending.get().first);
}

TEST_F(VirtioConsoleTest, ChainsOfTheWrongShapeAreReturnedUnused) {
    activate();
    auto& rx = *rings[C::kAgentReceive];
    auto& tx = *rings[C::kAgentTransmit];
    rx.publish(rx.addChain({{alloc(16), 16, false}, {alloc(64), 64, true}}));  // readable part
    rx.publish(rx.addChain({{alloc(16), 16, false}}));                         // nothing writable
    run(C::kAgentReceive);
    EXPECT_EQ(rx.usedIdx(), 2u);
    EXPECT_EQ(rx.used(0).len, 0u);
    EXPECT_FALSE(console->wantsHostInput());
    postBuffers(C::kAgentReceive, 1);
    EXPECT_TRUE(console->wantsHostInput()) << "a good buffer after the bad ones is held";
    tx.publish(tx.addChain({{place("abc"), 3, false}, {alloc(16), 16, true}}));  // writable part
    tx.publish(tx.addChain({{kDataStart, 1u << 20, false}, {kDataStart, 1, false}}));  // too big
    run(C::kAgentTransmit);
    EXPECT_EQ(tx.usedIdx(), 2u);
    auto s = console->stats();
    EXPECT_EQ(s.refusedChains, 4u);
    EXPECT_EQ(s.bytesFromGuest, 0u) << "refused chains are never read";
}

TEST_F(VirtioConsoleTest, ConcurrentAsksTakeTurns) {
    handshake();
    auto first = askAsync("stat");
    waitForRequests(1);
    // A second caller waits for the first; its deadline passes while it waits.
    std::string error;
    EXPECT_FALSE(console->ask("stat", std::chrono::steady_clock::now() + 50ms, error));
    EXPECT_EQ(error, "timed out after 0.05 s waiting for an earlier request to the agent");
    auto second = askAsync("ping");
    EXPECT_EQ(deliver(1), "stat 1\n");
    agentWrites(answer(1, "one\n"));
    EXPECT_EQ(first.get().first.value_or(""), "one\n");
    EXPECT_EQ(deliver(2), "ping 2\n");
    agentWrites(answer(2, "two\n"));
    EXPECT_EQ(second.get().first.value_or(""), "two\n");
}

TEST_F(VirtioConsoleTest, WithoutMultiportPortZeroIsDrainedAndTheAgentIsAbsent) {
    activate(kFeatureVersion1);
    EXPECT_NE(lastLog().find("MULTIPORT"), std::string::npos) << lastLog();
    auto& tx0 = *rings[C::kPort0Transmit];
    tx0.publish(tx0.addChain({{place("[    0.000000] Linux version"), 28, false}}));
    tx0.publish(tx0.addChain({{place("more console output"), 19, false}}));
    run(C::kPort0Transmit);
    EXPECT_EQ(tx0.usedIdx(), 2u) << "a console's output must be used, or Linux spins";
    // Control queues do not exist for this driver; a hostile one that uses them anyway gets
    // nothing.
    postBuffers(C::kControlReceive, 4);
    auto& ctx = *rings[C::kControlTransmit];
    ctx.publish(ctx.addChain({{place(controlBytes(kBadId, C::kDeviceReady, 1)), 8, false}}));
    run(C::kControlTransmit);
    EXPECT_TRUE(controlMessages().empty());
    std::string error;
    EXPECT_FALSE(console->ask("stat", std::chrono::steady_clock::now() + 1s, error));
    EXPECT_EQ(error, "no agent: the guest has not opened org.ingot.agent.0");
    EXPECT_EQ(console->stats().discardedBytes, 47u);
}

TEST_F(VirtioConsoleTest, StatsJsonCarriesTheCounters) {
    handshake();
    auto pending = askAsync("ping");
    deliver(1);
    agentWrites(answer(1, ""));
    ASSERT_TRUE(pending.get().first);
    auto json = console->statsJson();
    EXPECT_EQ(json["port"], "org.ingot.agent.0");
    EXPECT_EQ(json["guestConnected"], true);
    EXPECT_EQ(json["requests"], 1);
    EXPECT_EQ(json["answers"], 1);
    EXPECT_EQ(json["bytesToGuest"], 7);
    for (const char* key :
         {"agentErrors", "timeouts", "refusedAnswers", "malformedAnswers", "staleAnswers",
          "bytesFromGuest", "discardedBytes", "controlErrors", "refusedChains"})
        EXPECT_TRUE(json.contains(key)) << key;
}

// The real agent script, run by /bin/sh on pipes ("-" mode), with the test as the guest kernel
// in between: the protocol the device speaks is the one the script speaks.
TEST_F(VirtioConsoleTest, TheAgentScriptAnswersThroughTheDevice) {
    const auto script =
        std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().parent_path() /
        "recipes" / "files" / "ingot-agent";
    ASSERT_TRUE(std::filesystem::exists(script)) << script;
    int toAgent[2], fromAgent[2];
    ASSERT_EQ(::pipe2(toAgent, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(fromAgent, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, toAgent[0], 0);
    posix_spawn_file_actions_adddup2(&actions, fromAgent[1], 1);
    const std::string path = script.string();
    char* argv[] = {const_cast<char*>("sh"), const_cast<char*>(path.c_str()),
                    const_cast<char*>("-"), nullptr};
    pid_t pid;
    ASSERT_EQ(::posix_spawn(&pid, "/bin/sh", &actions, nullptr, argv, environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(toAgent[0]);
    ::close(fromAgent[1]);
    FileDescriptor agentIn(toAgent[1]), agentOut(fromAgent[0]);

    handshake();
    // Requests go to the script's stdin; whatever it prints becomes transmit chains of at most
    // 32 KiB, as Linux's port_fops_write makes them, until ask() has its answer.
    auto exchange = [&](const std::string& request, uint64_t number) {
        auto pending = askAsync(request);
        const std::string line = deliver(number);
        EXPECT_EQ(::write(agentIn.get(), line.data(), line.size()),
                  static_cast<ssize_t>(line.size()));
        while (pending.wait_for(0s) != std::future_status::ready) {
            pollfd p{agentOut.get(), POLLIN, 0};
            if (::poll(&p, 1, 100) != 1) continue;
            char buf[32 * 1024];
            const ssize_t n = ::read(agentOut.get(), buf, sizeof buf);
            if (n <= 0) break;
            agentWrites(std::string(buf, static_cast<size_t>(n)));
        }
        return pending.get();
    };
    auto [stat, error] = exchange("stat", 1);
    ASSERT_TRUE(stat) << error;
    EXPECT_EQ(stat->rfind("uptime ", 0), 0u) << *stat;
    EXPECT_NE(stat->find("\nclk_tck "), std::string::npos) << *stat;
    EXPECT_NE(stat->find("\ncpu  "), std::string::npos) << *stat;
    EXPECT_NE(stat->find("\nbtime "), std::string::npos) << *stat;
    EXPECT_EQ(stat->back(), '\n');
    auto [nothing, why] = exchange("frobnicate", 2);
    EXPECT_FALSE(nothing);
    EXPECT_EQ(why, "the agent answered with an error: unknown request: frobnicate");
    auto [pong, error3] = exchange("ping", 3);
    ASSERT_TRUE(pong) << error3;
    EXPECT_EQ(*pong, "");
    auto s = console->stats();
    EXPECT_EQ(s.answers, 3u);
    EXPECT_EQ(s.discardedBytes, 0u);
    EXPECT_EQ(s.malformedAnswers, 0u);

    agentIn.reset();  // end of file: the script ends
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace ingot::vmm::virtio
