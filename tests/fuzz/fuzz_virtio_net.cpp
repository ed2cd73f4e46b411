// virtio-net's queue handling on guest memory the fuzzer writes, in VirtioFuzzInput.h's format;
// bit 0 of the flags byte picks the queue: 0 the receive queue (three frames wait in the
// backend), 1 the transmit queue. What must hold for any input: nothing outside guest RAM is
// touched (ASan), every frame the device sends is one whole chain of 12 to kMaxPacketBytes
// bytes, no more frames are received than the backend held, and no more are handled in one
// round than a batch.
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "FuzzCheck.h"
#include "GuestMemory.h"
#include "VirtioFuzzInput.h"
#include "devices/virtio/VirtQueue.h"
#include "devices/virtio/VirtioNet.h"

using namespace ingot::vmm;

namespace {

class SocketBackend : public virtio::NetBackend {
public:
    explicit SocketBackend(int fd) : fd_(fd) {}
    int fd() const override { return fd_; }
    std::string setReceiveOffloads(bool, bool, bool) override { return {}; }
    std::string describe() const override { return "fuzz socket"; }

private:
    int fd_;  // owned by the harness, which reuses the pair across inputs
};

struct Pair {
    Pair() {
        FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
        int big = 4 << 20;
        for (int fd : fds) {
            ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
            ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
        }
    }
    // Empties the peer's side and returns the sizes of the frames found there.
    std::vector<size_t> drain() {
        std::vector<size_t> sizes;
        static std::vector<uint8_t> buffer(virtio::VirtioNet::kMaxPacketBytes + 1024);
        ssize_t n;
        while ((n = ::recv(fds[1], buffer.data(), buffer.size(), MSG_DONTWAIT)) >= 0)
            sizes.push_back(static_cast<size_t>(n));
        return sizes;
    }
    int fds[2];
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static GuestMemory memory(16ull << 20);
    static Pair pair;
    if (size < 2) return 0;
    const bool transmit = data[0] & 1;
    auto [features, layout] = fuzz::loadVirtioFuzzInput(memory, data, size);
    FUZZ_CHECK(virtio::VirtQueue::checkLayout(memory, layout, layout.size).empty());

    virtio::VirtioNet net("fuzz-net", std::make_unique<SocketBackend>(pair.fds[0]),
                          {0x52, 0x54, 0, 0x12, 0x34, 0x56});
    net.log().setSink([](const std::string&) {});
    // Leftovers of an earlier input's receive round, from both directions.
    for (char c; ::recv(pair.fds[0], &c, 1, MSG_DONTWAIT) >= 0;) {
    }
    pair.drain();
    net.activate(features);
    const unsigned index = transmit ? virtio::VirtioNet::kTransmitQueue : virtio::VirtioNet::kReceiveQueue;
    virtio::VirtQueue queue(memory, layout, features, index, net.log());
    size_t waiting = 0;
    if (!transmit) {
        const std::array<size_t, 3> sizes{14, 1526, 12 + size % 65550};
        static std::vector<uint8_t> frame(virtio::VirtioNet::kMaxPacketBytes, 0xab);
        for (size_t s : sizes)
            if (::send(pair.fds[1], frame.data(), s, 0) == static_cast<ssize_t>(s)) ++waiting;
    }
    net.processQueue(index, queue);
    (void)queue.needsNotification();

    const auto stats = net.stats();
    const auto sent = pair.drain();
    FUZZ_CHECK(sent.size() == stats.sentFrames);
    for (size_t s : sent)
        FUZZ_CHECK(s >= virtio::VirtioNet::kHeaderBytes && s <= virtio::VirtioNet::kMaxPacketBytes);
    FUZZ_CHECK(stats.receivedFrames + stats.receiveDropped <= waiting);
    FUZZ_CHECK(stats.sentFrames + stats.sendDropped + stats.refusedChains <= layout.size);
    FUZZ_CHECK(stats.sentFrames + stats.sendDropped <= virtio::VirtioNet::kBatch);
    return 0;
}
