#include "ingot/fw/Json.h"

namespace ingot::fw {
namespace {

bool is_whitespace(uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_digit(uint8_t c) {
    return c >= '0' && c <= '9';
}

const uint8_t* skip_whitespace(const uint8_t* p, const uint8_t* end) {
    while (p < end && is_whitespace(*p)) ++p;
    return p;
}

int hex_digit(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Reads the 4 hex digits after "\u" at p; false if they are not there.
bool read_hex4(const uint8_t* p, const uint8_t* end, uint32_t* unit) {
    if (end - p < 4) return false;
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
        int digit = hex_digit(p[i]);
        if (digit < 0) return false;
        value = (value << 4) | static_cast<uint32_t>(digit);
    }
    *unit = value;
    return true;
}

// Length of the well-formed UTF-8 sequence at p (Unicode 15 table 3-7: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0.
size_t utf8_sequence_length(const uint8_t* p, const uint8_t* end) {
    size_t available = static_cast<size_t>(end - p);
    uint8_t lead = p[0];
    if (lead < 0x80) return 1;
    size_t length;
    uint8_t second_min = 0x80, second_max = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0) second_min = 0xA0;
        if (lead == 0xED) second_max = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) second_min = 0x90;
        if (lead == 0xF4) second_max = 0x8F;
    } else {
        return 0;
    }
    if (available < length) return 0;
    if (p[1] < second_min || p[1] > second_max) return 0;
    for (size_t i = 2; i < length; ++i) {
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    }
    return length;
}

// Decodes the escape sequence at p (pointing at the backslash) into a code point and returns the
// position after it, or a status for a malformed escape.
struct Escape {
    JsonStatus status;
    uint32_t code_point;
    const uint8_t* next;
};

Escape decode_escape(const uint8_t* p, const uint8_t* end) {
    if (end - p < 2) return {JsonStatus::kUnexpectedEnd, 0, end};
    switch (p[1]) {
        case '"':
            return {JsonStatus::kOk, '"', p + 2};
        case '\\':
            return {JsonStatus::kOk, '\\', p + 2};
        case '/':
            return {JsonStatus::kOk, '/', p + 2};
        case 'b':
            return {JsonStatus::kOk, '\b', p + 2};
        case 'f':
            return {JsonStatus::kOk, '\f', p + 2};
        case 'n':
            return {JsonStatus::kOk, '\n', p + 2};
        case 'r':
            return {JsonStatus::kOk, '\r', p + 2};
        case 't':
            return {JsonStatus::kOk, '\t', p + 2};
        case 'u':
            break;
        default:
            return {JsonStatus::kBadEscape, 0, p};
    }
    uint32_t unit;
    if (!read_hex4(p + 2, end, &unit)) return {JsonStatus::kBadEscape, 0, p};
    if (unit >= 0xDC00 && unit <= 0xDFFF) return {JsonStatus::kBadUnicodeEscape, 0, p};
    if (unit < 0xD800 || unit > 0xDBFF) return {JsonStatus::kOk, unit, p + 6};
    // A high surrogate: only a following \u low surrogate completes it.
    uint32_t low;
    if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || !read_hex4(p + 8, end, &low) ||
        low < 0xDC00 || low > 0xDFFF) {
        return {JsonStatus::kBadUnicodeEscape, 0, p};
    }
    uint32_t code_point = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
    return {JsonStatus::kOk, code_point, p + 12};
}

size_t encode_utf8(uint32_t code_point, uint8_t out[4]) {
    if (code_point < 0x80) {
        out[0] = static_cast<uint8_t>(code_point);
        return 1;
    }
    if (code_point < 0x800) {
        out[0] = static_cast<uint8_t>(0xC0 | (code_point >> 6));
        out[1] = static_cast<uint8_t>(0x80 | (code_point & 0x3F));
        return 2;
    }
    if (code_point < 0x10000) {
        out[0] = static_cast<uint8_t>(0xE0 | (code_point >> 12));
        out[1] = static_cast<uint8_t>(0x80 | ((code_point >> 6) & 0x3F));
        out[2] = static_cast<uint8_t>(0x80 | (code_point & 0x3F));
        return 3;
    }
    out[0] = static_cast<uint8_t>(0xF0 | (code_point >> 18));
    out[1] = static_cast<uint8_t>(0x80 | ((code_point >> 12) & 0x3F));
    out[2] = static_cast<uint8_t>(0x80 | ((code_point >> 6) & 0x3F));
    out[3] = static_cast<uint8_t>(0x80 | (code_point & 0x3F));
    return 4;
}

