#include "LocalLayout.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "Reference.h"
#include "ingot/core/Error.h"
#include "ingot/image/Manifest.h"
#include "ingot/oci/Layout.h"
#include "ingot/oci/Manifests.h"

namespace ingot::cli {
namespace {

namespace fs = std::filesystem;

// Manifests are small; a layout offering a bigger one is not one `ingot build` wrote.
constexpr uint64_t kMaxManifestBytes = 16 << 20;

bool holdsLayout(const fs::path& dir) {
    std::error_code ignored;
    return fs::is_regular_file(dir / "oci-layout", ignored);
}

bool isSignatureTag(const std::string& tag) {
    return tag.rfind("sha256-", 0) == 0 && tag.size() > 4 && tag.ends_with(".sig");
}

void copyBlob(const std::string& from, const std::string& to, const oci::Descriptor& blob) {
    if (oci::hasBlob(to, blob.digest, blob.size)) return;
    const std::string source = oci::blobFilePath(from, blob.digest);
    std::error_code error;
    fs::copy_file(source, oci::partialBlobPath(to, blob.digest),
                  fs::copy_options::overwrite_existing, error);
    if (error)
        throw Error("cannot copy " + source + " into the store: " + error.message(),
                    ExitStatus::kUsage);
    try {
        oci::commitPartialBlob(to, blob);  // digest and size checked, then renamed into place
    } catch (const Error&) {
        fs::remove(oci::partialBlobPath(to, blob.digest), error);
        throw Error(source + " is not the blob its name says (" + blob.digest +
                        "): the layout is damaged or was tampered with; the copy was deleted",
                    ExitStatus::kVerification);
    }
}

// A manifest and every blob it names (config and layers).
void copyManifest(const std::string& from, const std::string& to, const oci::Descriptor& manifest) {
    const std::string bytes =
        oci::readBlob(from, manifest.digest, kMaxManifestBytes, "manifest", &manifest.size);
    auto doc = nlohmann::json::parse(bytes, nullptr, false);
    if (!doc.is_object())
        throw Error(from + ": manifest " + manifest.digest + " is not JSON", ExitStatus::kVerification);
    std::vector<oci::Descriptor> blobs;
    auto add = [&](const nlohmann::json& d) {
        if (!d.is_object() || !d.contains("digest") || !d["digest"].is_string() ||
            !d.contains("size") || !d["size"].is_number_unsigned())
            throw Error(from + ": manifest " + manifest.digest + " has a malformed descriptor",
                        ExitStatus::kVerification);
        oci::Descriptor blob;
        blob.digest = d["digest"].get<std::string>();
        blob.size = d["size"].get<uint64_t>();
        if (!oci::isSha256Digest(blob.digest))
            throw Error(from + ": manifest " + manifest.digest + " names \"" + blob.digest +
                            "\", not a sha256 digest",
                        ExitStatus::kVerification);
        blobs.push_back(blob);
    };
    if (doc.contains("config")) add(doc["config"]);
    if (doc.contains("layers") && doc["layers"].is_array())
        for (const auto& layer : doc["layers"]) add(layer);
    for (const auto& blob : blobs) copyBlob(from, to, blob);
    copyBlob(from, to, manifest);  // last: a manifest in the store has all of its blobs
}

}  // namespace

bool isLayoutPath(const std::string& text) {
    if (text.empty()) return false;
    if (text[0] == '/' || text[0] == '.') return true;
    for (const fs::path& dir : {fs::path(text), fs::path(text.substr(0, text.rfind(':')))})
        if (holdsLayout(dir) || holdsLayout(dir / "oci")) return true;
    return false;
}

LayoutPath parseLayoutPath(const std::string& text) {
    LayoutPath path{text, ""};
    // A tag's colon comes after the last slash.
    if (auto colon = text.rfind(':');
        colon != std::string::npos && text.find('/', colon) == std::string::npos &&
        !holdsLayout(text)) {
        path.dir = text.substr(0, colon);
        path.tag = text.substr(colon + 1);
    }
    if (!holdsLayout(path.dir) && holdsLayout(fs::path(path.dir) / "oci"))
        path.dir = (fs::path(path.dir) / "oci").string();
    if (!holdsLayout(path.dir))
        throw Error(path.dir + " is not an OCI layout (no oci-layout file in it or in " +
                        path.dir + "/oci): give the directory `ingot build -o` wrote",
                    ExitStatus::kUsage);
    if (!path.tag.empty()) return path;
    std::vector<std::string> images;
    for (const auto& tag : oci::listTags(path.dir))
        if (!isSignatureTag(tag.name)) images.push_back(tag.name);
    if (images.size() == 1) {
        path.tag = images.front();
        return path;
    }
    std::string list;
    for (const auto& tag : images) list += (list.empty() ? "" : ", ") + tag;
    throw Error(path.dir + " holds " + std::to_string(images.size()) + " image tags" +
                    (list.empty() ? "" : " (" + list + ")") + "; name one as " + path.dir + ":TAG",
                ExitStatus::kUsage);
}

std::string importLayout(store::Store& store, const LayoutPath& path) {
    const oci::Descriptor image = oci::resolveTag(path.dir, path.tag);
    const image::Manifest manifest = image::parseManifest(
        oci::readImage(path.dir, path.tag).manifestJson, path.dir + ":" + path.tag);
    const std::string name = "local/" + manifest.name + ":" + path.tag;
    registry::parseReference(name);  // the name and tag fit the reference grammar
    oci::Descriptor signature;
    try {
        signature = oci::resolveTag(path.dir, oci::signatureTag(image.digest));
    } catch (const Error&) {
        throw Error(path.dir + ":" + path.tag +
                        " is not signed (no signature tag in the layout); build it with "
                        "`ingot build --sign-key KEY`",
                    ExitStatus::kVerification);
    }
    store::StoreLock lock(store.root(), store::StoreLock::Mode::kShared);
    copyManifest(path.dir, store.root(), image);
    copyManifest(path.dir, store.root(), signature);
    oci::setTags(store.root(), {{name, image}, {oci::signatureTag(image.digest), signature}});
    return name;
}

}  // namespace ingot::cli
