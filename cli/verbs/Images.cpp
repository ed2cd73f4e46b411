// ingot images [--json] [--refresh]: what the local store holds, an image per line, with the
// newer release its channel tag names when there is one (ReleaseNews.h).
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "ReleaseNews.h"
#include "TrustPolicy.h"
#include "Verb.h"
#include "ingot/core/Size.h"
#include "ingot/store/Store.h"

namespace ingot::cli {
namespace {

struct ImagesOptions {
    std::string root;
    bool json = false;
    bool refresh = false;
    std::string trustFile;
};

std::string joined(const std::vector<std::string>& names) {
    std::string text;
    for (const std::string& name : names) text += (text.empty() ? "" : ",") + name;
    return text.empty() ? "-" : text;
}

int runImages(const ImagesOptions& o) {
    store::Store store(o.root.empty() ? store::defaultRoot() : o.root);
    std::vector<store::StoredImage> images = store.images();
    if (o.refresh) {
        std::vector<std::string> names;
        for (const auto& image : images) names.push_back(image.name);
        refreshDocuments(names, registry::TrustPolicy::load(o.trustFile), {});
    }
    const Documents documents = cachedDocuments();
    std::vector<std::optional<registry::NewerRelease>> newer;
    for (const auto& image : images)
        newer.push_back(newerReleaseOfStored(documents, image.name, image.digest));
    if (o.json) {
        nlohmann::json list = nlohmann::json::array();
        for (size_t i = 0; i < images.size(); ++i) {
            const store::StoredImage& image = images[i];
            list.push_back({{"name", image.name},
                            {"digest", image.digest},
                            {"diskSize", image.diskSize},
                            {"chunkBytes", image.chunkBytes},
                            {"baseDisk", image.baseDisk},
                            {"vms", image.vms},
                            {"newerRelease", newerJson(newer[i])}});
        }
        std::cout << list.dump(2) << "\n";
        return 0;
    }
    // Version tags vary in length; the column is as wide as the longest, VMS stays last.
    size_t newerWidth = 16;
    for (const auto& release : newer)
        newerWidth = std::max(newerWidth, newerColumn(release).size() + 2);
    std::cout << std::left << std::setw(44) << "IMAGE" << std::setw(15) << "DIGEST"
              << std::setw(11) << "DISK" << std::setw(11) << "STORED"
              << std::setw(static_cast<int>(newerWidth)) << "NEWER" << "VMS\n";
    for (size_t i = 0; i < images.size(); ++i) {
        const store::StoredImage& image = images[i];
        std::cout << std::setw(44) << printable(image.name) << std::setw(15)
                  << image.digest.substr(7, 12) << std::setw(11) << formatSize(image.diskSize)
                  << std::setw(11) << formatSize(image.chunkBytes)
                  << std::setw(static_cast<int>(newerWidth)) << newerColumn(newer[i])
                  << joined(image.vms) << "\n";
    }
    return 0;
}

}  // namespace

Verb addImagesVerb(CLI::App& app) {
    auto o = std::make_shared<ImagesOptions>();
    CLI::App* cmd = app.add_subcommand("images", "list the images in the local store");
    addStoreOption(cmd, o->root);
    cmd->add_flag("--json", o->json, "print JSON instead of a table");
    cmd->add_flag("--refresh", o->refresh,
                  "first fetch and verify each registry repository's freshness document, so "
                  "NEWER is up to date");
    cmd->add_option("--trust", o->trustFile,
                    "trust policy file for --refresh (default: $XDG_CONFIG_HOME/ingot/trust.yaml)");
    return {cmd, [o] { return runImages(*o); }};
}

}  // namespace ingot::cli