struct Scan {
    JsonStatus status;
    const uint8_t* next;  // just past the scanned token
};

// Validates the string starting at the opening quote at p.
Scan scan_string(const uint8_t* p, const uint8_t* end) {
    ++p;
    while (p < end) {
        uint8_t c = *p;
        if (c == '"') return {JsonStatus::kOk, p + 1};
        if (c == '\\') {
            Escape escape = decode_escape(p, end);
            if (escape.status != JsonStatus::kOk) return {escape.status, p};
            p = escape.next;
        } else if (c < 0x20) {
            return {JsonStatus::kControlCharacter, p};
        } else {
            size_t length = utf8_sequence_length(p, end);
            if (length == 0) return {JsonStatus::kBadUtf8, p};
            p += length;
        }
    }
    return {JsonStatus::kUnexpectedEnd, p};
}

// Parses an integer token: optional '-', then 0 or a non-zero digit followed by digits. Sets
// *negative and *magnitude; the caller decides which magnitudes its type can hold.
struct Integer {
    JsonStatus status;
    const uint8_t* next;
    bool negative;
    uint64_t magnitude;
};

Integer scan_integer(const uint8_t* p, const uint8_t* end) {
    Integer result{JsonStatus::kOk, p, false, 0};
    if (p < end && *p == '-') {
        result.negative = true;
        ++p;
    }
    if (p == end) return {JsonStatus::kUnexpectedEnd, p, false, 0};
    if (!is_digit(*p)) return {JsonStatus::kUnexpectedCharacter, p, false, 0};
    if (*p == '0') {
        ++p;
        if (p < end && is_digit(*p)) return {JsonStatus::kLeadingZero, p, false, 0};
    } else {
        while (p < end && is_digit(*p)) {
            uint64_t digit = static_cast<uint64_t>(*p - '0');
            if (__builtin_mul_overflow(result.magnitude, uint64_t{10}, &result.magnitude) ||
                __builtin_add_overflow(result.magnitude, digit, &result.magnitude)) {
                return {JsonStatus::kNumberOverflow, p, false, 0};
            }
            ++p;
        }
    }
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E')) {
        return {JsonStatus::kFloatNotSupported, p, false, 0};
    }
    // The most negative int64 has magnitude 2^63; anything beyond fits neither type.
    if (result.negative && result.magnitude > (uint64_t{1} << 63)) {
        return {JsonStatus::kNumberOverflow, p, false, 0};
    }
    result.next = p;
    return result;
}

Scan scan_literal(const uint8_t* p, const uint8_t* end, ByteView literal) {
    if (static_cast<size_t>(end - p) < literal.size) return {JsonStatus::kUnexpectedEnd, p};
    if (!bytes_equal(p, literal.data, literal.size)) return {JsonStatus::kUnexpectedCharacter, p};
    return {JsonStatus::kOk, p + literal.size};
}

JsonType type_of_first_byte(uint8_t c) {
    switch (c) {
        case '{':
            return JsonType::kObject;
        case '[':
            return JsonType::kArray;
        case '"':
            return JsonType::kString;
        case 't':
        case 'f':
            return JsonType::kBool;
        case 'n':
            return JsonType::kNull;
        default:
            return (c == '-' || is_digit(c)) ? JsonType::kNumber : JsonType::kInvalid;
    }
}

// ---- Walking validated text ------------------------------------------------------------------
// These trust the text to be valid JSON but never read outside [p, end).

