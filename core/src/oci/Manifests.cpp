#include "ingot/oci/Manifests.h"

#include <zstd.h>

#include <nlohmann/json.hpp>
#include <set>

#include "ingot/core/Error.h"
#include "ingot/core/Json.h"
#include "ingot/core/Sha256.h"

namespace ingot::oci {
namespace {

using nlohmann::json;

json parseJson(std::string_view text, uint64_t maxBytes, const std::string& where) {
    if (text.size() > maxBytes)
        throw Error(where + ": " + std::to_string(text.size()) + " bytes, more than the limit of " +
                        std::to_string(maxBytes),
                    ExitStatus::kVerification);
    json document = parseJsonWithoutDuplicateKeys(text, where);
    if (!document.is_object())
        throw Error(where + ": not a JSON object", ExitStatus::kVerification);
    return document;
}

// Validates a parsed document field by field; every error names the document and the field.
class Reader : public JsonFieldReader {
public:
    using JsonFieldReader::JsonFieldReader;

    void expect(const json& parent, const std::string& path, const char* key,
                const char* expected) const {
        std::string value = string(parent, path, key);
        if (value != expected)
            fail(path, "is \"" + printable(value) + "\", not \"" + expected + "\"");
    }

    Descriptor descriptor(const json& value, const std::string& path) const {
        if (!value.is_object()) fail(path, "must be an object");
        Descriptor d;
        d.mediaType = string(value, path + ".mediaType", "mediaType");
        if (d.mediaType.empty() || d.mediaType.size() > 255)
            fail(path + ".mediaType", "must have 1 to 255 characters");
        d.digest = string(value, path + ".digest", "digest");
        if (!isSha256Digest(d.digest))
            fail(path + ".digest", "is \"" + printable(d.digest) +
                                       "\", not \"sha256:\" and 64 lower-case hex digits");
        d.size = number(value, path + ".size", "size");
        if (const json* type = optional(value, "artifactType")) {
            if (!type->is_string()) fail(path + ".artifactType", "must be a string");
            d.artifactType = type->get<std::string>();
        }
        if (const json* annotations = optional(value, "annotations")) {
            if (!annotations->is_object()) fail(path + ".annotations", "must be an object");
            for (const auto& [key, text] : annotations->items()) {
                if (!text.is_string())
                    fail(path + ".annotations." + printable(key), "must be a string");
                d.annotations[key] = text.get<std::string>();
            }
        }
        return d;
    }

    // Annotations carry numbers as decimal text; only the canonical spelling is accepted, so
    // one number has one spelling and one manifest digest.
    uint64_t decimal(const Descriptor& d, const std::string& path, const char* key,
                     uint64_t max) const {
        std::string field = (path.empty() ? "" : path + ".") + "annotations." + key;
        auto it = d.annotations.find(key);
        if (it == d.annotations.end()) fail(field, "is missing");
        const std::string& text = it->second;
        if (text.empty() || text.size() > 20 || (text.size() > 1 && text[0] == '0'))
            fail(field, "is \"" + printable(text) + "\", not a decimal number");
        uint64_t value = 0;
        for (char c : text) {
            if (c < '0' || c > '9')
                fail(field, "is \"" + printable(text) + "\", not a decimal number");
            uint64_t digit = static_cast<uint64_t>(c - '0');
            if (value > (UINT64_MAX - digit) / 10) fail(field, "is too large");
            value = value * 10 + digit;
        }
        if (value > max)
            fail(field, "is " + text + ", more than the limit of " + std::to_string(max));
        return value;
    }

