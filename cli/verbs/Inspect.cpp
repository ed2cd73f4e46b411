// ingot inspect IMAGE [--json]: what an image says about itself. Checks the image's form (GPT,
// boot pack) but not its signature, so every field shown is a claim until `ingot verify` says
// otherwise; the output says so.
#include <ctime>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "Verb.h"
#include "ingot/core/Size.h"
#include "ingot/image/ImageReader.h"
#include "ingot/sign/Minisign.h"

namespace ingot::cli {
namespace {

using nlohmann::json;

struct InspectOptions {
    std::string image;
    bool json = false;
};

std::string utcTime(uint64_t epoch) {
    std::time_t t = static_cast<std::time_t>(epoch);
    std::tm tm{};
    char text[32];
    if (epoch > 253402300799ull || !::gmtime_r(&t, &tm) ||
        std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return "?";
    return text;
}

json fileJson(const std::optional<image::ManifestFile>& file) {
    if (!file) return nullptr;
    return {{"sha256", file->sha256}, {"size", file->size}};
}

json describe(const image::ImageContents& contents, const image::Manifest& manifest) {
    sign::MinisignSignatureInfo signature = sign::describeMinisign(contents.signatureText);
    json partitions = json::array();
    for (const image::ManifestPartition& p : manifest.partitions)
        partitions.push_back({{"role", p.role},
                              {"name", p.name},
                              {"type", p.type},
                              {"uuid", p.uuid},
                              {"firstLba", p.firstLba},
                              {"lastLba", p.lastLba},
                              {"bytes", (p.lastLba - p.firstLba + 1) * image::kSectorSize}});
    json verity = nullptr;
    if (manifest.verity)
        verity = {{"algorithm", manifest.verity->algorithm},
                  {"dataBlockSize", manifest.verity->dataBlockSize},
                  {"dataBlocks", manifest.verity->dataBlocks},
                  {"hashBlockSize", manifest.verity->hashBlockSize},
                  {"rootHash", manifest.verity->rootHash},
                  {"salt", manifest.verity->salt},
                  {"format", manifest.verity->format},
                  {"hashOffset", manifest.verity->hashOffset},
                  {"uuid", manifest.verity->uuid}};
    json doc = {
        {"image", contents.path},
        {"fileBytes", contents.fileSize},
        {"bootPackBytes", contents.bootPackBytes},
        {"verified", false},
        {"format", manifest.format},
        {"name", manifest.name},
        {"version", manifest.version},
        {"created", manifest.created},
        {"boot", {{"cmdline", manifest.cmdline}, {"protocol", manifest.protocol}}},
        {"defaults",
         {{"cpus", manifest.defaults.cpus}, {"memoryMiB", manifest.defaults.memoryMiB}}},
        {"kernel", fileJson(manifest.kernel)},
        {"initrd", fileJson(manifest.initrd)},
        {"partitions", partitions},
        {"verity", verity},
        {"provenance", manifest.provenance},
        {"signature",
         {{"keyId", signature.keyId ? json(sign::formatKeyId(*signature.keyId)) : json(nullptr)},
          {"algorithm", signature.algorithm ? json(*signature.algorithm) : json(nullptr)},
          {"trustedComment",
           signature.trustedComment ? json(*signature.trustedComment) : json(nullptr)}}},
    };
    return doc;
}

void printText(const json& doc) {
    auto orNone = [](const json& value) {
        return value.is_null() ? std::string("(absent)") : value.get<std::string>();
    };
    std::cout << doc["image"].get<std::string>() << ": " << formatSize(doc["fileBytes"])
              << " disk, boot pack " << doc["bootPackBytes"] << " bytes\n"
              << "  (not verified: run `ingot verify` with a trusted key before relying on this)\n"
              << "name:       " << doc["name"].get<std::string>() << "\n"
              << "version:    " << doc["version"].get<std::string>() << "\n"
              << "format:     " << doc["format"] << "\n"
              << "created:    " << doc["created"] << " (" << utcTime(doc["created"]) << ")\n"
              << "boot:       " << doc["boot"]["protocol"].get<std::string>() << ", cmdline \""
              << printable(doc["boot"]["cmdline"].get<std::string>()) << "\"\n"
              << "defaults:   " << doc["defaults"]["cpus"] << " cpu(s), "
              << doc["defaults"]["memoryMiB"] << " MiB\n"
              << "kernel:     sha256 " << doc["kernel"]["sha256"].get<std::string>() << " ("
              << doc["kernel"]["size"] << " bytes)\n";
    if (doc["initrd"].is_null())
        std::cout << "initrd:     none\n";
    else
        std::cout << "initrd:     sha256 " << doc["initrd"]["sha256"].get<std::string>() << " ("
                  << doc["initrd"]["size"] << " bytes)\n";
    std::cout << "partitions:\n";
    for (const json& p : doc["partitions"])
        std::cout << "  " << p["role"].get<std::string>() << ": LBA " << p["firstLba"] << "-"
                  << p["lastLba"] << ", " << formatSize(p["bytes"]) << ", '"
                  << p["name"].get<std::string>() << "', uuid " << p["uuid"].get<std::string>()
                  << "\n";
    if (doc["verity"].is_null())
        std::cout << "verity:     none\n";
    else
        std::cout << "verity:     format " << doc["verity"]["format"] << ", "
                  << doc["verity"]["algorithm"].get<std::string>() << ", "
                  << doc["verity"]["dataBlocks"] << " data blocks of "
                  << doc["verity"]["dataBlockSize"] << " bytes, hash blocks of "
                  << doc["verity"]["hashBlockSize"] << " bytes, tree at byte "
                  << doc["verity"]["hashOffset"] << " after the superblock\n"
                  << "            root hash " << doc["verity"]["rootHash"].get<std::string>()
                  << "\n"
                  << "            salt " << doc["verity"]["salt"].get<std::string>() << "\n"
                  << "            uuid " << doc["verity"]["uuid"].get<std::string>() << "\n";
    const json& signature = doc["signature"];
    std::cout << "signature:  key id " << orNone(signature["keyId"]) << ", trusted comment "
              << (signature["trustedComment"].is_null()
                      ? std::string("(absent)")
                      : "\"" + printable(signature["trustedComment"].get<std::string>()) + "\"")
              << "\n";
    if (doc["provenance"].empty())
        std::cout << "provenance: (none)\n";
    else
        std::cout << "provenance: "
                  << doc["provenance"].dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

int runInspect(const InspectOptions& options) {
    image::ImageContents contents = image::readImage(options.image);
    image::Manifest manifest = image::parseImageManifest(contents);
    json doc = describe(contents, manifest);
    if (options.json)
        // Image strings are attacker-chosen: replace invalid UTF-8 rather than fail mid-output.
        std::cout << doc.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    else
        printText(doc);
    return 0;
}

}  // namespace

Verb addInspectVerb(CLI::App& app) {
    auto options = std::make_shared<InspectOptions>();
    CLI::App* inspect = app.add_subcommand(
        "inspect", "show an image's manifest, partitions and signature (without verifying)");
    inspect->add_option("IMAGE", options->image, "image disk file")->required();
    inspect->add_flag("--json", options->json, "print one JSON document instead of text");
    return {inspect, [options] { return runInspect(*options); }};
}

}  // namespace ingot::cli