const uint8_t* skip_string(const uint8_t* p, const uint8_t* end) {
    ++p;  // opening quote
    while (p < end) {
        if (*p == '\\') {
            if (end - p < 2) return end;
            p += 2;
        } else if (*p == '"') {
            return p + 1;
        } else {
            ++p;
        }
    }
    return end;
}

const uint8_t* skip_value(const uint8_t* p, const uint8_t* end) {
    if (p >= end) return end;
    if (*p == '"') return skip_string(p, end);
    if (*p == '{' || *p == '[') {
        size_t depth = 0;
        while (p < end) {
            uint8_t c = *p;
            if (c == '"') {
                p = skip_string(p, end);
                continue;
            }
            if (c == '{' || c == '[') ++depth;
            if (c == '}' || c == ']') {
                if (--depth == 0) return p + 1;
            }
            ++p;
        }
        return end;
    }
    while (p < end && !is_whitespace(*p) && *p != ',' && *p != '}' && *p != ']') ++p;
    return p;
}

JsonValue value_at(const uint8_t* p, const uint8_t* end) {
    JsonValue value;
    if (p >= end) return value;
    const uint8_t* value_end = skip_value(p, end);
    value.begin = p;
    value.size = static_cast<size_t>(value_end - p);
    value.type = type_of_first_byte(*p);
    return value;
}

// Produces the unescaped bytes of a validated string value a code point at a time.
class StringDecoder {
public:
    explicit StringDecoder(JsonValue string)
        : position_(string.begin + 1), end_(string.begin + string.size - 1) {}

    // Next chunk of UTF-8 (1 to 4 bytes) in out; 0 at the end of the string.
    size_t next(uint8_t out[4]) {
        if (position_ >= end_) return 0;
        if (*position_ == '\\') {
            Escape escape = decode_escape(position_, end_);
            if (escape.status != JsonStatus::kOk) {
                position_ = end_;  // not reachable for validated text
                return 0;
            }
            position_ = escape.next;
            return encode_utf8(escape.code_point, out);
        }
        out[0] = *position_++;
        return 1;
    }

private:
    const uint8_t* position_;
    const uint8_t* end_;  // the closing quote
};

bool is_string(JsonValue value) {
    return value.type == JsonType::kString && value.begin != nullptr && value.size >= 2;
}

bool is_container(JsonValue value, JsonType type) {
    return value.type == type && value.begin != nullptr && value.size >= 2;
}

}  // namespace

const char* to_string(JsonStatus status) {
    switch (status) {
        case JsonStatus::kOk:
            return "ok";
        case JsonStatus::kEnd:
            return "end";
        case JsonStatus::kEmpty:
            return "JSON: empty document";
        case JsonStatus::kUnexpectedEnd:
            return "JSON: unexpected end of text";
        case JsonStatus::kUnexpectedCharacter:
            return "JSON: syntax error";
        case JsonStatus::kTrailingData:
            return "JSON: data after the document";
        case JsonStatus::kBadEscape:
            return "JSON: invalid escape sequence";
        case JsonStatus::kBadUnicodeEscape:
            return "JSON: unpaired UTF-16 surrogate in \\u escape";
        case JsonStatus::kBadUtf8:
            return "JSON: invalid UTF-8";
        case JsonStatus::kControlCharacter:
            return "JSON: unescaped control character in string";
        case JsonStatus::kLeadingZero:
            return "JSON: number with a leading zero";
        case JsonStatus::kFloatNotSupported:
            return "JSON: only integers are supported";
        case JsonStatus::kNumberOverflow:
            return "JSON: integer does not fit in 64 bits";
        case JsonStatus::kTooDeep:
            return "JSON: nesting too deep";
        case JsonStatus::kWrongType:
            return "JSON: value has the wrong type";
        case JsonStatus::kNotFound:
            return "JSON: not found";
        case JsonStatus::kDuplicateKey:
            return "JSON: duplicate key";
        case JsonStatus::kNumberOutOfRange:
            return "JSON: integer out of range";
        case JsonStatus::kBufferTooSmall:
            return "JSON: string too long for buffer";
        case JsonStatus::kBadPath:
            return "JSON: malformed path";
    }
    return "JSON: unknown status";
}

