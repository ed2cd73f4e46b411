#include "TrustPolicy.h"

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "Credentials.h"
#include "ingot/core/Error.h"
#include "ingot/core/File.h"

namespace ingot::registry {

TrustPolicy TrustPolicy::load(std::string path) {
    TrustPolicy policy;
    policy.path_ = path.empty() ? configDirectory() + "/trust.yaml" : std::move(path);
    std::ifstream in(policy.path_, std::ios::binary);
    if (!in) return policy;
    std::stringstream text;
    text << in.rdbuf();
    YAML::Node doc;
    try {
        doc = YAML::Load(text.str());
    } catch (const YAML::Exception& e) {
        throw Error(policy.path_ + ": not YAML: " + e.what(), ExitStatus::kUsage);
    }
    if (!doc || doc.IsNull()) return policy;
    if (!doc.IsMap() || !doc["trust"] || !doc["trust"].IsSequence())
        throw Error(policy.path_ + ": expected a mapping with a `trust:` list", ExitStatus::kUsage);
    size_t i = 0;
    for (const auto& entry : doc["trust"]) {
        const std::string where = policy.path_ + ": trust entry " + std::to_string(i++);
        if (!entry.IsMap() || !entry["for"] || !entry["for"].IsScalar() || !entry["key"] ||
            !entry["key"].IsScalar())
            throw Error(where + ": needs `for:` (a REGISTRY/REPOSITORY pattern) and `key:` (a "
                                "minisign public key)",
                        ExitStatus::kUsage);
        for (const auto& field : entry)
            if (field.first.as<std::string>() != "for" && field.first.as<std::string>() != "key")
                throw Error(where + ": unknown field `" + field.first.as<std::string>() + "`",
                            ExitStatus::kUsage);
        policy.entries_.push_back({entry["for"].as<std::string>(),
                                   sign::parsePublicKey(entry["key"].as<std::string>(), where)});
    }
    return policy;
}

std::vector<sign::MinisignPublicKey> TrustPolicy::keysFor(const std::string& location) const {
    std::vector<sign::MinisignPublicKey> keys;
    for (const auto& e : entries_)
        if (matchesPattern(e.pattern, location)) keys.push_back(e.key);
    return keys;
}

void TrustPolicy::add(const std::string& pattern, const sign::MinisignPublicKey& key) {
    entries_.push_back({pattern, key});
    YAML::Emitter out;
    out << YAML::Comment("ingot trust policy: which minisign keys sign images from where");
    out << YAML::BeginMap << YAML::Key << "trust" << YAML::Value << YAML::BeginSeq;
    for (const auto& e : entries_) {
        std::string pub = sign::formatPublicKey(e.key);
        // formatPublicKey gives the whole .pub file; the entry keeps its key line.
        std::string line = pub.substr(pub.find('\n') + 1);
        line = line.substr(0, line.find('\n'));
        out << YAML::BeginMap << YAML::Key << "for" << YAML::Value << YAML::DoubleQuoted
            << e.pattern << YAML::Key << "key" << YAML::Value << YAML::DoubleQuoted << line
            << YAML::EndMap;
    }
    out << YAML::EndSeq << YAML::EndMap;
    makeDirectories(path_.substr(0, path_.rfind('/')), 0755);
    writeFileAtomically(path_, std::string(out.c_str()) + "\n", 0644);
}

}  // namespace ingot::registry
