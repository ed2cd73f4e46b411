#include "devices/virtio/VirtQueue.h"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "devices/virtio/VirtioSpec.h"

namespace ingot::vmm::virtio {

namespace {

struct Descriptor {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
static_assert(sizeof(Descriptor) == 16);

constexpr uint64_t kAvailHeader = 4;  // flags, idx
constexpr uint64_t kUsedHeader = 4;   // flags, idx
constexpr uint64_t kUsedElement = 8;  // id, len

uint64_t descTableBytes(uint16_t size) {
    return 16ull * size;
}
uint64_t availRingBytes(uint16_t size) {
    return 6ull + 2ull * size;
}
uint64_t usedRingBytes(uint16_t size) {
    return 6ull + 8ull * size;
}

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

// The driver writes the ring indices and flags concurrently with the device: atomic accesses
// keep the compiler from tearing or re-reading them. Callers guarantee natural alignment
// (checkLayout checks the rings' alignment; guest RAM is mapped 2 MiB-aligned).
uint16_t loadShared16(const uint8_t* p, std::memory_order order) {
    return std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(const_cast<uint8_t*>(p)))
        .load(order);
}
void storeShared16(uint8_t* p, uint16_t v, std::memory_order order) {
    std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(p)).store(v, order);
}

}  // namespace

bool DescriptorChain::read(uint64_t offset, std::span<uint8_t> out) const {
    if (offset > readableBytes_ || out.size() > readableBytes_ - offset) return false;
    size_t done = 0;
    for (const auto& b : readable_) {
        if (done == out.size()) break;
        if (offset >= b.bytes.size()) {
            offset -= b.bytes.size();
            continue;
        }
        size_t n = std::min<size_t>(b.bytes.size() - offset, out.size() - done);
        std::memcpy(out.data() + done, b.bytes.data() + offset, n);
        done += n;
        offset = 0;
    }
    return true;
}

bool DescriptorChain::write(uint64_t offset, std::span<const uint8_t> in) const {
    if (offset > writableBytes_ || in.size() > writableBytes_ - offset) return false;
    size_t done = 0;
    for (const auto& b : writable_) {
        if (done == in.size()) break;
        if (offset >= b.bytes.size()) {
            offset -= b.bytes.size();
            continue;
        }
        size_t n = std::min<size_t>(b.bytes.size() - offset, in.size() - done);
        std::memcpy(b.bytes.data() + offset, in.data() + done, n);
        done += n;
        offset = 0;
    }
    return true;
}

bool DescriptorChain::iovecs(const std::vector<ChainBuffer>& buffers, uint64_t offset,
                             uint64_t length, std::vector<iovec>& out) {
    uint64_t total = 0;
    for (const auto& b : buffers) total += b.bytes.size();
    if (offset > total || length > total - offset) return false;
    for (const auto& b : buffers) {
        if (length == 0) break;
        if (offset >= b.bytes.size()) {
            offset -= b.bytes.size();
            continue;
        }
        uint64_t n = std::min<uint64_t>(b.bytes.size() - offset, length);
        out.push_back({b.bytes.data() + offset, static_cast<size_t>(n)});
        length -= n;
        offset = 0;
    }
    return true;
}

std::string VirtQueue::checkLayout(GuestMemory& memory, const QueueLayout& layout,
                                   uint16_t maxSize) {
    if (layout.size == 0 || layout.size > maxSize || (layout.size & (layout.size - 1)) != 0)
        return "queue size " + std::to_string(layout.size) +
               " is not a power of two between 1 and " + std::to_string(maxSize);
    auto size = static_cast<uint16_t>(layout.size);
    struct Part {
        const char* name;
        uint64_t gpa;
        uint64_t bytes;
        uint64_t alignment;
    };
    for (const Part& p : {Part{"descriptor table", layout.descTable, descTableBytes(size), 16},
                          Part{"available ring", layout.availRing, availRingBytes(size), 2},
                          Part{"used ring", layout.usedRing, usedRingBytes(size), 4}}) {
        if (p.gpa % p.alignment)
            return std::string(p.name) + " at " + hex(p.gpa) + " is not " +
                   std::to_string(p.alignment) + "-byte aligned";
        if (memory.trySlice(p.gpa, p.bytes).data() == nullptr)
            return std::string(p.name) + " " + hex(p.gpa) + "+" + hex(p.bytes) +
                   " lies outside guest RAM";
    }
    return {};
}

