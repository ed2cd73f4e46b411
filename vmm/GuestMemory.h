#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace ingot::vmm {

// Guest physical memory: one anonymous mapping, split into the RAM below the 32-bit MMIO hole
// and the RAM above 4 GiB. Every access is bounds-checked against the RAM layout, so a guest
// address handed to us by the guest can never reach outside the mapping.
class GuestMemory {
public:
    // RAM below this address is "low" RAM; [kMmioHoleStart, 4 GiB) holds the LAPIC, IOAPIC,
    // virtio-mmio windows and nothing else.
    static constexpr uint64_t kMmioHoleStart = 0xC000'0000;
    static constexpr uint64_t kHighRamStart = 0x1'0000'0000;

    struct Region {
        uint64_t gpa;
        uint64_t size;
        uint8_t* host;
    };

    // Throws ingot::Error (usage) for sizes below 16 MiB or that the host cannot map.
    explicit GuestMemory(uint64_t bytes);
    ~GuestMemory();
    GuestMemory(const GuestMemory&) = delete;
    GuestMemory& operator=(const GuestMemory&) = delete;

    uint64_t size() const { return size_; }
    const std::vector<Region>& regions() const { return regions_; }
    uint64_t lowRamEnd() const { return regions_.front().size; }

    // A host view of [gpa, gpa + len); throws ingot::Error when any byte lies outside RAM or the
    // range crosses a region boundary.
    std::span<uint8_t> slice(uint64_t gpa, uint64_t len);
    // Same, but returns an empty span instead of throwing (for guest-controlled addresses).
    std::span<uint8_t> trySlice(uint64_t gpa, uint64_t len) noexcept;

    // Gives the host back the memory behind [gpa, gpa + len) (the balloon's inflated pages),
    // which then reads as zeroes. False, and nothing discarded, unless the range is 4 KiB-aligned
    // and lies inside one RAM region.
    bool discard(uint64_t gpa, uint64_t len) noexcept;

    void write(uint64_t gpa, std::span<const uint8_t> bytes) {
        auto dst = slice(gpa, bytes.size());
        std::memcpy(dst.data(), bytes.data(), bytes.size());
    }
    template <typename T>
    void writeObject(uint64_t gpa, const T& value) {
        auto dst = slice(gpa, sizeof(T));
        std::memcpy(dst.data(), &value, sizeof(T));
    }
    template <typename T>
    T readObject(uint64_t gpa) {
        T value;
        auto src = slice(gpa, sizeof(T));
        std::memcpy(&value, src.data(), sizeof(T));
        return value;
    }

private:
    uint8_t* base_ = nullptr;
    uint64_t size_ = 0;
    std::vector<Region> regions_;
};

}  // namespace ingot::vmm
