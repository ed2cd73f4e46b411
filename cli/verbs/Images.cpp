// ingot images [--json]: what the local store holds, an image per line.
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "Verb.h"
#include "ingot/core/Size.h"
#include "ingot/store/Store.h"

namespace ingot::cli {
namespace {

struct ImagesOptions {
    std::string root;
    bool json = false;
};

std::string joined(const std::vector<std::string>& names) {
    std::string text;
    for (const std::string& name : names) text += (text.empty() ? "" : ",") + name;
    return text.empty() ? "-" : text;
}

int runImages(const ImagesOptions& o) {
    store::Store store(o.root.empty() ? store::defaultRoot() : o.root);
    std::vector<store::StoredImage> images = store.images();
    if (o.json) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& image : images)
            list.push_back({{"name", image.name},
                            {"digest", image.digest},
                            {"diskSize", image.diskSize},
                            {"chunkBytes", image.chunkBytes},
                            {"baseDisk", image.baseDisk},
                            {"vms", image.vms}});
        std::cout << list.dump(2) << "\n";
        return 0;
    }
    std::cout << std::left << std::setw(44) << "IMAGE" << std::setw(15) << "DIGEST"
              << std::setw(11) << "DISK" << std::setw(11) << "STORED" << "VMS\n";
    for (const auto& image : images)
        std::cout << std::setw(44) << printable(image.name) << std::setw(15)
                  << image.digest.substr(7, 12) << std::setw(11) << formatSize(image.diskSize)
                  << std::setw(11) << formatSize(image.chunkBytes) << joined(image.vms) << "\n";
    return 0;
}

}  // namespace

Verb addImagesVerb(CLI::App& app) {
    auto o = std::make_shared<ImagesOptions>();
    CLI::App* cmd = app.add_subcommand("images", "list the images in the local store");
    addStoreOption(cmd, o->root);
    cmd->add_flag("--json", o->json, "print JSON instead of a table");
    return {cmd, [o] { return runImages(*o); }};
}

}  // namespace ingot::cli
