#pragma once

#include <atomic>
#include <cstdint>

namespace ingot::vmm {

// A count of exits and the nanoseconds spent handling them, written by one vCPU thread and read
// by any. Only the owner writes, so an increment is a relaxed load and store (two plain moves on
// x86, no locked instruction); readers see each field whole, possibly one exit apart.
struct ExitCounter {
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> ns{0};

    void add(uint64_t nanoseconds) {
        count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        ns.store(ns.load(std::memory_order_relaxed) + nanoseconds, std::memory_order_relaxed);
    }
};

}  // namespace ingot::vmm