VirtQueue::VirtQueue(GuestMemory& memory, const QueueLayout& layout, uint64_t features,
                     unsigned index, RateLimitedLog& log)
    : memory_(memory),
      log_(log),
      index_(index),
      size_(static_cast<uint16_t>(layout.size)),
      indirect_((features & kFeatureIndirectDesc) != 0),
      eventIdx_((features & kFeatureEventIdx) != 0) {
    if (!checkLayout(memory, layout, kMaxSize).empty())
        throw std::logic_error("VirtQueue built from an unchecked layout");
    desc_ = memory.trySlice(layout.descTable, descTableBytes(size_)).data();
    avail_ = memory.trySlice(layout.availRing, availRingBytes(size_)).data();
    used_ = memory.trySlice(layout.usedRing, usedRingBytes(size_)).data();
    // The Device Area is the device's to write: start it from a known state whatever the
    // driver left there.
    storeShared16(used_, 0, std::memory_order_relaxed);
    storeShared16(used_ + 2, 0, std::memory_order_release);
    storeShared16(used_ + kUsedHeader + kUsedElement * size_, 0, std::memory_order_relaxed);
}

uint16_t VirtQueue::availIndex() const {
    // Acquire: the ring entries and descriptors the driver wrote before bumping idx are read
    // only after idx.
    return loadShared16(avail_ + 2, std::memory_order_acquire);
}

uint16_t VirtQueue::availRingEntry(uint16_t slot) const {
    return loadShared16(avail_ + kAvailHeader + 2ull * (slot & (size_ - 1)),
                        std::memory_order_relaxed);
}

void VirtQueue::markBroken(const std::string& why) {
    broken_ = true;
    log_.report("queue " + std::to_string(index_) + ": " + why +
                "; the queue stops until the driver resets the device");
}

bool VirtQueue::pop(DescriptorChain& chain) {
    while (!broken_) {
        uint16_t avail = availIndex();
        if (avail == nextAvail_ && eventIdx_) {
            // Ask for a notification when the driver adds the next chain, then look again: a
            // chain added between the first look and this store would otherwise go unnoticed.
            storeShared16(used_ + kUsedHeader + kUsedElement * size_, nextAvail_,
                          std::memory_order_relaxed);
            std::atomic_thread_fence(std::memory_order_seq_cst);
            avail = availIndex();
        }
        uint16_t pending = static_cast<uint16_t>(avail - nextAvail_);
        if (pending == 0) return false;
        if (pending > size_) {
            markBroken("available index " + std::to_string(avail) + " is " +
                       std::to_string(pending) + " entries ahead of the device, more than the " +
                       std::to_string(size_) + " the queue holds");
            return false;
        }
        uint16_t head = availRingEntry(nextAvail_);
        ++nextAvail_;
        if (head >= size_) {
            markBroken("available ring names descriptor " + std::to_string(head) +
                       " as a chain head, outside the table of " + std::to_string(size_));
            return false;
        }
        std::string why;
        if (walk(head, chain, why)) return true;
        ++malformed_;
        log_.report("queue " + std::to_string(index_) + ": chain at descriptor " +
                    std::to_string(head) + ": " + why + "; returned to the driver unused");
        pushUsed(head, 0);
    }
    return false;
}