JsonStatus json_parse(ByteView text, JsonValue* root, uint32_t max_depth) {
    if (max_depth > kJsonMaxDepth) max_depth = kJsonMaxDepth;
    const uint8_t* end = text.data + text.size;
    const uint8_t* p = skip_whitespace(text.data, end);
    if (p == end) return JsonStatus::kEmpty;
    const uint8_t* root_begin = p;

    // An explicit stack of open containers, one bit each (1 = object), instead of recursion:
    // the firmware's stack is small and the depth limit is then just the bit count.
    uint64_t object_bits = 0;
    uint32_t depth = 0;
    enum class Expect { kValue, kKey, kAfterValue } expect = Expect::kValue;

    for (;;) {
        if (expect == Expect::kValue) {
            if (p == end) return JsonStatus::kUnexpectedEnd;
            uint8_t c = *p;
            if (c == '{' || c == '[') {
                if (depth >= max_depth) return JsonStatus::kTooDeep;
                bool is_object = c == '{';
                uint64_t bit = uint64_t{1} << depth;
                object_bits = is_object ? (object_bits | bit) : (object_bits & ~bit);
                ++depth;
                p = skip_whitespace(p + 1, end);
                if (p == end) return JsonStatus::kUnexpectedEnd;
                if (*p == (is_object ? '}' : ']')) {
                    ++p;
                    --depth;
                    expect = Expect::kAfterValue;
                } else {
                    expect = is_object ? Expect::kKey : Expect::kValue;
                }
                continue;
            }
            Scan scan;
            if (c == '"') {
                scan = scan_string(p, end);
            } else if (c == '-' || is_digit(c)) {
                Integer integer = scan_integer(p, end);
                scan = {integer.status, integer.next};
            } else if (c == 't') {
                scan = scan_literal(p, end, literal_bytes("true"));
            } else if (c == 'f') {
                scan = scan_literal(p, end, literal_bytes("false"));
            } else if (c == 'n') {
                scan = scan_literal(p, end, literal_bytes("null"));
            } else {
                return JsonStatus::kUnexpectedCharacter;
            }
            if (scan.status != JsonStatus::kOk) return scan.status;
            p = scan.next;
            expect = Expect::kAfterValue;
        } else if (expect == Expect::kKey) {
            if (p == end) return JsonStatus::kUnexpectedEnd;
            if (*p != '"') return JsonStatus::kUnexpectedCharacter;
            Scan scan = scan_string(p, end);
            if (scan.status != JsonStatus::kOk) return scan.status;
            p = skip_whitespace(scan.next, end);
            if (p == end) return JsonStatus::kUnexpectedEnd;
            if (*p != ':') return JsonStatus::kUnexpectedCharacter;
            p = skip_whitespace(p + 1, end);
            expect = Expect::kValue;
        } else {
            if (depth == 0) {
                const uint8_t* root_end = p;
                if (skip_whitespace(p, end) != end) return JsonStatus::kTrailingData;
                root->begin = root_begin;
                root->size = static_cast<size_t>(root_end - root_begin);
                root->type = type_of_first_byte(*root_begin);
                return JsonStatus::kOk;
            }
            p = skip_whitespace(p, end);
            if (p == end) return JsonStatus::kUnexpectedEnd;
            bool in_object = (object_bits >> (depth - 1)) & 1;
            if (*p == ',') {
                p = skip_whitespace(p + 1, end);
                expect = in_object ? Expect::kKey : Expect::kValue;
            } else if (*p == (in_object ? '}' : ']')) {
                ++p;
                --depth;
            } else {
                return JsonStatus::kUnexpectedCharacter;
            }
        }
    }
}

