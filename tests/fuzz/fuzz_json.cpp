// json_parse on arbitrary bytes, then a full walk of whatever it accepts. Properties: accepted
// text only yields values inside the input, strings that decode, numbers that convert to one
// of the two integer types, and keys that json_get finds again (or reports as duplicates).
#include <cstdint>
#include <vector>

#include "FuzzCheck.h"
#include "ingot/fw/Json.h"

namespace {

using namespace ingot::fw;

const uint8_t* g_begin;
const uint8_t* g_end;

void check_inside(JsonValue value) {
    FUZZ_CHECK(value.begin >= g_begin && value.begin + value.size <= g_end && value.size > 0);
}

void walk(JsonValue value, int depth) {
    FUZZ_CHECK(depth <= static_cast<int>(kJsonMaxDepth));
    check_inside(value);
    switch (value.type) {
        case JsonType::kString: {
            std::vector<uint8_t> buffer(value.size * 2);  // escapes never grow the text
            size_t size = 0;
            FUZZ_CHECK(json_string_decode(value, buffer.data(), buffer.size(), &size) ==
                       JsonStatus::kOk);
            FUZZ_CHECK(json_string_equals(value, ByteView(buffer.data(), size)));
            break;
        }
        case JsonType::kNumber: {
            uint64_t unsigned_value;
            int64_t signed_value;
            JsonStatus as_unsigned = json_to_uint64(value, &unsigned_value);
            JsonStatus as_signed = json_to_int64(value, &signed_value);
            FUZZ_CHECK(as_unsigned == JsonStatus::kOk || as_signed == JsonStatus::kOk);
            break;
        }
        case JsonType::kBool: {
            bool flag;
            FUZZ_CHECK(json_to_bool(value, &flag) == JsonStatus::kOk);
            break;
        }
        case JsonType::kNull:
            break;
        case JsonType::kArray: {
            JsonArrayReader reader(value);
            JsonValue element;
            size_t count = 0;
            while (reader.next(&element) == JsonStatus::kOk) {
                walk(element, depth + 1);
                ++count;
            }
            size_t size = 0;
            FUZZ_CHECK(json_array_size(value, &size) == JsonStatus::kOk && size == count);
            if (count > 0) {
                FUZZ_CHECK(json_at(value, count - 1, &element) == JsonStatus::kOk);
            }
            FUZZ_CHECK(json_at(value, count, &element) == JsonStatus::kNotFound);
            break;
        }
        case JsonType::kObject: {
            JsonObjectReader reader(value);
            JsonValue key, member;
            while (reader.next(&key, &member) == JsonStatus::kOk) {
                FUZZ_CHECK(key.type == JsonType::kString);
                std::vector<uint8_t> name(key.size * 2);
                size_t name_size = 0;
                FUZZ_CHECK(json_string_decode(key, name.data(), name.size(), &name_size) ==
                           JsonStatus::kOk);
                JsonValue found;
                JsonStatus status = json_get(value, ByteView(name.data(), name_size), &found);
                FUZZ_CHECK(status == JsonStatus::kOk || status == JsonStatus::kDuplicateKey);
                walk(member, depth + 1);
            }
            break;
        }
        case JsonType::kInvalid:
            FUZZ_CHECK(false);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    g_begin = data;
    g_end = data + size;
    JsonValue root;
    if (json_parse(ByteView(data, size), &root) != JsonStatus::kOk) return 0;
    walk(root, 0);
    // The lookups the firmware makes in a manifest.
    for (const char* path : {"format", "kernel.sha256", "kernel.size", "partitions[0].uuid",
                             "partitions[2].first_lba", "verity.root_hash", "cmdline"}) {
        JsonValue value;
        JsonStatus status = json_find(root, ByteView(path, __builtin_strlen(path)), &value);
        if (status == JsonStatus::kOk) check_inside(value);
    }
    return 0;
}
