#include "E820.h"

#include "X86Layout.h"

namespace ingot::vmm {

std::vector<E820Entry> buildE820Map(const GuestMemory& memory) {
    std::vector<E820Entry> map;
    map.push_back({0, layout::kEbdaStart, kE820Ram});
    map.push_back({layout::kEbdaStart, 0xa0000 - layout::kEbdaStart, kE820Reserved});
    map.push_back(
        {layout::kBiosAreaStart, layout::kHighMemory - layout::kBiosAreaStart, kE820Reserved});
    for (const auto& region : memory.regions()) {
        uint64_t start = region.gpa == 0 ? layout::kHighMemory : region.gpa;
        uint64_t end = region.gpa + region.size;
        if (end > start) map.push_back({start, end - start, kE820Ram});
    }
    return map;
}

}  // namespace ingot::vmm
