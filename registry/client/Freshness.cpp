#include "Freshness.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ingot/core/Error.h"
#include "ingot/core/File.h"
#include "ingot/oci/Manifests.h"

namespace ingot::registry {

namespace {
using nlohmann::json;

[[noreturn]] void bad(std::string_view where, const std::string& why) {
    throw Error(std::string(where) + ": " + why, ExitStatus::kVerification);
}

int64_t nowSeconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string stateDirectory() { return xdgDirectory("XDG_STATE_HOME", ".local/state"); }

// The artifact manifest that carries a document: config = the document, one layer = its
// .minisig.
std::string timestampManifest(const oci::Descriptor& document, const oci::Descriptor& signature) {
    auto descriptor = [](const oci::Descriptor& d) {
        return json{{"mediaType", d.mediaType}, {"digest", d.digest}, {"size", d.size}};
    };
    json m = {{"schemaVersion", 2},
              {"mediaType", oci::kMediaTypeImageManifest},
              {"artifactType", kArtifactTypeTimestamp},
              {"config", descriptor(document)},
              {"layers", json::array({descriptor(signature)})}};
    return m.dump();
}

oci::Descriptor parseDescriptor(const json& j, std::string_view where) {
    if (!j.is_object() || !j.contains("digest") || !j["digest"].is_string() ||
        !j.contains("size") || !j["size"].is_number_unsigned() || !j.contains("mediaType") ||
        !j["mediaType"].is_string())
        bad(where, "a descriptor needs mediaType, digest and size");
    oci::Descriptor d{j["mediaType"], j["digest"], j["size"].get<uint64_t>(), {}, {}};
    if (!oci::isSha256Digest(d.digest)) bad(where, "digest is not sha256:<64 hex digits>");
    return d;
}
}  // namespace

std::optional<VerifiedTimestamp> fetchTimestamp(RegistrySession& session,
                                                const std::vector<sign::MinisignPublicKey>& keys) {
    const std::string where = session.reference().location() + " " + kTimestampTag;
    auto manifest = session.findManifest(kTimestampTag, oci::kMaxManifestBytes);
    if (!manifest) return std::nullopt;
    json m = json::parse(manifest->bytes, nullptr, false);
    if (!m.is_object() || !m.contains("artifactType") || m["artifactType"] != kArtifactTypeTimestamp ||
        !m.contains("layers") || !m["layers"].is_array() || m["layers"].size() != 1)
        bad(where, "not an ingot timestamp artifact");
    const oci::Descriptor document = parseDescriptor(m["config"], where);
    const oci::Descriptor signature = parseDescriptor(m["layers"][0], where);
    const std::string text = session.fetchBlob(document, kMaxTimestampBytes);
    const std::string minisig = session.fetchBlob(signature, oci::kMaxSignatureBytes);
    auto info = sign::describeMinisign(minisig);
    for (const auto& key : keys) {
        if (!info.keyId || key.keyId != *info.keyId) continue;
        sign::verifyMinisign(key, text, minisig, where);
        VerifiedTimestamp v{parseTimestamp(text, where), sign::formatKeyId(key.keyId)};
        if (v.document.repository != session.reference().location())
            bad(where, "speaks for " + v.document.repository.substr(0, 200) + ", not for " +
                           session.reference().location());
        return v;
    }
    bad(where, "signed by key " + (info.keyId ? sign::formatKeyId(*info.keyId) : "unknown") +
                   ", which the trust policy does not trust for " + session.reference().location() +
                   " (trust it with `ingot trust add KEY.pub --for " +
                   session.reference().location() + "`)");
}

TimestampDocument publishTimestamp(RegistrySession& session, const sign::MinisignSecretKey& key,
                                   std::chrono::seconds validity, std::optional<uint64_t> version) {
    TimestampDocument d;
    d.repository = session.reference().location();
    d.expires = nowSeconds() + validity.count();
    if (version) {
        d.version = *version;
    } else {
        auto current = fetchTimestamp(session, {key.publicPart()});
        d.version = current ? current->document.version + 1 : 1;
    }
    for (const std::string& tag : session.listTags()) {
        if (tag == kTimestampTag || (tag.starts_with("sha256-") && tag.ends_with(".sig"))) continue;
        d.tags[tag] = session.getManifest(tag, oci::kMaxManifestBytes).digest;
    }
    const std::string text = serializeTimestamp(d);
    const std::string minisig =
        sign::signMinisign(key, text, "ingot timestamp " + d.repository + " " + std::to_string(d.version),
                           "ingot freshness document");
    const oci::Descriptor document{kMediaTypeTimestamp, oci::sha256Digest(text), text.size(), {}, {}};
    const oci::Descriptor signature{oci::kMediaTypeMinisign, oci::sha256Digest(minisig), minisig.size(), {}, {}};
    session.ensureBlob(document, text);
    session.ensureBlob(signature, minisig);
    session.putManifest(kTimestampTag, timestampManifest(document, signature), oci::kMediaTypeImageManifest);
    return d;
}

FreshnessState::FreshnessState(std::string path)
    : path_(path.empty() ? stateDirectory() + "/freshness.json" : std::move(path)) {}

uint64_t FreshnessState::highest(const std::string& repository) const {
    std::ifstream in(path_, std::ios::binary);
    if (!in) return 0;
    std::stringstream text;
    text << in.rdbuf();
    json doc = json::parse(text.str(), nullptr, false);
    if (!doc.is_object())
        throw Error(path_ + " is not a freshness record; remove it to start afresh (rollback "
                            "protection restarts from the next pull)",
                    ExitStatus::kUsage);
    return doc.contains(repository) && doc[repository].is_number_unsigned()
               ? doc[repository].get<uint64_t>()
               : 0;
}

void FreshnessState::record(const std::string& repository, uint64_t version) {
    json doc = json::object();
    if (std::ifstream in(path_, std::ios::binary); in) {
        std::stringstream text;
        text << in.rdbuf();
        doc = json::parse(text.str(), nullptr, false);
        if (!doc.is_object()) doc = json::object();
    }
    if (doc.contains(repository) && doc[repository].is_number_unsigned() &&
        doc[repository].get<uint64_t>() >= version)
        return;
    doc[repository] = version;
    makeDirectories(path_.substr(0, path_.rfind('/')), 0700);
    writeFileAtomically(path_, doc.dump(2) + "\n", 0600);
}

void checkFreshness(const VerifiedTimestamp& timestamp, const FreshnessState& state,
                    const FreshnessPolicy& policy, const std::string& tag,
                    const std::string& digest, int64_t now) {
    const TimestampDocument& d = timestamp.document;
    const uint64_t seen = state.highest(d.repository);
    if (d.version < seen && !policy.allowRollback)
        throw Error(d.repository + ": rollback refused: the registry's freshness document is version " +
                        std::to_string(d.version) + ", but version " + std::to_string(seen) +
                        " was seen before (recorded in " + state.path() +
                        "); the registry may be serving old images. Pass --allow-rollback to "
                        "accept it anyway",
                    ExitStatus::kVerification);
    if (d.expires < now && !policy.allowExpired)
        throw Error(d.repository + ": freeze refused: the registry's freshness document (version " +
                        std::to_string(d.version) + ") expired " + std::to_string(now - d.expires) +
                        " s ago; its publisher stopped re-signing, so newer security releases "
                        "may be hidden. Pass --allow-expired to accept it anyway",
                    ExitStatus::kVerification);
    if (!tag.empty()) {
        auto it = d.tags.find(tag);
        if (it != d.tags.end() && it->second != digest)
            throw Error(d.repository + ": tag " + tag + " names " + digest +
                            ", but the signed freshness document (version " +
                            std::to_string(d.version) + ") says " + it->second,
                        ExitStatus::kVerification);
    }
}

}  // namespace ingot::registry