JsonArrayReader::JsonArrayReader(JsonValue array)
    : position_(nullptr), end_(nullptr), is_array_(is_container(array, JsonType::kArray)) {
    if (is_array_) {
        position_ = array.begin + 1;
        end_ = array.begin + array.size - 1;
    }
}

JsonStatus JsonArrayReader::next(JsonValue* element) {
    if (!is_array_) return JsonStatus::kWrongType;
    position_ = skip_whitespace(position_, end_);
    if (position_ < end_ && *position_ == ',') position_ = skip_whitespace(position_ + 1, end_);
    if (position_ >= end_) return JsonStatus::kEnd;
    *element = value_at(position_, end_);
    if (element->type == JsonType::kInvalid || element->size == 0) {
        position_ = end_;  // only for text json_parse did not produce; never loop forever
        return JsonStatus::kEnd;
    }
    position_ = element->begin + element->size;
    return JsonStatus::kOk;
}

JsonObjectReader::JsonObjectReader(JsonValue object)
    : position_(nullptr), end_(nullptr), is_object_(is_container(object, JsonType::kObject)) {
    if (is_object_) {
        position_ = object.begin + 1;
        end_ = object.begin + object.size - 1;
    }
}

JsonStatus JsonObjectReader::next(JsonValue* key, JsonValue* value) {
    if (!is_object_) return JsonStatus::kWrongType;
    position_ = skip_whitespace(position_, end_);
    if (position_ < end_ && *position_ == ',') position_ = skip_whitespace(position_ + 1, end_);
    if (position_ >= end_) return JsonStatus::kEnd;
    *key = value_at(position_, end_);
    position_ = skip_whitespace(key->begin + key->size, end_);
    if (position_ < end_ && *position_ == ':') ++position_;
    position_ = skip_whitespace(position_, end_);
    *value = value_at(position_, end_);
    if (key->type != JsonType::kString || value->type == JsonType::kInvalid || value->size == 0) {
        position_ = end_;  // only for text json_parse did not produce
        return JsonStatus::kEnd;
    }
    position_ = value->begin + value->size;
    return JsonStatus::kOk;
}

JsonStatus json_get(JsonValue object, ByteView key, JsonValue* value) {
    if (!is_container(object, JsonType::kObject)) return JsonStatus::kWrongType;
    JsonObjectReader reader(object);
    JsonValue member_key, member_value;
    bool found = false;
    JsonStatus status;
    while ((status = reader.next(&member_key, &member_value)) == JsonStatus::kOk) {
        if (!json_string_equals(member_key, key)) continue;
        if (found) return JsonStatus::kDuplicateKey;
        *value = member_value;
        found = true;
    }
    return found ? JsonStatus::kOk : JsonStatus::kNotFound;
}

JsonStatus json_at(JsonValue array, size_t index, JsonValue* element) {
    if (!is_container(array, JsonType::kArray)) return JsonStatus::kWrongType;
    JsonArrayReader reader(array);
    JsonValue current;
    for (size_t i = 0; reader.next(&current) == JsonStatus::kOk; ++i) {
        if (i == index) {
            *element = current;
            return JsonStatus::kOk;
        }
    }
    return JsonStatus::kNotFound;
}

JsonStatus json_array_size(JsonValue array, size_t* size) {
    if (!is_container(array, JsonType::kArray)) return JsonStatus::kWrongType;
    JsonArrayReader reader(array);
    JsonValue element;
    size_t count = 0;
    while (reader.next(&element) == JsonStatus::kOk) ++count;
    *size = count;
    return JsonStatus::kOk;
}

