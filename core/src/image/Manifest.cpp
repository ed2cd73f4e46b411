#include "ingot/image/Manifest.h"

#include <set>

#include "ingot/core/Error.h"
#include "ingot/core/Json.h"

namespace ingot::image {
namespace {

using nlohmann::json;

bool isLowerHex(const std::string& text) {
    for (char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

bool isGuidText(const std::string& text) {
    if (text.size() != 36) return false;
    for (size_t i = 0; i < text.size(); ++i) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash != (text[i] == '-')) return false;
        if (!dash && !isLowerHex(std::string(1, text[i]))) return false;
    }
    return true;
}

// Validates a parsed document field by field; every error names the field's path.
class Reader : public JsonFieldReader {
public:
    using JsonFieldReader::JsonFieldReader;

    // Names and versions end up in the signature's trusted comment "ingot image NAME VERSION",
    // which must stay one unambiguous line.
    std::string word(const json& parent, const std::string& path, const char* key) const {
        std::string text = string(parent, path, key);
        if (text.empty()) fail(path, "must not be empty");
        if (text.size() > 255) fail(path, "is longer than 255 bytes");
        for (unsigned char c : text) {
            if (c <= 0x20 || c == 0x7f) fail(path, "must not contain spaces or control characters");
        }
        return text;
    }

    std::string hex(const json& parent, const std::string& path, const char* key) const {
        std::string text = string(parent, path, key);
        if (!isLowerHex(text)) fail(path, "must be lower-case hexadecimal");
        return text;
    }

