#pragma once

// The driver's side of a split virtqueue in a test's guest memory: descriptor table, available
// ring and used ring at fixed addresses, chains built from buffer lists, and a memfd disk.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "GuestMemory.h"
#include "devices/virtio/RawFileBackend.h"
#include "devices/virtio/VirtQueue.h"
#include "devices/virtio/VirtioSpec.h"

namespace ingot::vmm::test {

struct TestBuffer {
    uint64_t gpa;
    uint32_t len;
    bool writable;
};

class TestRing {
public:
    // A second ring of the same device (virtio-net's transmit queue) sits `base` higher.
    TestRing(GuestMemory& memory, uint16_t size, uint64_t base = 0)
        : descTable(0x10000 + base),
          availRing(0x20000 + base),
          usedRing(0x30000 + base),
          memory_(memory),
          size_(size) {
        reset();
    }

    const uint64_t descTable;
    const uint64_t availRing;
    const uint64_t usedRing;

    // Zeroed rings and indices, as a driver sets them up after a device reset.
    void reset() {
        std::memset(memory_.slice(descTable, 0x21000).data(), 0, 0x21000);
        nextFree_ = 0;
        availIdx_ = 0;
    }

    virtio::QueueLayout layout() const { return {size_, descTable, availRing, usedRing}; }
    uint16_t size() const { return size_; }

    void setDesc(uint64_t table, uint16_t index, uint64_t addr, uint32_t len, uint16_t flags,
                 uint16_t next) {
        uint8_t d[16];
        std::memcpy(d, &addr, 8);
        std::memcpy(d + 8, &len, 4);
        std::memcpy(d + 12, &flags, 2);
        std::memcpy(d + 14, &next, 2);
        memory_.write(table + 16ull * index, d);
    }
    void setDesc(uint16_t index, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
        setDesc(descTable, index, addr, len, flags, next);
    }

    // Writes `buffers` as a chain of consecutive descriptors from the next free one; returns the
    // head.
    uint16_t addChain(const std::vector<TestBuffer>& buffers) {
        uint16_t head = nextFree_;
        for (size_t i = 0; i < buffers.size(); ++i) {
            uint16_t index = static_cast<uint16_t>((head + i) % size_);
            uint16_t flags = buffers[i].writable ? virtio::kDescWrite : 0;
            if (i + 1 < buffers.size()) flags |= virtio::kDescNext;
            setDesc(index, buffers[i].gpa, buffers[i].len, flags,
                    static_cast<uint16_t>((index + 1) % size_));
        }
        nextFree_ = static_cast<uint16_t>((head + buffers.size()) % size_);
        return head;
    }
    // Writes `buffers` as an indirect table at `table`, and one descriptor pointing at it.
    uint16_t addIndirectChain(uint64_t table, const std::vector<TestBuffer>& buffers) {
        for (size_t i = 0; i < buffers.size(); ++i) {
            uint16_t flags = buffers[i].writable ? virtio::kDescWrite : 0;
            if (i + 1 < buffers.size()) flags |= virtio::kDescNext;
            setDesc(table, static_cast<uint16_t>(i), buffers[i].gpa, buffers[i].len, flags,
                    static_cast<uint16_t>(i + 1));
        }
        uint16_t head = nextFree_;
        setDesc(head, table, static_cast<uint32_t>(16 * buffers.size()), virtio::kDescIndirect, 0);
        nextFree_ = static_cast<uint16_t>((head + 1) % size_);
        return head;
    }

    // Makes `head` available and bumps the available index.
    void publish(uint16_t head) {
        memory_.writeObject<uint16_t>(availRing + 4 + 2ull * (availIdx_ % size_), head);
        ++availIdx_;
        memory_.writeObject<uint16_t>(availRing + 2, availIdx_);
    }
    void setAvailIdx(uint16_t idx) {
        availIdx_ = idx;
        memory_.writeObject<uint16_t>(availRing + 2, idx);
    }
    void setAvailFlags(uint16_t flags) { memory_.writeObject<uint16_t>(availRing, flags); }
    void setUsedEvent(uint16_t v) {
        memory_.writeObject<uint16_t>(availRing + 4 + 2ull * size_, v);
    }
    uint16_t availEvent() { return memory_.readObject<uint16_t>(usedRing + 4 + 8ull * size_); }

    uint16_t usedIdx() { return memory_.readObject<uint16_t>(usedRing + 2); }
    struct Used {
        uint32_t id;
        uint32_t len;
    };
    Used used(uint16_t n) {
        uint64_t at = usedRing + 4 + 8ull * (n % size_);
        return {memory_.readObject<uint32_t>(at), memory_.readObject<uint32_t>(at + 4)};
    }

private:
    GuestMemory& memory_;
    uint16_t size_;
    uint16_t nextFree_ = 0;
    uint16_t availIdx_ = 0;
};

// Byte i of the test disk: varies within and across sectors, so a read from the wrong offset
// never matches by chance.
inline uint8_t diskPattern(uint64_t i) {
    return static_cast<uint8_t>((i * 7) ^ (i >> 9));
}

// A disk of `sectors` 512-byte sectors in a memfd, filled with diskPattern.
inline std::unique_ptr<virtio::RawFileBackend> memfdDisk(uint64_t bytes, bool readOnly,
                                                         int* fdOut = nullptr) {
    int fd = memfd_create("test-disk", MFD_CLOEXEC);
    std::vector<uint8_t> content(bytes);
    for (uint64_t i = 0; i < bytes; ++i) content[i] = diskPattern(i);
    if (!content.empty() &&
        ::pwrite(fd, content.data(), content.size(), 0) != static_cast<ssize_t>(bytes))
        return nullptr;
    if (fdOut) *fdOut = ::dup(fd);
    return std::make_unique<virtio::RawFileBackend>(FileDescriptor(fd), "memfd", readOnly);
}

}  // namespace ingot::vmm::test
