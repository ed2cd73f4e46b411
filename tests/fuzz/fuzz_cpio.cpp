// CpioReader over arbitrary bytes (the boot pack as read from an untrusted disk). Properties:
// every entry lies inside the archive, and cpio_find agrees with a walk of the entries.
#include <cstdint>

#include "FuzzCheck.h"
#include "ingot/fw/Cpio.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ingot::fw;
    ByteView archive(data, size);
    CpioReader reader(archive);
    CpioEntry entry;
    CpioStatus status;
    size_t manifests = 0;
    while ((status = reader.next(&entry)) == CpioStatus::kOk) {
        FUZZ_CHECK(entry.name.data >= data && entry.name.end() <= data + size);
        FUZZ_CHECK(entry.data.data >= data && entry.data.end() <= data + size);
        FUZZ_CHECK(entry.name.end() <= entry.data.data);
        FUZZ_CHECK(reader.offset() <= size);
        for (size_t i = 0; i < entry.name.size; ++i) FUZZ_CHECK(entry.name[i] != 0);
        if (entry.name == literal_bytes("manifest.json")) ++manifests;
    }
    FUZZ_CHECK(reader.next(&entry) == status);  // errors and the end are sticky

    CpioStatus found = cpio_find(archive, literal_bytes("manifest.json"), &entry);
    if (status == CpioStatus::kEnd) {
        FUZZ_CHECK((found == CpioStatus::kOk) == (manifests == 1));
        FUZZ_CHECK((found == CpioStatus::kDuplicateName) == (manifests > 1));
    } else {
        // A second manifest.json is reported as soon as it is seen, before a later error.
        FUZZ_CHECK(found == status || (found == CpioStatus::kDuplicateName && manifests > 1));
    }
    return 0;
}