    ManifestFile file(const json& parent, const std::string& path) const {
        const json& value = object(parent, path, path.c_str());
        ManifestFile result;
        result.sha256 = hex(value, path + ".sha256", "sha256");
        if (result.sha256.size() != 64) fail(path + ".sha256", "must be 64 hexadecimal digits");
        result.size = number(value, path + ".size", "size");
        if (result.size == 0) fail(path + ".size", "must not be 0 (an empty file)");
        return result;
    }
};

ManifestVerity readVerity(const Reader& r, const json& value) {
    if (!value.is_object()) r.fail("verity", "must be null or an object");
    ManifestVerity v;
    v.algorithm = r.string(value, "verity.algorithm", "algorithm");
    if (v.algorithm != "sha256") r.fail("verity.algorithm", "must be \"sha256\"");
    v.dataBlockSize = r.number(value, "verity.dataBlockSize", "dataBlockSize");
    v.dataBlocks = r.number(value, "verity.dataBlocks", "dataBlocks");
    v.hashBlockSize = r.number(value, "verity.hashBlockSize", "hashBlockSize");
    for (auto [size, path] : {std::pair{v.dataBlockSize, "verity.dataBlockSize"},
                              std::pair{v.hashBlockSize, "verity.hashBlockSize"}}) {
        if (size < 512 || size > 65536 || (size & (size - 1)) != 0)
            r.fail(path, "must be a power of two from 512 to 65536");
    }
    v.rootHash = r.hex(value, "verity.rootHash", "rootHash");
    if (v.rootHash.size() != 64) r.fail("verity.rootHash", "must be 64 hexadecimal digits");
    if (v.dataBlocks == 0) r.fail("verity.dataBlocks", "must not be 0");
    v.salt = r.hex(value, "verity.salt", "salt");
    if (v.salt.size() % 2 != 0) r.fail("verity.salt", "must have an even number of digits");
    if (v.salt.size() > 512) r.fail("verity.salt", "must be at most 256 bytes (512 digits)");
    v.format = r.number(value, "verity.format", "format");
    if (v.format != 1) r.fail("verity.format", "must be 1");
    // Format 1 keeps its superblock in the first hash block; the tree starts right after it.
    v.hashOffset = r.number(value, "verity.hashOffset", "hashOffset");
    if (v.hashOffset != v.hashBlockSize) r.fail("verity.hashOffset", "must equal hashBlockSize");
    v.uuid = r.string(value, "verity.uuid", "uuid");
    if (!isGuidText(v.uuid)) r.fail("verity.uuid", "must be a lower-case GUID");
    return v;
}

std::vector<ManifestPartition> readPartitions(const Reader& r, const json& document) {
    const json& list = r.member(document, "partitions", "partitions");
    if (!list.is_array()) r.fail("partitions", "must be an array");
    if (list.empty()) r.fail("partitions", "must list at least the boot partition");
    std::vector<ManifestPartition> partitions;
    size_t nextRole = 0;
    for (size_t i = 0; i < list.size(); ++i) {
        std::string path = "partitions[" + std::to_string(i) + "]";
        const json& entry = list[i];
        if (!entry.is_object()) r.fail(path, "must be an object");
        ManifestPartition p;
        p.firstLba = r.number(entry, path + ".firstLba", "firstLba");
        p.lastLba = r.number(entry, path + ".lastLba", "lastLba");
        p.name = r.string(entry, path + ".name", "name");
        p.role = r.string(entry, path + ".role", "role");
        p.type = r.string(entry, path + ".type", "type");
        p.uuid = r.string(entry, path + ".uuid", "uuid");

        // Roles come in the fixed order boot, root, root-verity, each at most once.
        size_t roleIndex = std::size(kPartitionRoles);
        for (size_t k = 0; k < std::size(kPartitionRoles); ++k) {
            if (p.role == kPartitionRoles[k].role) roleIndex = k;
        }
        if (roleIndex == std::size(kPartitionRoles))
            r.fail(path + ".role", "must be one of boot, root, root-verity");
        if (i == 0 && roleIndex != 0) r.fail(path + ".role", "must be \"boot\" (listed first)");
        if (roleIndex < nextRole)
            r.fail(path + ".role", "\"" + p.role + "\" is repeated or out of order");
        nextRole = roleIndex + 1;
        const PartitionRole& role = kPartitionRoles[roleIndex];
        if (p.type != role.type) r.fail(path + ".type", std::string("must be ") + role.type);
        if (p.name != role.name) r.fail(path + ".name", std::string("must be ") + role.name);
        if (!isGuidText(p.uuid)) r.fail(path + ".uuid", "must be a lower-case GUID");

        if (p.firstLba % 2048 != 0)
            r.fail(path + ".firstLba", "must be a multiple of 2048 (1 MiB)");
        if (p.lastLba < p.firstLba) r.fail(path + ".lastLba", "must not be below firstLba");
        if (!partitions.empty() && p.firstLba <= partitions.back().lastLba)
            r.fail(path + ".firstLba", "must lie after the previous partition");
        for (const ManifestPartition& q : partitions) {
            if (q.uuid == p.uuid) r.fail(path + ".uuid", "is used by another partition");
        }
        partitions.push_back(std::move(p));
    }
    return partitions;
}

Manifest readManifest(const json& document, const std::string& where) {
    Reader r(where);
    if (!document.is_object())
        throw Error(where + ": not a JSON object", ExitStatus::kVerification);
    Manifest m;
    m.format = r.number(document, "format", "format");
    if (m.format != kManifestFormat)
        r.fail("format", "is " + std::to_string(m.format) + "; this ingot reads format " +
                             std::to_string(kManifestFormat));
    m.name = r.word(document, "name", "name");
    m.version = r.word(document, "version", "version");
    m.created = r.number(document, "created", "created");

    const json& boot = r.object(document, "boot", "boot");
    m.cmdline = r.string(boot, "boot.cmdline", "cmdline");
    for (unsigned char c : m.cmdline) {
        if (c < 0x20 || c == 0x7f) r.fail("boot.cmdline", "must not contain control characters");
    }
    m.protocol = r.string(boot, "boot.protocol", "protocol");
    if (m.protocol != kBootProtocolLinuxX86_64)
        r.fail("boot.protocol", std::string("must be \"") + kBootProtocolLinuxX86_64 + "\"");

    const json& defaults = r.object(document, "defaults", "defaults");
    m.defaults.cpus = r.number(defaults, "defaults.cpus", "cpus");
    if (m.defaults.cpus == 0 || m.defaults.cpus > 255)
        r.fail("defaults.cpus", "must be from 1 to 255");
    m.defaults.memoryMiB = r.number(defaults, "defaults.memoryMiB", "memoryMiB");
    if (m.defaults.memoryMiB == 0) r.fail("defaults.memoryMiB", "must not be 0");

    m.kernel = r.file(document, "kernel");
    if (r.member(document, "initrd", "initrd").is_null()) {
        m.initrd.reset();
    } else {
        m.initrd = r.file(document, "initrd");
    }
    m.partitions = readPartitions(r, document);
    m.provenance = r.object(document, "provenance", "provenance");

    const json& verity = r.member(document, "verity", "verity");
    if (!verity.is_null()) m.verity = readVerity(r, verity);
    bool hasVerityPartition = m.partitions.back().role == "root-verity";
    if (hasVerityPartition != m.verity.has_value())
        r.fail("verity", hasVerityPartition ? "must describe the root-verity partition"
                                            : "must be null without a root-verity partition");
    return m;
}

json fileJson(const ManifestFile& file) {
    return {{"sha256", file.sha256}, {"size", file.size}};
}

json toJson(const Manifest& m) {
    json partitions = json::array();
    for (const ManifestPartition& p : m.partitions) {
        partitions.push_back({{"firstLba", p.firstLba},
                              {"lastLba", p.lastLba},
                              {"name", p.name},
                              {"role", p.role},
                              {"type", p.type},
                              {"uuid", p.uuid}});
    }
    json verity = nullptr;
    if (m.verity) {
        verity = {{"algorithm", m.verity->algorithm},
                  {"dataBlockSize", m.verity->dataBlockSize},
                  {"dataBlocks", m.verity->dataBlocks},
                  {"hashBlockSize", m.verity->hashBlockSize},
                  {"rootHash", m.verity->rootHash},
                  {"salt", m.verity->salt},
                  {"format", m.verity->format},
                  {"hashOffset", m.verity->hashOffset},
                  {"uuid", m.verity->uuid}};
    }
    return {{"boot", {{"cmdline", m.cmdline}, {"protocol", m.protocol}}},
            {"created", m.created},
            {"defaults", {{"cpus", m.defaults.cpus}, {"memoryMiB", m.defaults.memoryMiB}}},
            {"format", m.format},
            {"initrd", m.initrd ? fileJson(*m.initrd) : json(nullptr)},
            {"kernel", fileJson(m.kernel)},
            {"name", m.name},
            {"partitions", std::move(partitions)},
            {"provenance", m.provenance},
            {"verity", std::move(verity)},
            {"version", m.version}};
}


}  // namespace

const PartitionRole& partitionRole(std::string_view role) {
    for (const PartitionRole& r : kPartitionRoles) {
        if (role == r.role) return r;
    }
    throw Error("unknown partition role '" + std::string(role) + "'");
}

std::string serializeManifest(const Manifest& manifest) {
    json document = toJson(manifest);
    std::string text;
    try {
        text = document.dump();
    } catch (const json::exception& e) {
        throw Error(std::string("cannot serialise the manifest: ") + e.what(), ExitStatus::kUsage);
    }
    try {
        readManifest(document, "manifest");
    } catch (const Error& e) {
        throw Error(std::string("refusing to write an invalid manifest: ") + e.what(),
                    ExitStatus::kUsage);
    }
    return text;
}

Manifest parseManifest(std::string_view text, std::string_view where) {
    return readManifest(parseJsonWithoutDuplicateKeys(text, std::string(where)), std::string(where));
}

}  // namespace ingot::image
