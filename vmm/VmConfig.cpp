#include "VmConfig.h"

#include <sys/random.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>

#include "ingot/core/Error.h"
#include "ingot/core/Size.h"

namespace ingot::vmm {

namespace {

// The value of a `NAME=SIZE` rate option: bytes per second, binary units (50M).
uint64_t parseBytesPerSecond(const std::string& flag, const std::string& option) {
    const std::string name = option.substr(0, option.find('='));
    const std::string value = option.substr(name.size() + 1);
    uint64_t bps = 0;
    try {
        bps = parseSize(value);
    } catch (const Error& e) {
        throw Error(flag + ": " + option + " is not a rate in bytes per second (write e.g. " +
                        name + "=50M): " + e.what(),
                    ExitStatus::kUsage);
    }
    if (bps < kMinDiskBytesPerSecond || bps > kMaxDiskBytesPerSecond)
        throw Error(flag + ": " + option + " is outside " +
                        std::to_string(kMinDiskBytesPerSecond) + " (4K) to " +
                        std::to_string(kMaxDiskBytesPerSecond) + " (1P) bytes per second; leave " +
                        name + "= out for no limit",
                    ExitStatus::kUsage);
    return bps;
}

// The value of a `NAME=N` rate option: `what` (requests, frames) per second.
uint64_t parsePerSecond(const std::string& flag, const std::string& option, const char* what) {
    const std::string name = option.substr(0, option.find('='));
    const std::string value = option.substr(name.size() + 1);
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || end != value.data() + value.size() || value.empty())
        throw Error(flag + ": " + option + " is not a whole number of " + what + " per second",
                    ExitStatus::kUsage);
    if (n < kMinDiskOpsPerSecond || n > kMaxDiskOpsPerSecond)
        throw Error(flag + ": " + option + " is outside 1 to " +
                        std::to_string(kMaxDiskOpsPerSecond) + "; leave " + name +
                        "= out for no limit",
                    ExitStatus::kUsage);
    return n;
}

// Splits "a,b,c" after the first field into its options, calling `handle` on each.
template <typename Handle>
void forEachOption(const std::string& spec, Handle handle) {
    size_t comma = spec.find(',');
    while (comma != std::string::npos) {
        size_t next = spec.find(',', comma + 1);
        handle(spec.substr(comma + 1, next == std::string::npos ? next : next - comma - 1));
        comma = next;
    }
}

std::optional<std::array<uint8_t, 6>> parseMac(const std::string& text) {
    std::array<uint8_t, 6> mac{};
    if (text.size() != 17) return std::nullopt;
    for (size_t i = 0; i < 6; ++i) {
        if (i > 0 && text[3 * i - 1] != ':') return std::nullopt;
        const char* begin = text.data() + 3 * i;
        auto [end, ec] = std::from_chars(begin, begin + 2, mac[i], 16);
        if (ec != std::errc() || end != begin + 2) return std::nullopt;
    }
    return mac;
}

std::array<uint8_t, 6> randomLocalMac() {
    std::array<uint8_t, 6> mac{};
    if (::getrandom(mac.data(), mac.size(), 0) != static_cast<ssize_t>(mac.size()))
        throw Error(std::string("getrandom for a MAC address: ") + std::strerror(errno));
    mac[0] = static_cast<uint8_t>((mac[0] & 0xfe) | 0x02);  // unicast, locally administered
    return mac;
}

}  // namespace

