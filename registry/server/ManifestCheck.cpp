#include "ManifestCheck.h"

#include <map>
#include <nlohmann/json.hpp>

#include "Grammar.h"
#include "RegistryError.h"

namespace ingot::registry {
namespace {

using nlohmann::json;

constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
constexpr const char* kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
constexpr const char* kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";

RegistryError invalid(const std::string& detail) {
    return RegistryError(400, "MANIFEST_INVALID", "manifest invalid", detail);
}

// Checks the descriptor and records its size in `sizes`; one digest named with two sizes is a lie
// about one of them.
std::string descriptorDigest(const json& d, const std::string& where,
                             std::map<std::string, uint64_t>* sizes = nullptr) {
    if (!d.is_object()) throw invalid(where + " is not a descriptor object");
    auto it = d.find("digest");
    if (it == d.end() || !it->is_string()) throw invalid(where + " has no digest");
    std::string digest = it->get<std::string>();
    if (!isValidDigest(digest))
        throw RegistryError(400, "DIGEST_INVALID", "unsupported or malformed digest",
                            where + ": " + digest);
    auto size = d.find("size");
    if (size == d.end() || !size->is_number_integer() || size->get<int64_t>() < 0)
        throw invalid(where + " has no valid size");
    if (sizes) {
        uint64_t declared = size->get<uint64_t>();
        auto [it2, added] = sizes->emplace(digest, declared);
        if (!added && it2->second != declared)
            throw invalid(where + " gives " + digest + " a size other descriptors do not");
    }
    return digest;
}

}  // namespace

bool isManifestMediaType(std::string_view mediaType) {
    return mediaType == kOciManifest || mediaType == kOciIndex || mediaType == kDockerManifest ||
           mediaType == kDockerList;
}

ManifestFacts checkManifest(std::string_view bytes, std::string_view contentType) {
    std::string type(contentType.substr(0, contentType.find(';')));
    while (!type.empty() && type.back() == ' ') type.pop_back();
    json document = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
    if (!document.is_object()) throw invalid("the body is not a JSON object");
    auto version = document.find("schemaVersion");
    // Compared as a JSON number: get<int>() truncated, so 4294967298 (2^32 + 2) passed as 2.
    if (version == document.end() || !version->is_number_integer() || *version != 2)
        throw invalid("schemaVersion must be 2");
    std::string declared;
    if (auto it = document.find("mediaType"); it != document.end()) {
        if (!it->is_string()) throw invalid("mediaType is not a string");
        declared = it->get<std::string>();
    }
    if (type.empty()) type = declared;
    if (!isManifestMediaType(type))
        throw invalid("Content-Type \"" + type + "\" is not a manifest or index media type");
    if (!declared.empty() && declared != type)
        throw invalid("Content-Type " + type + " does not match the mediaType " + declared);

    ManifestFacts facts;
    facts.mediaType = type;
    facts.isIndex = type == kOciIndex || type == kDockerList;
    if (facts.isIndex) {
        auto manifests = document.find("manifests");
        if (manifests == document.end() || !manifests->is_array())
            throw invalid("an index needs a manifests array");
        for (size_t i = 0; i < manifests->size(); ++i)
            facts.manifests.push_back(
                descriptorDigest((*manifests)[i], "manifests[" + std::to_string(i) + "]",
                                 &facts.sizes));
    } else {
        auto config = document.find("config");
        if (config == document.end()) throw invalid("an image manifest needs a config");
        facts.blobs.push_back(descriptorDigest(*config, "config", &facts.sizes));
        auto layers = document.find("layers");
        if (layers == document.end() || !layers->is_array())
            throw invalid("an image manifest needs a layers array");
        for (size_t i = 0; i < layers->size(); ++i)
            facts.blobs.push_back(
                descriptorDigest((*layers)[i], "layers[" + std::to_string(i) + "]", &facts.sizes));
        if (auto media = config->find("mediaType"); media != config->end() && media->is_string())
            facts.artifactType = media->get<std::string>();
    }
    if (auto it = document.find("artifactType"); it != document.end()) {
        if (!it->is_string()) throw invalid("artifactType is not a string");
        facts.artifactType = it->get<std::string>();
    }
    if (auto it = document.find("subject"); it != document.end())
        facts.subject = descriptorDigest(*it, "subject");
    if (auto it = document.find("annotations"); it != document.end()) {
        if (!it->is_object()) throw invalid("annotations is not an object");
        for (const auto& [key, value] : it->items())
            if (!value.is_string()) throw invalid("annotation " + key + " is not a string");
        facts.annotationsJson = it->dump(-1, ' ', false, json::error_handler_t::replace);
    }
    return facts;
}

std::string referrerDescriptor(const ManifestFacts& facts, std::string_view digest, uint64_t size) {
    json d = {{"mediaType", facts.mediaType}, {"digest", digest}, {"size", size}};
    if (!facts.artifactType.empty()) d["artifactType"] = facts.artifactType;
    if (!facts.annotationsJson.empty()) d["annotations"] = json::parse(facts.annotationsJson);
    return d.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace ingot::registry
