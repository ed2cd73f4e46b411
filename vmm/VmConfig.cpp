#include "VmConfig.h"

#include <charconv>

#include "ingot/core/Error.h"
#include "ingot/core/Size.h"

namespace ingot::vmm {

DiskConfig parseDiskSpec(const std::string& spec) {
    DiskConfig disk;
    size_t comma = spec.find(',');
    disk.path = spec.substr(0, comma);
    if (disk.path.empty())
        throw Error("--disk " + spec + ": the path is missing (--disk PATH[,readonly])",
                    ExitStatus::kUsage);
    while (comma != std::string::npos) {
        size_t next = spec.find(',', comma + 1);
        std::string option =
            spec.substr(comma + 1, next == std::string::npos ? next : next - comma - 1);
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
            std::string value = option.substr(4);
            uint64_t bps = 0;
            try {
                bps = parseSize(value);
            } catch (const Error& e) {
                throw Error(
                    "--disk " + spec + ": bps=" + value +
                        " is not a rate in bytes per second (write e.g. bps=50M): " + e.what(),
                    ExitStatus::kUsage);
            }
            if (bps < kMinDiskBytesPerSecond || bps > kMaxDiskBytesPerSecond)
                throw Error("--disk " + spec + ": bps=" + value + " is outside " +
                                std::to_string(kMinDiskBytesPerSecond) + " (4K) to " +
                                std::to_string(kMaxDiskBytesPerSecond) +
                                " (1P) bytes per second; leave bps= out for no limit",
                            ExitStatus::kUsage);
            disk.bytesPerSecond = bps;
        } else if (option.starts_with("iops=")) {
            once(disk.opsPerSecond != 0);
            std::string value = option.substr(5);
            uint64_t iops = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), iops);
            if (ec != std::errc() || end != value.data() + value.size() || value.empty())
                throw Error("--disk " + spec + ": iops=" + value +
                                " is not a whole number of requests per second",
                            ExitStatus::kUsage);
            if (iops < kMinDiskOpsPerSecond || iops > kMaxDiskOpsPerSecond)
                throw Error("--disk " + spec + ": iops=" + value + " is outside 1 to " +
                                std::to_string(kMaxDiskOpsPerSecond) +
                                "; leave iops= out for no limit",
                            ExitStatus::kUsage);
            disk.opsPerSecond = iops;
        } else {
            throw Error("--disk " + spec + ": unknown option '" + option +
                            "' (options: readonly, verified, overlay=CLONE.qcow2, bps=SIZE, "
                            "iops=N)",
                        ExitStatus::kUsage);
        }
        comma = next;
    }
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

}  // namespace ingot::vmm