    // Hostile text goes into error messages; keep it short and free of control characters.
    static std::string printable(const std::string& text) {
        std::string out;
        for (unsigned char c : text.substr(0, 100)) out += (c < 0x20 || c >= 0x7f) ? '?' : char(c);
        if (text.size() > 100) out += "...";
        return out;
    }

};

json descriptorJson(const Descriptor& d) {
    json value = {{"mediaType", d.mediaType}, {"digest", d.digest}, {"size", d.size}};
    if (!d.artifactType.empty()) value["artifactType"] = d.artifactType;
    if (!d.annotations.empty()) value["annotations"] = d.annotations;
    return value;
}

Descriptor emptyDescriptor() {
    Descriptor d;
    d.mediaType = kMediaTypeEmpty;
    d.digest = sha256Digest(kEmptyBlob);
    d.size = kEmptyBlob.size();
    return d;
}

bool isEmptyDescriptor(const Descriptor& d) {
    return d.mediaType == kMediaTypeEmpty && d.digest == sha256Digest(kEmptyBlob) &&
           d.size == kEmptyBlob.size();
}

void checkSchema(const Reader& r, const json& document) {
    if (r.number(document, "schemaVersion", "schemaVersion") != 2)
        r.fail("schemaVersion", "must be 2");
}

// A layer's compressed size can exceed its content only by zstd's worst case; anything larger is
// not a chunk of that length, and refusing it early bounds what a reader downloads.
uint64_t maxCompressedSize(uint64_t length) {
    return ZSTD_COMPRESSBOUND(length);
}

}  // namespace

std::string sha256Digest(std::string_view bytes) {
    return "sha256:" + toHex(sha256(bytes));
}

bool isSha256Digest(std::string_view digest) {
    if (digest.size() != 71 || digest.substr(0, 7) != "sha256:") return false;
    for (char c : digest.substr(7)) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

std::string digestHex(std::string_view digest, std::string_view where) {
    if (!isSha256Digest(digest))
        throw Error(std::string(where) + ": digest \"" + Reader::printable(std::string(digest)) +
                        "\" is not \"sha256:\" and 64 lower-case hex digits",
                    ExitStatus::kVerification);
    return std::string(digest.substr(7));
}

void checkTag(std::string_view tag) {
    auto word = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    };
    bool ok = !tag.empty() && tag.size() <= 128 && word(tag[0]);
    for (char c : tag) ok = ok && (word(c) || c == '.' || c == '-');
    if (!ok)
        throw Error(
            "tag \"" + Reader::printable(std::string(tag)) +
                "\" is not valid: use 1 to 128 of A-Z a-z 0-9 _ . -, not starting with . or -",
            ExitStatus::kUsage);
}

void checkRefName(std::string_view name) {
    auto alnum = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    };
    auto separator = [](char c) {
        return c == '-' || c == '.' || c == '_' || c == ':' || c == '@' || c == '+';
    };
    // Each separator (one of them, "--", or '/') sits between two alphanumerics. A tag's leading
    // '_' (allowed by the distribution rule) is accepted too, so every valid tag stays valid.
    bool ok = !name.empty() && name.size() <= 255 && (alnum(name[0]) || name[0] == '_');
    for (size_t i = 1; ok && i < name.size(); ++i) {
        if (alnum(name[i])) continue;
        bool joins = separator(name[i]) || name[i] == '/';
        bool doubleDash = name[i] == '-' && name[i - 1] == '-';
        ok = joins && i + 1 < name.size() &&
             (alnum(name[i - 1]) || name[i - 1] == '_' || doubleDash) &&
             (alnum(name[i + 1]) || (name[i] == '-' && name[i + 1] == '-' && !doubleDash) ||
              name[i + 1] == '_');
    }
    if (!ok)
        throw Error("name \"" + Reader::printable(std::string(name)) +
                        "\" is not a valid layout tag: use components of A-Z a-z 0-9 joined by "
                        "one of - . _ : @ + or /, at most 255 bytes",
                    ExitStatus::kUsage);
}

std::string signatureTag(std::string_view manifestDigest) {
    return "sha256-" + digestHex(manifestDigest, "signature tag") + ".sig";
}

Index parseIndex(std::string_view text, std::string_view where) {
    std::string place(where);
    json document = parseJson(text, kMaxIndexBytes, place);
    Reader r(place);
    checkSchema(r, document);
    if (const json* mediaType = r.optional(document, "mediaType")) {
        if (!mediaType->is_string() || mediaType->get<std::string>() != kMediaTypeImageIndex)
            r.fail("mediaType", std::string("must be \"") + kMediaTypeImageIndex + "\"");
    }
    const json& list = r.member(document, "manifests", "manifests");
    if (!list.is_array()) r.fail("manifests", "must be an array");
    Index index;
    std::set<std::string> tags;
    for (size_t i = 0; i < list.size(); ++i) {
        std::string path = "manifests[" + std::to_string(i) + "]";
        Descriptor d = r.descriptor(list[i], path);
        auto tag = d.annotations.find(kAnnotationRefName);
        if (tag != d.annotations.end() && !tags.insert(tag->second).second)
            r.fail(path + ".annotations." + kAnnotationRefName,
                   "names tag \"" + Reader::printable(tag->second) + "\" a second time");
        index.manifests.push_back(std::move(d));
    }
    return index;
}

