#include "Manifest.h"

#include "ingot/fw/Json.h"

namespace ingot::fw {
namespace {

bool fail(BootError* error, const char* field, const char* problem) {
    error->set(Refusal::kBadManifest, "manifest field '").add(field).add("' ").add(problem);
    return false;
}

bool get_uint(JsonValue root, const char* path, uint64_t* value, BootError* error) {
    JsonValue v;
    size_t n = 0;
    while (path[n]) ++n;
    if (json_find(root, ByteView(path, n), &v) != JsonStatus::kOk) return fail(error, path, "is missing");
    if (json_to_uint64(v, value) != JsonStatus::kOk) return fail(error, path, "is not an unsigned integer");
    return true;
}

bool get_string(JsonValue object, const char* key, char* out, size_t capacity, size_t* size,
                BootError* error) {
    JsonValue v;
    size_t n = 0;
    while (key[n]) ++n;
    if (json_find(object, ByteView(key, n), &v) != JsonStatus::kOk) return fail(error, key, "is missing");
    if (v.type != JsonType::kString) return fail(error, key, "is not a string");
    size_t got = 0;
    if (json_string_decode(v, reinterpret_cast<uint8_t*>(out), capacity - 1, &got) != JsonStatus::kOk)
        return fail(error, key, "is too long");
    for (size_t i = 0; i < got; ++i)
        if (out[i] == '\0') return fail(error, key, "contains a NUL");
    out[got] = '\0';
    if (size) *size = got;
    return true;
}

bool hex_digest(const char* text, size_t size, uint8_t out[32]) {
    if (size != 64) return false;
    for (size_t i = 0; i < 64; ++i) {
        char c = text[i];
        uint8_t d;
        if (c >= '0' && c <= '9') d = static_cast<uint8_t>(c - '0');
        else if (c >= 'a' && c <= 'f') d = static_cast<uint8_t>(c - 'a' + 10);
        else return false;
        out[i / 2] = static_cast<uint8_t>((i % 2) ? (out[i / 2] | d) : (d << 4));
    }
    return true;
}

bool read_file(JsonValue root, const char* key, bool optional, ManifestFile* file,
               BootError* error) {
    JsonValue v;
    size_t n = 0;
    while (key[n]) ++n;
    if (json_get(root, ByteView(key, n), &v) != JsonStatus::kOk) return fail(error, key, "is missing");
    if (optional && json_is_null(v)) {
        file->present = false;
        return true;
    }
    if (v.type != JsonType::kObject) return fail(error, key, "is not an object");
    char digest[65];
    size_t digest_size = 0;
    if (!get_string(v, "sha256", digest, sizeof digest, &digest_size, error)) return false;
    if (!hex_digest(digest, digest_size, file->sha256))
        return fail(error, key, "has a sha256 that is not 64 lower-case hex digits");
    if (!get_uint(v, "size", &file->size, error)) return false;
    file->present = true;
    return true;
}

bool streq(const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
}

}  // namespace

const ManifestPartition* Manifest::find_role(const char* role) const {
    for (size_t i = 0; i < partition_count; ++i)
        if (streq(partitions[i].role, role)) return &partitions[i];
    return nullptr;
}

bool read_manifest(ByteView text, Manifest* manifest, BootError* error) {
    JsonValue root;
    JsonStatus status = json_parse(text, &root);
    if (status != JsonStatus::kOk) {
        error->set(Refusal::kBadManifest, "manifest.json is not valid JSON: ").add(to_string(status));
        return false;
    }
    if (root.type != JsonType::kObject) return fail(error, "(root)", "is not an object");
    uint64_t format = 0;
    if (!get_uint(root, "format", &format, error)) return false;
    if (format != 1) return fail(error, "format", "is not 1");

    JsonValue boot;
    if (json_get(root, literal_bytes("boot"), &boot) != JsonStatus::kOk || boot.type != JsonType::kObject)
        return fail(error, "boot", "is missing or not an object");
    char protocol[32];
    if (!get_string(boot, "protocol", protocol, sizeof protocol, nullptr, error)) return false;
    if (!streq(protocol, "linux-x86_64")) return fail(error, "boot.protocol", "is not linux-x86_64");
    if (!get_string(boot, "cmdline", manifest->cmdline, sizeof manifest->cmdline,
                    &manifest->cmdline_size, error))
        return false;

    if (!read_file(root, "kernel", false, &manifest->kernel, error)) return false;
    if (!read_file(root, "initrd", true, &manifest->initrd, error)) return false;

    JsonValue partitions;
    if (json_get(root, literal_bytes("partitions"), &partitions) != JsonStatus::kOk ||
        partitions.type != JsonType::kArray)
        return fail(error, "partitions", "is missing or not an array");
    JsonArrayReader entries(partitions);
    JsonValue entry;
    manifest->partition_count = 0;
    while ((status = entries.next(&entry)) == JsonStatus::kOk) {
        if (manifest->partition_count == Manifest::kMaxPartitions)
            return fail(error, "partitions", "has too many entries");
        if (entry.type != JsonType::kObject) return fail(error, "partitions[]", "is not an object");
        auto& p = manifest->partitions[manifest->partition_count++];
        char guid[40];
        size_t guid_size = 0;
        if (!get_string(entry, "type", guid, sizeof guid, &guid_size, error)) return false;
        if (!parse_guid(ByteView(guid, guid_size), &p.type)) return fail(error, "partitions[].type", "is not a GUID");
        if (!get_string(entry, "uuid", guid, sizeof guid, &guid_size, error)) return false;
        if (!parse_guid(ByteView(guid, guid_size), &p.uuid)) return fail(error, "partitions[].uuid", "is not a GUID");
        if (!get_uint(entry, "firstLba", &p.first_lba, error)) return false;
        if (!get_uint(entry, "lastLba", &p.last_lba, error)) return false;
        if (!get_string(entry, "name", p.name, sizeof p.name, nullptr, error)) return false;
        if (!get_string(entry, "role", p.role, sizeof p.role, nullptr, error)) return false;
    }
    if (status != JsonStatus::kEnd) return fail(error, "partitions", "is malformed");
    if (!manifest->find_role("boot")) return fail(error, "partitions", "has no boot partition");
    return true;
}

}  // namespace ingot::fw
