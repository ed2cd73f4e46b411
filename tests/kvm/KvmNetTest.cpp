// virtio-net against real KVM and a real tap: Debian's virtio_net driver in the guest, Linux's
// TCP on both sides. The host end is this test: it makes the tap, serves 16 MiB to the guest
// and takes 16 MiB from it, and checks content and pace.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "KvmLinuxBoot.h"
#include "ingot/core/Sha256.h"

namespace {

using ingot::testing::bootLinux;

constexpr const char* kTap = "ingot-t0";
constexpr const char* kHostAddress = "10.0.2.1";
constexpr uint64_t kTransferBytes = 16ull << 20;
constexpr uint64_t kHalf = kTransferBytes / 2;
// bps=2M each way: well below what the nested rig moves (about 3 MiB/s to the guest unlimited).
constexpr uint64_t kRate = 2ull << 20;

int sh(const std::string& command) {
    return std::system((command + " >&2").c_str());
}

// Byte i of what the host sends: not compressible, not periodic within 16 MiB.
uint8_t pattern(uint64_t i) {
    uint64_t x = i * 0x9e3779b97f4a7c15ull;
    x ^= x >> 29;
    return static_cast<uint8_t>(x ^ (x >> 17));
}

int listenOn(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, kHostAddress, &addr.sin_addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || ::listen(fd, 1) < 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// One connection within `seconds`, or -1.
int acceptWithin(int listener, int seconds) {
    pollfd p{listener, POLLIN, 0};
    if (::poll(&p, 1, seconds * 1000) != 1) return -1;
    return ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
}

struct Received {
    std::string sha256;
    uint64_t bytes = 0;
    double secondHalfSeconds = 0;  // from the 8 MiB mark to the 16 MiB mark
};

// Tears the tap down whatever happens.
struct Tap {
    Tap() {
        sh(std::string("ip link del ") + kTap + " 2>/dev/null");
        ok = sh(std::string("ip tuntap add dev ") + kTap + " mode tap") == 0 &&
             sh(std::string("ip addr add ") + kHostAddress + "/24 dev " + kTap) == 0 &&
             sh(std::string("ip link set ") + kTap + " up") == 0;
    }
    ~Tap() { sh(std::string("ip link del ") + kTap); }
    bool ok;
};

double field(const std::string& text, const std::string& key) {
    auto at = text.rfind(key + "=");
    return at == std::string::npos ? -1 : std::atof(text.c_str() + at + key.size() + 1);
}
std::string word(const std::string& text, const std::string& key) {
    auto at = text.rfind(key + "=");
    if (at == std::string::npos) return {};
    at += key.size() + 1;
    return text.substr(at, text.find_first_of(" \r\n", at) - at);
}

TEST(KvmNet, PingAndSixteenMiBEachWayAtTheConfiguredRate) {
    Tap tap;
    ASSERT_TRUE(tap.ok) << "cannot make tap " << kTap << " (needs root and the tun module)";
    int toGuest = listenOn(5001), fromGuest = listenOn(5002);
    ASSERT_GE(toGuest, 0);
    ASSERT_GE(fromGuest, 0);

    // What the guest should see, as two halves.
    std::string firstHalf, secondHalf;
    {
        std::string a(kHalf, '\0'), b(kHalf, '\0');
        for (uint64_t i = 0; i < kHalf; ++i) {
            a[i] = static_cast<char>(pattern(i));
            b[i] = static_cast<char>(pattern(kHalf + i));
        }
        firstHalf = ingot::toHex(ingot::sha256(a));
        secondHalf = ingot::toHex(ingot::sha256(b));
    }
    std::thread sender([&] {
        int c = acceptWithin(toGuest, 200);
        if (c < 0) return;
        std::vector<char> chunk(65536);
        for (uint64_t at = 0; at < kTransferBytes; at += chunk.size()) {
            for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>(pattern(at + i));
            size_t done = 0;
            while (done < chunk.size()) {
                ssize_t n = ::send(c, chunk.data() + done, chunk.size() - done, MSG_NOSIGNAL);
                if (n <= 0) break;
                done += static_cast<size_t>(n);
            }
            if (done < chunk.size()) break;
        }
        ::close(c);
    });
    Received received;
    std::thread receiver([&] {
        int c = acceptWithin(fromGuest, 300);
        if (c < 0) return;
        ingot::Sha256 hash;
        std::vector<char> buf(65536);
        std::chrono::steady_clock::time_point half;
        while (received.bytes < kTransferBytes) {
            pollfd p{c, POLLIN, 0};
            if (::poll(&p, 1, 60'000) != 1) break;
            ssize_t n = ::recv(c, buf.data(), std::min<uint64_t>(buf.size(), kTransferBytes - received.bytes), 0);
            if (n <= 0) break;
            hash.update(buf.data(), static_cast<size_t>(n));
            const bool crossed = received.bytes < kHalf && received.bytes + n >= kHalf;
            received.bytes += static_cast<uint64_t>(n);
            if (crossed) half = std::chrono::steady_clock::now();
        }
        if (received.bytes == kTransferBytes)
            received.secondHalfSeconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - half).count();
        received.sha256 = ingot::toHex(hash.finish());
        ::close(c);
    });

    auto b = bootLinux("net", 1, "512M", {}, 250,
                       {"--net", std::string("tap=") + kTap + ",mac=52:54:00:12:34:56,bps=2M"});
    // A guest that never connected must not keep the threads waiting: wake their accepts.
    ::shutdown(toGuest, SHUT_RDWR);
    ::shutdown(fromGuest, SHUT_RDWR);
    sender.join();
    receiver.join();
    ::close(toGuest);
    ::close(fromGuest);
    const std::string& out = b.result.output;
    ASSERT_EQ(b.result.exitStatus, 0) << out;
    EXPECT_NE(out.find("net mac=52:54:00:12:34:56"), std::string::npos) << out;
    EXPECT_NE(out.find("net ping=0 3 packets transmitted, 3 packets received"), std::string::npos)
        << out;

    // Host to guest: both halves intact; the second, after the one-second burst is spent, at
    // the limit (payload only, so a little under it: headers pay too).
    EXPECT_EQ(word(out, "first"), firstHalf) << out;
    EXPECT_EQ(word(out, "second"), secondHalf) << out;
    const double rxSeconds = field(out, "t2") - field(out, "t1");
    ASSERT_GT(rxSeconds, 0) << out;
    const double rxRate = kHalf / rxSeconds;
    // Timed by the guest's clock, which under nested TCG on a loaded host runs unevenly (one CI
    // run measured 1.22x the limit while the host-timed direction read 1.00x). An unlimited
    // path runs tens of times faster than 2 MB/s, so this still fails for a limiter that does
    // not limit; the host-timed direction below holds the tight bound.
    EXPECT_NEAR(rxRate / kRate, 1.0, 0.35) << rxRate << " B/s towards the guest";

    // Guest to host.
    EXPECT_EQ(received.bytes, kTransferBytes);
    EXPECT_EQ(received.sha256, word(out, "sha256")) << out;
    ASSERT_GT(received.secondHalfSeconds, 0);
    const double txRate = kHalf / received.secondHalfSeconds;
    EXPECT_NEAR(txRate / kRate, 1.0, 0.10) << txRate << " B/s from the guest";
    std::fprintf(stderr, "virtio-net at bps=2M: %.0f B/s to the guest, %.0f B/s from it\n", rxRate,
                 txRate);

    ASSERT_TRUE(b.stats.is_object());
    const auto& net = b.stats["nets"][0];
    EXPECT_EQ(net["mac"], "52:54:00:12:34:56");
    EXPECT_GE(net["receivedBytes"].get<uint64_t>(), kTransferBytes);
    EXPECT_GE(net["sentBytes"].get<uint64_t>(), kTransferBytes);
    EXPECT_GT(net["receiveThrottled"].get<uint64_t>(), 0u);
    EXPECT_GT(net["sendThrottled"].get<uint64_t>(), 0u);
    EXPECT_EQ(net["refusedChains"], 0);
}

}  // namespace