std::string serializeIndex(const Index& index) {
    json manifests = json::array();
    for (const Descriptor& d : index.manifests) manifests.push_back(descriptorJson(d));
    json document = {{"schemaVersion", 2},
                     {"mediaType", kMediaTypeImageIndex},
                     {"manifests", std::move(manifests)}};
    return document.dump();
}

ImageManifest parseImageManifest(std::string_view text, std::string_view where) {
    std::string place(where);
    json document = parseJson(text, kMaxManifestBytes, place);
    Reader r(place);
    checkSchema(r, document);
    r.expect(document, "mediaType", "mediaType", kMediaTypeImageManifest);
    r.expect(document, "artifactType", "artifactType", kArtifactTypeImage);

    ImageManifest manifest;
    manifest.config = r.descriptor(r.member(document, "config", "config"), "config");
    if (manifest.config.mediaType != kMediaTypeIngotManifest)
        r.fail("config.mediaType", std::string("must be \"") + kMediaTypeIngotManifest + "\"");
    if (manifest.config.size > kMaxConfigBytes)
        r.fail("config.size", "is more than the limit of " + std::to_string(kMaxConfigBytes));

    const json* annotations = r.optional(document, "annotations");
    if (!annotations || !annotations->is_object()) r.fail("annotations", "must be an object");
    Descriptor holder;  // reuses the descriptor's annotation reader
    for (const auto& [key, value] : annotations->items()) {
        if (!value.is_string()) r.fail("annotations." + Reader::printable(key), "must be a string");
        holder.annotations[key] = value.get<std::string>();
    }
    manifest.diskSize = r.decimal(holder, "", kAnnotationDiskSize, kMaxDiskSize);

    const json& layers = r.member(document, "layers", "layers");
    if (!layers.is_array()) r.fail("layers", "must be an array");
    uint64_t end = 0;  // of the previous chunk
    for (size_t i = 0; i < layers.size(); ++i) {
        std::string path = "layers[" + std::to_string(i) + "]";
        Descriptor blob = r.descriptor(layers[i], path);
        // Image-spec 1.1 asks for at least one layer; a disk of zeros alone has the empty one.
        if (isEmptyDescriptor(blob) && layers.size() == 1) continue;
        if (blob.mediaType != kMediaTypeChunk)
            r.fail(path + ".mediaType", "is \"" + Reader::printable(blob.mediaType) + "\", not \"" +
                                            kMediaTypeChunk + "\"");
        ImageChunk chunk;
        chunk.offset = r.decimal(blob, path, kAnnotationChunkOffset, kMaxDiskSize);
        chunk.length = r.decimal(blob, path, kAnnotationChunkLength, kMaxChunkLength);
        if (chunk.length == 0)
            r.fail(path + ".annotations." + kAnnotationChunkLength, "must not be 0");
        if (chunk.offset < end)
            r.fail(path + ".annotations." + kAnnotationChunkOffset,
                   "is " + std::to_string(chunk.offset) +
                       ", before the end of the previous chunk (" + std::to_string(end) +
                       "): chunks must be in order and must not overlap");
        if (chunk.length > manifest.diskSize || chunk.offset > manifest.diskSize - chunk.length)
            r.fail(path, "ends at " + std::to_string(chunk.offset + chunk.length) +
                             ", beyond the disk's size of " + std::to_string(manifest.diskSize));
        auto digest = blob.annotations.find(kAnnotationChunkDigest);
        if (digest == blob.annotations.end())
            r.fail(path + ".annotations." + kAnnotationChunkDigest, "is missing");
        if (!isSha256Digest(digest->second))
            r.fail(path + ".annotations." + kAnnotationChunkDigest,
                   "is not \"sha256:\" and 64 lower-case hex digits");
        chunk.sha256 = digest->second.substr(7);
        if (blob.size == 0 || blob.size > maxCompressedSize(chunk.length))
            r.fail(path + ".size", "is " + std::to_string(blob.size) +
                                       ", impossible for a zstd frame of " +
                                       std::to_string(chunk.length) + " bytes");
        end = chunk.offset + chunk.length;
        chunk.blob = std::move(blob);
        manifest.chunks.push_back(std::move(chunk));
    }
    return manifest;
}