DiskConfig parseDiskSpec(const std::string& spec) {
    DiskConfig disk;
    disk.path = spec.substr(0, spec.find(','));
    if (disk.path.empty())
        throw Error("--disk " + spec + ": the path is missing (--disk PATH[,readonly])",
                    ExitStatus::kUsage);
    forEachOption(spec, [&](const std::string& option) {
        auto once = [&](bool already) {
            if (already)
                throw Error("--disk " + spec + ": option '" + option + "' given twice",
                            ExitStatus::kUsage);
        };
        if (option == "readonly") {
            once(disk.readOnly);
            disk.readOnly = true;
        } else if (option == "verified") {
            once(disk.verified);
            disk.verified = true;
        } else if (option.starts_with("overlay=")) {
            once(!disk.overlay.empty());
            disk.overlay = option.substr(8);
            if (disk.overlay.empty())
                throw Error("--disk " + spec + ": overlay= needs the overlay's path",
                            ExitStatus::kUsage);
        } else if (option.starts_with("bps=")) {
            once(disk.bytesPerSecond != 0);
            disk.bytesPerSecond = parseBytesPerSecond("--disk " + spec, option);
        } else if (option.starts_with("iops=")) {
            once(disk.opsPerSecond != 0);
            disk.opsPerSecond = parsePerSecond("--disk " + spec, option, "requests");
        } else {
            throw Error("--disk " + spec + ": unknown option '" + option +
                            "' (options: readonly, verified, overlay=CLONE.qcow2, bps=SIZE, "
                            "iops=N)",
                        ExitStatus::kUsage);
        }
    });
    if (!disk.overlay.empty()) {
        if (disk.readOnly)
            throw Error("--disk " + spec +
                            ": readonly and overlay= contradict each other (the overlay takes "
                            "the guest's writes; the base is never written either way)",
                        ExitStatus::kUsage);
        disk.verified = true;
    }
    // A verified image is never written: it is the signed, shared base.
    if (disk.verified && disk.overlay.empty()) disk.readOnly = true;
    return disk;
}

NetConfig parseNetSpec(const std::string& spec) {
    NetConfig net;
    const std::string flag = "--net " + spec;
    const std::string first = spec.substr(0, spec.find(','));
    if (!first.starts_with("tap=") || first.size() == 4)
        throw Error(flag + ": name the tap interface first (--net tap=NAME[,mac=…])",
                    ExitStatus::kUsage);
    net.tap = first.substr(4);
    forEachOption(spec, [&](const std::string& option) {
        auto once = [&](bool already) {
            if (already)
                throw Error(flag + ": option '" + option.substr(0, option.find('=')) +
                                "' given twice (or together with the form that covers it)",
                            ExitStatus::kUsage);
        };
        if (option.starts_with("mac=")) {
            once(net.macGiven);
            auto mac = parseMac(option.substr(4));
            if (!mac)
                throw Error(flag + ": " + option + " is not a MAC address (six hex bytes: " +
                                "52:54:00:12:34:56)",
                            ExitStatus::kUsage);
            if ((*mac)[0] & 1)
                throw Error(flag + ": " + option + " is a multicast address; a NIC needs a " +
                                "unicast one (even first byte)",
                            ExitStatus::kUsage);
            net.mac = *mac;
            net.macGiven = true;
        } else if (option.starts_with("bps=")) {
            once(net.receiveBytesPerSecond || net.sendBytesPerSecond);
            net.receiveBytesPerSecond = net.sendBytesPerSecond = parseBytesPerSecond(flag, option);
        } else if (option.starts_with("rx-bps=")) {
            once(net.receiveBytesPerSecond != 0);
            net.receiveBytesPerSecond = parseBytesPerSecond(flag, option);
        } else if (option.starts_with("tx-bps=")) {
            once(net.sendBytesPerSecond != 0);
            net.sendBytesPerSecond = parseBytesPerSecond(flag, option);
        } else if (option.starts_with("pps=")) {
            once(net.receiveFramesPerSecond || net.sendFramesPerSecond);
            net.receiveFramesPerSecond = net.sendFramesPerSecond =
                parsePerSecond(flag, option, "frames");
        } else if (option.starts_with("rx-pps=")) {
            once(net.receiveFramesPerSecond != 0);
            net.receiveFramesPerSecond = parsePerSecond(flag, option, "frames");
        } else if (option.starts_with("tx-pps=")) {
            once(net.sendFramesPerSecond != 0);
            net.sendFramesPerSecond = parsePerSecond(flag, option, "frames");
        } else {
            throw Error(flag + ": unknown option '" + option +
                            "' (options: mac=, bps=, pps=, rx-bps=, rx-pps=, tx-bps=, tx-pps=)",
                        ExitStatus::kUsage);
        }
    });
    if (!net.macGiven) net.mac = randomLocalMac();
    return net;
}

}  // namespace ingot::vmm
