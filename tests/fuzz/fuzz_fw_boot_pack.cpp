// The canonical boot pack reader on arbitrary bytes, as the whole boot partition. Properties:
// every entry it accepts lies inside the partition and after the previous one; it never reads
// past the disk; a refusal always names a reason and says why.
#include <cstdint>
#include <cstring>
#include <vector>

#include "BootPackReader.h"
#include "FuzzCheck.h"

using namespace ingot::fw;

namespace {

class FuzzDisk final : public BlockDevice {
public:
    FuzzDisk(const uint8_t* data, size_t size) : bytes_(data, data + size) {
        bytes_.resize((size + kSectorSize - 1) / kSectorSize * kSectorSize);
    }
    uint64_t sector_count() const override { return bytes_.size() / kSectorSize; }
    bool read(uint64_t sector, uint32_t count, void* buffer) override {
        FUZZ_CHECK(sector + count <= sector_count());
        std::memcpy(buffer, bytes_.data() + sector * kSectorSize, size_t{count} * kSectorSize);
        return true;
    }

private:
    std::vector<uint8_t> bytes_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    FuzzDisk disk(data, size);
    uint8_t bounce[4096];
    DiskReader reader(disk, bounce, sizeof bounce);
    uint64_t partition = disk.sector_count() * BlockDevice::kSectorSize;
    BootPackReader pack(reader, 0, partition);
    BootError error;
    uint64_t previous_end = 0;
    for (const char* name : {"manifest.json", "manifest.json.minisig", "kernel", "initrd"}) {
        BootPackEntry entry;
        auto next = pack.next(name, &entry, &error);
        if (next != BootPackReader::Next::kEntry) {
            FUZZ_CHECK(error.failed() && error.message.size() > 0);
            return 0;
        }
        FUZZ_CHECK(entry.data_offset >= previous_end && entry.data_offset + entry.size <= partition);
        previous_end = entry.data_offset + entry.size;
    }
    if (!pack.finish(&error)) FUZZ_CHECK(error.failed());
    return 0;
}