std::string serializeImageManifest(const ImageManifest& manifest) {
    json layers = json::array();
    for (const ImageChunk& chunk : manifest.chunks) {
        Descriptor blob = chunk.blob;
        blob.mediaType = kMediaTypeChunk;
        blob.annotations[kAnnotationChunkOffset] = std::to_string(chunk.offset);
        blob.annotations[kAnnotationChunkLength] = std::to_string(chunk.length);
        blob.annotations[kAnnotationChunkDigest] = "sha256:" + chunk.sha256;
        layers.push_back(descriptorJson(blob));
    }
    if (layers.empty()) layers.push_back(descriptorJson(emptyDescriptor()));
    Descriptor config = manifest.config;
    config.mediaType = kMediaTypeIngotManifest;
    json document = {{"schemaVersion", 2},
                     {"mediaType", kMediaTypeImageManifest},
                     {"artifactType", kArtifactTypeImage},
                     {"config", descriptorJson(config)},
                     {"layers", std::move(layers)},
                     {"annotations", {{kAnnotationDiskSize, std::to_string(manifest.diskSize)}}}};
    std::string text = document.dump();
    // The writer's own output must pass the reader: a model it would refuse is a bug upstream.
    try {
        parseImageManifest(text, "image manifest being written");
    } catch (const Error& e) {
        throw Error(std::string("refusing to write an invalid image manifest: ") + e.what(),
                    ExitStatus::kUsage);
    }
    return text;
}

SignatureManifest parseSignatureManifest(std::string_view text, std::string_view where) {
    std::string place(where);
    json document = parseJson(text, kMaxManifestBytes, place);
    Reader r(place);
    checkSchema(r, document);
    r.expect(document, "mediaType", "mediaType", kMediaTypeImageManifest);
    r.expect(document, "artifactType", "artifactType", kArtifactTypeSignature);
    Descriptor config = r.descriptor(r.member(document, "config", "config"), "config");
    if (!isEmptyDescriptor(config))
        r.fail("config", std::string("must be the empty descriptor (") + kMediaTypeEmpty + ")");
    const json& layers = r.member(document, "layers", "layers");
    if (!layers.is_array() || layers.size() != 1) r.fail("layers", "must hold exactly one layer");
    SignatureManifest manifest;
    manifest.signature = r.descriptor(layers[0], "layers[0]");
    if (manifest.signature.mediaType != kMediaTypeMinisign)
        r.fail("layers[0].mediaType", std::string("must be \"") + kMediaTypeMinisign + "\"");
    if (manifest.signature.size > kMaxSignatureBytes)
        r.fail("layers[0].size", "is more than the limit of " + std::to_string(kMaxSignatureBytes));
    manifest.subject = r.descriptor(r.member(document, "subject", "subject"), "subject");
    if (manifest.subject.mediaType != kMediaTypeImageManifest)
        r.fail("subject.mediaType", std::string("must be \"") + kMediaTypeImageManifest + "\"");
    return manifest;
}

std::string serializeSignatureManifest(const SignatureManifest& manifest) {
    Descriptor signature = manifest.signature;
    signature.mediaType = kMediaTypeMinisign;
    json document = {{"schemaVersion", 2},
                     {"mediaType", kMediaTypeImageManifest},
                     {"artifactType", kArtifactTypeSignature},
                     {"config", descriptorJson(emptyDescriptor())},
                     {"layers", json::array({descriptorJson(signature)})},
                     {"subject", descriptorJson(manifest.subject)}};
    return document.dump();
}

}  // namespace ingot::oci