bool VirtQueue::walk(uint16_t head, DescriptorChain& chain, std::string& why) {
    chain.clear(head);
    const uint8_t* table = desc_;
    uint32_t tableSize = size_;
    uint32_t index = head;
    uint32_t visitedInTable = 0;
    uint32_t buffers = 0;
    bool inIndirectTable = false;
    for (;;) {
        if (index >= tableSize) {
            why = "next descriptor " + std::to_string(index) + " is outside the " +
                  (inIndirectTable ? "indirect " : "") + "table of " + std::to_string(tableSize);
            return false;
        }
        // A chain that visits more descriptors than its table holds has visited one twice.
        if (++visitedInTable > tableSize) {
            why = "the chain loops";
            return false;
        }
        // One copy, then checks on the copy: the guest may rewrite the descriptor meanwhile.
        Descriptor d;
        std::memcpy(&d, table + 16ull * index, sizeof d);
        if (d.flags & kDescIndirect) {
            if (!indirect_) {
                why = "indirect descriptor, but VIRTIO_F_INDIRECT_DESC was not negotiated";
                return false;
            }
            if (inIndirectTable) {
                why = "indirect descriptor inside an indirect table";
                return false;
            }
            if (d.flags & kDescNext) {
                why = "indirect descriptor with the NEXT flag";
                return false;
            }
            if (d.len == 0 || d.len % 16 != 0 || d.len / 16 > size_) {
                why = "indirect table of " + std::to_string(d.len) + " bytes is not 1 to " +
                      std::to_string(size_) + " whole descriptors";
                return false;
            }
            auto t = memory_.trySlice(d.addr, d.len);
            if (t.data() == nullptr) {
                why =
                    "indirect table " + hex(d.addr) + "+" + hex(d.len) + " lies outside guest RAM";
                return false;
            }
            table = t.data();
            tableSize = d.len / 16;
            index = 0;
            visitedInTable = 0;
            inIndirectTable = true;
            continue;
        }
        if (++buffers > size_) {
            why = "the chain has more than " + std::to_string(size_) + " buffers";
            return false;
        }
        if (d.len == 0) {
            why = "empty buffer at " + hex(d.addr);
            return false;
        }
        auto bytes = memory_.trySlice(d.addr, d.len);
        if (bytes.data() == nullptr) {
            why = "buffer " + hex(d.addr) + "+" + hex(d.len) + " lies outside guest RAM";
            return false;
        }
        if (d.flags & kDescWrite) {
            chain.writable_.push_back({d.addr, bytes});
            chain.writableBytes_ += d.len;
        } else {
            if (!chain.writable_.empty()) {
                why = "device-readable buffer after a device-writable one";
                return false;
            }
            chain.readable_.push_back({d.addr, bytes});
            chain.readableBytes_ += d.len;
        }
        if (!(d.flags & kDescNext)) return true;
        index = d.next;
    }
}

void VirtQueue::pushUsed(uint16_t head, uint32_t written) {
    uint8_t* element = used_ + kUsedHeader + kUsedElement * (nextUsed_ & (size_ - 1));
    uint32_t id = head;
    std::memcpy(element, &id, 4);
    std::memcpy(element + 4, &written, 4);
    ++nextUsed_;
    // Release: the element, and the data the device wrote into the chain's buffers, are visible
    // before the driver sees the new index.
    storeShared16(used_ + 2, nextUsed_, std::memory_order_release);
}

bool VirtQueue::needsNotification() {
    uint16_t old = signalledUsed_;
    if (old == nextUsed_) return false;
    signalledUsed_ = nextUsed_;
    // The used index store must be globally visible before the driver's suppression fields are
    // read, or a driver that just re-enabled notifications could miss this one.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (eventIdx_) {
        uint16_t usedEvent =
            loadShared16(avail_ + kAvailHeader + 2ull * size_, std::memory_order_relaxed);
        // vring_need_event: did the used index step over used_event since the last signal?
        return static_cast<uint16_t>(nextUsed_ - usedEvent - 1) <
               static_cast<uint16_t>(nextUsed_ - old);
    }
    return (loadShared16(avail_, std::memory_order_relaxed) & kAvailNoInterrupt) == 0;
}

}  // namespace ingot::vmm::virtio
