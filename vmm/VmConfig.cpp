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
        if (option == "readonly")
            disk.readOnly = true;
        else
            throw Error("--disk " + spec + ": unknown option '" + option +
                            "' (the only option is readonly)",
                        ExitStatus::kUsage);
        comma = next;
    }
    return disk;
}

}  // namespace ingot::vmm
