// The firmware's command-line reader on arbitrary bytes. Properties: every word lies inside the
// input and holds no whitespace; a parsed device has a non-empty range that does not wrap.
#include <cstdint>

#include "Cmdline.h"
#include "FuzzCheck.h"

using namespace ingot::fw;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    ByteView line(data, size);
    for_each_word(line, [&](ByteView word) {
        FUZZ_CHECK(word.data >= data && word.data + word.size <= data + size && word.size > 0);
        for (size_t i = 0; i < word.size; ++i) FUZZ_CHECK(word[i] != ' ' && word[i] != '\t' && word[i] != '\n');
        VirtioMmioDeviceWord device;
        if (parse_virtio_mmio_device(word, &device)) {
            FUZZ_CHECK(device.size > 0);
            FUZZ_CHECK(device.base + device.size > device.base);
        }
    });
    return 0;
}
