// A JSON reader for the signed image manifest: no allocation, no copies. json_parse() validates a
// whole document once (RFC 8259 syntax, UTF-8, nesting depth); the value handles it returns are
// views into the text, and lookups walk the text again when asked.
//
// Deliberate subset: numbers must be integers that fit int64 or uint64 (fractions and exponents
// are refused, not rounded), and json_get() refuses objects with duplicate keys, where JSON
// readers disagree about which one wins.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ingot/fw/Bytes.h"

namespace ingot::fw {

enum class JsonStatus : uint8_t {
    kOk,
    kEnd,                  // readers: no more elements
    kEmpty,                // the text holds no value
    kUnexpectedEnd,        // the text stops inside a value
    kUnexpectedCharacter,  // a syntax error
    kTrailingData,         // something other than whitespace follows the value
    kBadEscape,            // unknown backslash escape, or \u not followed by 4 hex digits
    kBadUnicodeEscape,     // \u escapes forming an unpaired UTF-16 surrogate
    kBadUtf8,              // a string is not valid UTF-8
    kControlCharacter,     // unescaped byte below 0x20 inside a string
    kLeadingZero,          // 0 followed by digits
    kFloatNotSupported,    // fraction or exponent
    kNumberOverflow,       // outside int64 (negative) or uint64 (non-negative)
    kTooDeep,              // arrays/objects nested deeper than the limit
    kWrongType,            // e.g. json_get on an array, json_to_bool on a string
    kNotFound,             // no such key, index or path
    kDuplicateKey,         // json_get: the key occurs more than once in the object
    kNumberOutOfRange,     // fits the document rules but not the requested C++ type
    kBufferTooSmall,       // json_string_decode: output does not fit
    kBadPath,              // json_find: malformed path
};

const char* to_string(JsonStatus status);

enum class JsonType : uint8_t { kInvalid, kNull, kBool, kNumber, kString, kArray, kObject };

// One value of a validated document: its exact text (strings include their quotes).
struct JsonValue {
    const uint8_t* begin = nullptr;
    size_t size = 0;
    JsonType type = JsonType::kInvalid;
};

// Nesting limit for json_parse; deeper documents are refused with kTooDeep.
inline constexpr uint32_t kJsonMaxDepth = 64;

// Validates `text` as exactly one JSON value with optional surrounding whitespace. max_depth
// bounds the nesting of arrays and objects (at most kJsonMaxDepth; larger values are clamped).
// Only values obtained from here (and from the functions below) are meaningful arguments for
// the rest of the API; it stays bounds-safe on anything else, but answers are then undefined.
JsonStatus json_parse(ByteView text, JsonValue* root, uint32_t max_depth = kJsonMaxDepth);

// Iterates the elements of an array. next() gives kOk, then kEnd; kWrongType for a non-array.
class JsonArrayReader {
public:
    explicit JsonArrayReader(JsonValue array);
    JsonStatus next(JsonValue* element);

private:
    const uint8_t* position_;
    const uint8_t* end_;  // the closing bracket
    bool is_array_;
};

// Iterates the members of an object in document order, duplicates included.
class JsonObjectReader {
public:
    explicit JsonObjectReader(JsonValue object);
    JsonStatus next(JsonValue* key, JsonValue* value);

private:
    const uint8_t* position_;
    const uint8_t* end_;  // the closing brace
    bool is_object_;
};

// The member of `object` whose (unescaped) key equals `key`.
JsonStatus json_get(JsonValue object, ByteView key, JsonValue* value);
JsonStatus json_at(JsonValue array, size_t index, JsonValue* element);
JsonStatus json_array_size(JsonValue array, size_t* size);

// Follows a path of keys and indices from `root`: "kernel.sha256", "partitions[1].uuid",
// "[0]". Keys containing '.', '[' or ']' cannot be named this way; use json_get for them.
JsonStatus json_find(JsonValue root, ByteView path, JsonValue* value);

JsonStatus json_to_uint64(JsonValue number, uint64_t* value);
JsonStatus json_to_int64(JsonValue number, int64_t* value);
JsonStatus json_to_bool(JsonValue boolean, bool* value);
inline bool json_is_null(JsonValue value) {
    return value.type == JsonType::kNull;
}

// Writes the unescaped UTF-8 bytes of a string value (\u0000 becomes a NUL byte; no terminator
// is added).
JsonStatus json_string_decode(JsonValue string, uint8_t* out, size_t capacity, size_t* size);
// Compares the unescaped string with `text`, without a buffer.
bool json_string_equals(JsonValue string, ByteView text);

}  // namespace ingot::fw