JsonStatus json_find(JsonValue root, ByteView path, JsonValue* value) {
    JsonValue current = root;
    size_t i = 0;
    bool expect_key = path.size > 0 && path[0] != '[';
    while (i < path.size) {
        if (path[i] == '[') {
            ++i;
            size_t index = 0;
            size_t digits = 0;
            while (i < path.size && is_digit(path[i])) {
                if (__builtin_mul_overflow(index, size_t{10}, &index) ||
                    __builtin_add_overflow(index, static_cast<size_t>(path[i] - '0'), &index)) {
                    return JsonStatus::kBadPath;
                }
                ++i;
                ++digits;
            }
            if (digits == 0 || i == path.size || path[i] != ']') return JsonStatus::kBadPath;
            ++i;
            JsonStatus status = json_at(current, index, &current);
            if (status != JsonStatus::kOk) return status;
            expect_key = false;
        } else if (path[i] == '.' || expect_key) {
            if (path[i] == '.') {
                if (expect_key) return JsonStatus::kBadPath;  // ".a" or "a..b"
                ++i;
            }
            size_t key_begin = i;
            while (i < path.size && path[i] != '.' && path[i] != '[' && path[i] != ']') ++i;
            if (i == key_begin) return JsonStatus::kBadPath;
            if (i < path.size && path[i] == ']') return JsonStatus::kBadPath;
            JsonStatus status =
                json_get(current, ByteView(path.data + key_begin, i - key_begin), &current);
            if (status != JsonStatus::kOk) return status;
            expect_key = false;
        } else {
            return JsonStatus::kBadPath;  // e.g. "a[0]b"
        }
    }
    *value = current;
    return JsonStatus::kOk;
}

JsonStatus json_to_uint64(JsonValue number, uint64_t* value) {
    if (number.type != JsonType::kNumber || number.begin == nullptr) return JsonStatus::kWrongType;
    Integer integer = scan_integer(number.begin, number.begin + number.size);
    if (integer.status != JsonStatus::kOk) return integer.status;
    if (integer.negative && integer.magnitude != 0) return JsonStatus::kNumberOutOfRange;
    *value = integer.magnitude;
    return JsonStatus::kOk;
}

JsonStatus json_to_int64(JsonValue number, int64_t* value) {
    if (number.type != JsonType::kNumber || number.begin == nullptr) return JsonStatus::kWrongType;
    Integer integer = scan_integer(number.begin, number.begin + number.size);
    if (integer.status != JsonStatus::kOk) return integer.status;
    constexpr uint64_t kInt64MaxMagnitude = (uint64_t{1} << 63) - 1;
    if (!integer.negative) {
        if (integer.magnitude > kInt64MaxMagnitude) return JsonStatus::kNumberOutOfRange;
        *value = static_cast<int64_t>(integer.magnitude);
    } else if (integer.magnitude > kInt64MaxMagnitude) {
        *value = -static_cast<int64_t>(kInt64MaxMagnitude) - 1;  // scan_integer allows only 2^63
    } else {
        *value = -static_cast<int64_t>(integer.magnitude);
    }
    return JsonStatus::kOk;
}

JsonStatus json_to_bool(JsonValue boolean, bool* value) {
    if (boolean.type != JsonType::kBool || boolean.begin == nullptr) return JsonStatus::kWrongType;
    *value = boolean.begin[0] == 't';
    return JsonStatus::kOk;
}

JsonStatus json_string_decode(JsonValue string, uint8_t* out, size_t capacity, size_t* size) {
    if (!is_string(string)) return JsonStatus::kWrongType;
    StringDecoder decoder(string);
    size_t written = 0;
    uint8_t chunk[4];
    size_t chunk_size;
    while ((chunk_size = decoder.next(chunk)) != 0) {
        if (chunk_size > capacity - written) return JsonStatus::kBufferTooSmall;
        copy_bytes(out + written, chunk, chunk_size);
        written += chunk_size;
    }
    *size = written;
    return JsonStatus::kOk;
}

bool json_string_equals(JsonValue string, ByteView text) {
    if (!is_string(string)) return false;
    StringDecoder decoder(string);
    size_t matched = 0;
    uint8_t chunk[4];
    size_t chunk_size;
    while ((chunk_size = decoder.next(chunk)) != 0) {
        if (chunk_size > text.size - matched) return false;
        if (!bytes_equal(chunk, text.data + matched, chunk_size)) return false;
        matched += chunk_size;
    }
    return matched == text.size;
}

}  // namespace ingot::fw
