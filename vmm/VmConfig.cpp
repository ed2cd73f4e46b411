#include "VmConfig.h"

#include "ingot/core/Error.h"

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
        } else {
            throw Error("--disk " + spec + ": unknown option '" + option +
                            "' (options: readonly, verified, overlay=CLONE.qcow2)",
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
