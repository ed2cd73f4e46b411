#include "devices/virtio/VirtioConsole.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "devices/virtio/VirtioSpec.h"
#include "ingot/core/Error.h"

namespace ingot::vmm::virtio {

namespace {

constexpr std::string_view kHeaderWord = "ingot-agent";

// Guest text quoted in a log line or an error: printable ASCII only, and not much of it.
std::string printable(std::string_view text, size_t max = 80) {
    std::string out;
    for (char c : text.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    if (text.size() > max) out += "...";
    return out;
}

// Plain decimal digits only: no sign, no spaces, no hex; at most `maxDigits` of them.
bool parseDecimal(std::string_view s, size_t maxDigits, uint64_t& out) {
    if (s.empty() || s.size() > maxDigits) return false;
    if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size();
}

// "2", "0.5", "1.25": how long a deadline was, for an error message.
std::string seconds(std::chrono::nanoseconds d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", std::max<int64_t>(d.count(), 0) / 1e9);
    std::string s = buf;
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
    return s;
}

const char* eventName(uint16_t event) {
    static constexpr const char* kNames[] = {"DEVICE_READY", "PORT_ADD",     "PORT_REMOVE",
                                             "PORT_READY",   "CONSOLE_PORT", "RESIZE",
                                             "PORT_OPEN",    "PORT_NAME"};
    return event < std::size(kNames) ? kNames[event] : "an unknown event";
}

void putLe(uint8_t* at, uint64_t value, size_t bytes) {
    for (size_t i = 0; i < bytes; ++i) at[i] = static_cast<uint8_t>(value >> (8 * i));
}

uint64_t getLe(const uint8_t* at, size_t bytes) {
    uint64_t value = 0;
    for (size_t i = 0; i < bytes; ++i) value |= uint64_t{at[i]} << (8 * i);
    return value;
}

}  // namespace

VirtioConsole::VirtioConsole(std::string name, std::string portName)
    : VirtioDevice(std::move(name)), portName_(std::move(portName)) {
    int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) throwSystemError("eventfd for " + this->name(), errno);
    hostInput_ = FileDescriptor(fd);
}

VirtioConsole::~VirtioConsole() = default;

uint64_t VirtioConsole::offeredFeatures() const {
    return kFeatureVersion1 | kFeatureIndirectDesc | kFeatureEventIdx | kFeatureMultiport;
}

void VirtioConsole::readConfig(uint64_t offset, std::span<uint8_t> data) {
    // struct virtio_console_config: cols and rows (zero: F_SIZE is not offered), max_nr_ports,
    // emerg_wr (write-only, and F_EMERG_WRITE is not offered).
    uint8_t config[12] = {};
    putLe(config + 4, kMaxPorts, 4);
    for (size_t i = 0; i < data.size(); ++i)
        data[i] = offset + i < sizeof config ? config[offset + i] : 0;
}

void VirtioConsole::activate(uint64_t features) {
    std::lock_guard lock(mutex_);
    multiport_ = (features & kFeatureMultiport) != 0;
    if (!multiport_)
        log().report(
            "the driver did not accept VIRTIO_CONSOLE_F_MULTIPORT: port 0 is its console, and "
            "the agent port " +
            portName_ + " does not exist for it");
}

void VirtioConsole::reset() {
    std::lock_guard lock(mutex_);
    fail("the guest reset its virtio-console device before the agent answered");
    multiport_ = false;
    port_ = PortState::kAbsent;
    guestConnected_ = false;
    controlOut_.clear();
    outbox_.clear();
    midLine_ = false;
    holdingReceive_ = false;
    wantsInput_ = false;
    port0Reported_ = false;
    resetParser();
}

void VirtioConsole::setWakeUp(WakeUp wakeUp) {
    std::lock_guard lock(wakeUpMutex_);
    wakeUp_ = std::move(wakeUp);
}

void VirtioConsole::wakeUp(unsigned queue) {
    std::lock_guard lock(wakeUpMutex_);
    if (wakeUp_) wakeUp_(queue, std::chrono::nanoseconds(0));
}

bool VirtioConsole::wantsHostInput() const {
    if (!wantsInput_) return false;
    const uint64_t signalled = signalled_.load();
    if (signalled == drained_.load()) return true;  // readable only once ask() signals again
    // A signal not drained yet: one poll for it. The worker comes back here after the pass the
    // signal brings; if that pass drained nothing, the transport did not let the device run.
    return polledAt_.exchange(signalled) != signalled;
}

bool VirtioConsole::guestConnected() const {
    std::lock_guard lock(mutex_);
    return guestConnected_;
}

void VirtioConsole::processQueue(unsigned index, VirtQueue& queue) {
    std::lock_guard lock(mutex_);
    if (index == kPort0Transmit) {
        port0Transmit(queue);
        return;
    }
    // Without MULTIPORT only port 0's pair exists; a driver that enabled more queues anyway
    // gets nothing from them.
    if (!multiport_) return;
    switch (index) {
        case kControlReceive:
            controlReceive(queue);
            break;
        case kControlTransmit:
            controlTransmit(queue);
            break;
        case kAgentReceive:
            agentReceive(queue);
            break;
        case kAgentTransmit:
            agentTransmit(queue);
            break;
        default:
            // Port 0's receiveq: the device never has anything for port 0.
            break;
    }
}

void VirtioConsole::refuse(VirtQueue& queue, const DescriptorChain& chain, const std::string& why) {
    ++stats_.refusedChains;
    log().report("queue " + std::to_string(queue.index()) + ": chain at descriptor " +
                 std::to_string(chain.head()) + ": " + why + "; returned unused");
    queue.pushUsed(chain.head(), 0);
}

void VirtioConsole::controlTransmit(VirtQueue& queue) {
    unsigned n = 0;
    for (; n < kBatch; ++n) {
        if (!queue.pop(chain_)) break;
        if (chain_.writableBytes() != 0) {
            refuse(queue, chain_,
                   "a control message has no device-writable bytes (this one " +
                       std::to_string(chain_.writableBytes()) + ")");
            continue;
        }
        if (chain_.readableBytes() != kControlBytes) {
            ++stats_.controlErrors;
            log().report("a control message of " + std::to_string(chain_.readableBytes()) +
                         " bytes (a control message is 8); ignored");
            queue.pushUsed(chain_.head(), 0);
            continue;
        }
        uint8_t message[kControlBytes];
        chain_.read(0, message);
        // Used at once: Linux's driver spins until its control buffer comes back.
        queue.pushUsed(chain_.head(), 0);
        handleControl(static_cast<uint32_t>(getLe(message, 4)),
                      static_cast<uint16_t>(getLe(message + 4, 2)),
                      static_cast<uint16_t>(getLe(message + 6, 2)));
    }
    if (!controlOut_.empty()) wakeUp(kControlReceive);
    if (n == kBatch) wakeUp(kControlTransmit);
}

void VirtioConsole::handleControl(uint32_t id, uint16_t event, uint16_t value) {
    auto complain = [&](const std::string& why) {
        ++stats_.controlErrors;
        log().report("control message: " + why + "; ignored");
    };
    if (event == kDeviceReady) {
        // The id is VIRTIO_CONSOLE_BAD_ID from Linux; the device looks at the value only.
        if (value != 1) {
            complain("the driver failed to set up the device (DEVICE_READY " +
                     std::to_string(value) + ")");
            return;
        }
        // A driver that starts over (it probed again) gets the port announced again; Linux
        // answers a PORT_ADD for a port it has with PORT_READY.
        setGuestConnected(false);
        port_ = PortState::kAdded;
        sendControl(kPortAdd, 1);
        return;
    }
    if (event != kPortReady && event != kPortOpen) {
        complain(event > kPortName ? "unknown event " + std::to_string(event)
                                   : std::string(eventName(event)) +
                                         " is the device's to send, not the driver's");
        return;
    }
    if (id != kAgentPort) {
        complain(std::string(eventName(event)) + " for port " + std::to_string(id) +
                 ", which does not exist");
        return;
    }
    if (port_ == PortState::kAbsent) {
        complain(std::string(eventName(event)) + " for port " + std::to_string(id) +
                 " before the device added it");
        return;
    }
    if (event == kPortReady) {
        if (value != 1) {
            complain("the driver failed to add port " + std::to_string(id) + " (PORT_READY " +
                     std::to_string(value) + ")");
            return;
        }
        port_ = PortState::kReady;
        sendControl(kPortName, 1, portName_);
        // The host end is always open: the agent's reads then wait for requests instead of
        // returning end-of-file, and its writes are not held back.
        sendControl(kPortOpen, 1);
        return;
    }
    if (port_ != PortState::kReady) {
        complain("PORT_OPEN for port " + std::to_string(id) + " before PORT_READY");
        return;
    }
    if (value > 1) {
        complain("PORT_OPEN " + std::to_string(value) + " (1 opens, 0 closes)");
        return;
    }
    setGuestConnected(value == 1);
}

void VirtioConsole::sendControl(uint16_t event, uint16_t value, std::string_view extra) {
    if (controlOut_.size() >= kMaxPendingControl) {
        ++stats_.controlErrors;
        log().report(std::string("control message ") + eventName(event) +
                     " dropped: " + std::to_string(controlOut_.size()) +
                     " are already waiting for the driver's control buffers");
        return;
    }
    // PORT_NAME's name follows the header without a NUL (5.3.6.2); Linux takes the used length
    // as the name's end.
    std::vector<uint8_t> message(kControlBytes + extra.size());
    putLe(message.data(), kAgentPort, 4);
    putLe(message.data() + 4, event, 2);
    putLe(message.data() + 6, value, 2);
    std::copy(extra.begin(), extra.end(), message.begin() + kControlBytes);
    controlOut_.push_back(std::move(message));
}

void VirtioConsole::controlReceive(VirtQueue& queue) {
    // Buffers are taken only when there is something to put in them; an empty ring makes pop()
    // ask the driver for a notification when it adds one.
    for (unsigned n = 0; n < kBatch && !controlOut_.empty(); ++n) {
        if (!queue.pop(chain_)) return;
        const auto& message = controlOut_.front();
        if (chain_.readableBytes() != 0 || chain_.writableBytes() < message.size()) {
            refuse(queue, chain_,
                   "a control receive buffer needs " + std::to_string(message.size()) +
                       " device-writable and no device-readable bytes (has " +
                       std::to_string(chain_.writableBytes()) + " and " +
                       std::to_string(chain_.readableBytes()) + ")");
            continue;
        }
        chain_.write(0, message);
        queue.pushUsed(chain_.head(), static_cast<uint32_t>(message.size()));
        controlOut_.pop_front();
    }
    if (!controlOut_.empty()) wakeUp(kControlReceive);
}

void VirtioConsole::setGuestConnected(bool connected) {
    if (connected == guestConnected_) return;
    guestConnected_ = connected;
    // A new opener starts from a clean stream both ways; Linux drops what a closed port had not
    // read, so unsent request bytes would go nowhere.
    outbox_.clear();
    midLine_ = false;
    resetParser();
    fail("the agent closed " + portName_ + " before answering");
}

void VirtioConsole::port0Transmit(VirtQueue& queue) {
    // Port 0 is never added with MULTIPORT; without it, a driver writes its console here, and
    // Linux spins until console output is used. Dropped, so that such a guest still runs.
    unsigned n = 0;
    for (; n < kBatch && queue.pop(chain_); ++n) {
        // Counted only up to what a chain may carry, as on the agent's port: a chain whose
        // buffers each cover all of RAM must not make the counters claim terabytes.
        const uint64_t bytes = std::min<uint64_t>(chain_.readableBytes(), kMaxTransmitChainBytes);
        stats_.bytesFromGuest += bytes;
        stats_.discardedBytes += bytes;
        if (!port0Reported_) {
            port0Reported_ = true;
            log().report("output on port 0, which has no host end; dropped");
        }
        queue.pushUsed(chain_.head(), 0);
    }
    if (n == kBatch) wakeUp(kPort0Transmit);
}

void VirtioConsole::agentReceive(VirtQueue& queue) {
    // Drained first: bytes ask() queues from now on signal it again and bring the worker back.
    drained_ = signalled_.load();
    uint64_t count;
    if (::read(hostInput_.get(), &count, sizeof count) < 0) {
        // EAGAIN: nothing was signalled; this pass came from the driver's notification.
    }
    unsigned n = 0;
    for (; n < kBatch; ++n) {
        if (!holdingReceive_) {
            if (!queue.pop(receiveChain_)) break;
            if (receiveChain_.readableBytes() != 0 || receiveChain_.writableBytes() == 0) {
                refuse(queue, receiveChain_,
                       "a receive buffer needs device-writable and no device-readable bytes "
                       "(has " +
                           std::to_string(receiveChain_.writableBytes()) + " and " +
                           std::to_string(receiveChain_.readableBytes()) + ")");
                continue;
            }
            holdingReceive_ = true;
        }
        // Linux drops data that reaches a port nobody has open.
        if (outbox_.empty() || !guestConnected_) break;
        const size_t length =
            static_cast<size_t>(std::min<uint64_t>(outbox_.size(), receiveChain_.writableBytes()));
        receiveChain_.write(0, {reinterpret_cast<const uint8_t*>(outbox_.data()), length});
        queue.pushUsed(receiveChain_.head(), static_cast<uint32_t>(length));
        holdingReceive_ = false;
        midLine_ = outbox_[length - 1] != '\n';
        outbox_.erase(0, length);
        stats_.bytesToGuest += length;
    }
    if (n == kBatch) wakeUp(kAgentReceive);
    wantsInput_ = holdingReceive_;
}

void VirtioConsole::agentTransmit(VirtQueue& queue) {
    for (unsigned n = 0; n < kBatch; ++n) {
        if (!queue.pop(chain_)) return;
        if (chain_.writableBytes() != 0 || chain_.readableBytes() > kMaxTransmitChainBytes) {
            refuse(queue, chain_,
                   "a transmit buffer needs 1 to " + std::to_string(kMaxTransmitChainBytes) +
                       " device-readable and no device-writable bytes (has " +
                       std::to_string(chain_.readableBytes()) + " and " +
                       std::to_string(chain_.writableBytes()) + ")");
            continue;
        }
        stats_.bytesFromGuest += chain_.readableBytes();
        for (const auto& buffer : chain_.readable()) feed(buffer.bytes);
        queue.pushUsed(chain_.head(), 0);
    }
    // A batch's worth: the guest hears about it, and the rest follows without a notification
    // (the driver sends none for chains it already made available).
    wakeUp(kAgentTransmit);
}

void VirtioConsole::resetParser() {
    parse_ = ParseState::kHeader;
    line_.clear();
    skipLine_ = false;
    resyncing_ = false;
    remaining_ = 0;
    keep_ = false;
    answer_.clear();
}

void VirtioConsole::feed(std::span<const uint8_t> bytes) {
    const uint8_t* data = bytes.data();
    size_t i = 0;
    while (i < bytes.size()) {
        if (parse_ == ParseState::kPayload) {
            const size_t take =
                static_cast<size_t>(std::min<uint64_t>(remaining_, bytes.size() - i));
            if (keep_)
                answer_.append(reinterpret_cast<const char*>(data + i), take);
            else
                stats_.discardedBytes += take;
            remaining_ -= take;
            i += take;
            if (remaining_ == 0) finishAnswer();
            continue;
        }
        const auto* newline =
            static_cast<const uint8_t*>(std::memchr(data + i, '\n', bytes.size() - i));
        const size_t end = newline ? static_cast<size_t>(newline - data) : bytes.size();
        const size_t chunk = end - i;
        const size_t next = newline ? end + 1 : end;
        if (skipLine_) {
            stats_.discardedBytes += next - i;
            skipLine_ = !newline;
            i = next;
            continue;
        }
        if (line_.size() + chunk > kMaxHeaderBytes) {
            stats_.discardedBytes += line_.size() + (next - i);
            line_.clear();
            if (!resyncing_)
                malformed("a line of more than " + std::to_string(kMaxHeaderBytes) +
                          " bytes where an answer header belongs");
            skipLine_ = !newline;
            i = next;
            continue;
        }
        line_.append(reinterpret_cast<const char*>(data + i), chunk);
        i = next;
        if (newline) {
            std::string line;
            line.swap(line_);
            headerLine(line);
        }
    }
}

void VirtioConsole::headerLine(const std::string& line) {
    // "ingot-agent <version> <id> <status> <length>", single spaces (docs/agent.md).
    std::vector<std::string_view> fields;
    std::string_view rest = line;
    while (fields.size() < 6) {
        const size_t space = rest.find(' ');
        fields.push_back(rest.substr(0, space));
        if (space == std::string_view::npos) break;
        rest.remove_prefix(space + 1);
    }
    uint64_t version = 0, id = 0, length = 0;
    const bool header =
        fields.size() == 5 && fields[0] == kHeaderWord && parseDecimal(fields[1], 3, version) &&
        (fields[2] == "-" || parseDecimal(fields[2], 20, id)) &&
        (fields[3] == "ok" || fields[3] == "error") && parseDecimal(fields[4], 10, length);
    if (!header) {
        stats_.discardedBytes += line.size() + 1;
        // After a bad header the lines that follow are most likely the rest of the same answer:
        // one complaint is enough.
        if (!resyncing_) malformed("'" + printable(line) + "' is not an answer header");
        return;
    }
    resyncing_ = false;
    const bool ok = fields[3] == "ok";
    // "-": the agent could not read the request's id; only an error can answer that.
    const bool forUs = outstanding_ && ((fields[2] == "-" && !ok) || id == *outstanding_);
    if (length > kMaxAnswerBytes) {
        ++stats_.refusedAnswers;
        stats_.discardedBytes += line.size() + 1;
        log().report("agent port: an answer of " + std::to_string(length) +
                     " bytes, over the limit of " + std::to_string(kMaxAnswerBytes) + "; refused");
        if (forUs)
            fail("the agent's answer of " + std::to_string(length) + " bytes is over the " +
                 std::to_string(kMaxAnswerBytes) + "-byte limit; refused");
        // Its payload is skipped, counted but never held, so that the stream stays in step with
        // an agent that merely has more to say than the limit (a guest with a huge /proc/stat).
        keep_ = false;
        remaining_ = length;
        parse_ = ParseState::kPayload;
        return;
    }
    keep_ = forUs;
    keepId_ = forUs ? *outstanding_ : 0;
    if (!forUs) {
        ++stats_.staleAnswers;
        stats_.discardedBytes += line.size() + 1;
    }
    answerOk_ = ok;
    answerError_.clear();
    if (version != kProtocolVersion)
        answerError_ = "the agent speaks protocol version " + std::to_string(version) +
                       ", the monitor " + std::to_string(kProtocolVersion);
    answer_.clear();
    if (keep_) answer_.reserve(static_cast<size_t>(length));
    remaining_ = length;
    parse_ = ParseState::kPayload;
    if (remaining_ == 0) finishAnswer();
}

void VirtioConsole::finishAnswer() {
    parse_ = ParseState::kHeader;
    if (!keep_) return;
    keep_ = false;
    std::string payload;
    payload.swap(answer_);
    if (!outstanding_ || *outstanding_ != keepId_) {
        // The request timed out while its answer arrived.
        ++stats_.staleAnswers;
        stats_.discardedBytes += payload.size();
        return;
    }
    ++stats_.answers;
    if (!answerError_.empty()) {
        fail(answerError_);
    } else if (!answerOk_) {
        ++stats_.agentErrors;
        while (!payload.empty() && (payload.back() == '\n' || payload.back() == ' '))
            payload.pop_back();
        fail("the agent answered with an error: " + printable(payload, 200));
    } else {
        result_ = std::move(payload);
        done_ = true;
        outstanding_.reset();
        answered_.notify_all();
    }
}

void VirtioConsole::malformed(const std::string& why) {
    ++stats_.malformedAnswers;
    resyncing_ = true;
    log().report("agent port: " + why + (outstanding_ ? "" : " (no request outstanding)") +
                 "; dropped");
    fail("the agent sent a malformed answer: " + why);
}

void VirtioConsole::fail(const std::string& why) {
    if (!outstanding_) return;
    failure_ = why;
    done_ = true;
    outstanding_.reset();
    answered_.notify_all();
}

std::optional<std::string> VirtioConsole::ask(const std::string& request,
                                              std::chrono::steady_clock::time_point deadline,
                                              std::string& error) {
    error.clear();
    const auto start = std::chrono::steady_clock::now();
    const auto timedOut = [&] { return "timed out after " + seconds(deadline - start) + " s"; };
    const bool printableLine =
        std::all_of(request.begin(), request.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
    if (request.empty() || request.size() > kMaxRequestBytes || !printableLine ||
        request.front() == ' ') {
        error = "bad request: one line of 1 to " + std::to_string(kMaxRequestBytes) +
                " printable ASCII characters, starting with its command";
        return std::nullopt;
    }
    std::unique_lock lock(mutex_);
    if (!turn_.wait_until(lock, deadline, [&] { return !asking_; })) {
        error = timedOut() + " waiting for an earlier request to the agent";
        return std::nullopt;
    }
    asking_ = true;
    struct TurnEnds {
        VirtioConsole& self;
        ~TurnEnds() {
            self.asking_ = false;
            self.turn_.notify_one();
        }
    } turnEnds{*this};  // destroyed before `lock`, so still under mutex_
    if (!guestConnected_) {
        error = "no agent: the guest has not opened " + portName_;
        return std::nullopt;
    }
    // Requests that timed out before the guest took them are dropped, except the rest of one
    // the guest has partly: the agent would read it glued to this one.
    if (midLine_)
        outbox_.erase(outbox_.find('\n') + 1);
    else
        outbox_.clear();
    // After garbage the parser drops lines quietly until a header parses; a new request gets
    // its own complaint if garbage is all that comes back.
    resyncing_ = false;
    const uint64_t id = ++nextId_;
    const size_t space = request.find(' ');
    std::string line = request.substr(0, space) + ' ' + std::to_string(id);
    if (space != std::string::npos) line += request.substr(space);
    line += '\n';
    outbox_ += line;
    outstanding_ = id;
    done_ = false;
    result_.reset();
    failure_.clear();
    ++stats_.requests;
    const uint64_t one = 1;
    if (::write(hostInput_.get(), &one, sizeof one) < 0) {
        // EAGAIN: the counter is saturated, and the worker wakes anyway.
    }
    // After the write: a worker that sees the new count finds the eventfd readable.
    ++signalled_;
    if (!answered_.wait_until(lock, deadline, [&] { return done_; })) {
        outstanding_.reset();
        ++stats_.timeouts;
        const bool undelivered =
            outbox_.size() >= line.size() &&
            outbox_.compare(outbox_.size() - line.size(), line.size(), line) == 0;
        error = timedOut() + (undelivered ? ": the guest took no buffer for the request"
                                          : ": the agent did not answer");
        return std::nullopt;
    }
    if (result_) return std::move(result_);
    error = failure_;
    return std::nullopt;
}

VirtioConsole::Stats VirtioConsole::stats() const {
    std::lock_guard lock(mutex_);
    Stats s = stats_;
    s.guestConnected = guestConnected_;
    return s;
}

nlohmann::ordered_json VirtioConsole::statsJson() const {
    const Stats s = stats();
    return {{"port", portName_},
            {"guestConnected", s.guestConnected},
            {"requests", s.requests},
            {"answers", s.answers},
            {"agentErrors", s.agentErrors},
            {"timeouts", s.timeouts},
            {"refusedAnswers", s.refusedAnswers},
            {"malformedAnswers", s.malformedAnswers},
            {"staleAnswers", s.staleAnswers},
            {"bytesToGuest", s.bytesToGuest},
            {"bytesFromGuest", s.bytesFromGuest},
            {"discardedBytes", s.discardedBytes},
            {"controlErrors", s.controlErrors},
            {"refusedChains", s.refusedChains}};
}

}  // namespace ingot::vmm::virtio
