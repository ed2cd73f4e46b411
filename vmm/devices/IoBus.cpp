#include "IoBus.h"

#include <string>

#include "ingot/core/Error.h"

namespace ingot::vmm {

void IoBus::add(uint64_t base, uint64_t length, std::shared_ptr<IoDevice> device) {
    if (length == 0 || base + length < base) throw Error("bad I/O range for " + std::string(device->name()));
    auto next = ranges_.lower_bound(base);
    bool overlapsNext = next != ranges_.end() && next->first < base + length;
    bool overlapsPrev = next != ranges_.begin() && [&] {
        auto prev = std::prev(next);
        return prev->first + prev->second.length > base;
    }();
    if (overlapsNext || overlapsPrev)
        throw Error("I/O range of " + std::string(device->name()) + " overlaps another device");
    byNumber_.push_back(device.get());
    ranges_.emplace(base, Range{length, std::move(device), byNumber_.size() - 1});
}

std::optional<IoBus::Claim> IoBus::claim(uint64_t address) const {
    auto it = ranges_.upper_bound(address);
    if (it == ranges_.begin()) return std::nullopt;
    --it;
    if (address - it->first >= it->second.length) return std::nullopt;
    return Claim{it->second.device.get(), address - it->first, it->second.number};
}

IoDevice* IoBus::find(uint64_t address, uint64_t* offset) const {
    auto c = claim(address);
    if (!c) return nullptr;
    *offset = c->offset;
    return c->device;
}

std::vector<std::string> IoBus::rangeNames() const {
    std::vector<std::string> names;
    for (const IoDevice* d : byNumber_) names.emplace_back(d->name());
    return names;
}

bool IoBus::read(uint64_t address, std::span<uint8_t> data) const {
    uint64_t offset;
    IoDevice* d = find(address, &offset);
    if (!d) return false;
    d->read(offset, data);
    return true;
}

bool IoBus::write(uint64_t address, std::span<const uint8_t> data) const {
    uint64_t offset;
    IoDevice* d = find(address, &offset);
    if (!d) return false;
    d->write(offset, data);
    return true;
}

}  // namespace ingot::vmm
