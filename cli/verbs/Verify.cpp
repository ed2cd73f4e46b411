// ingot verify IMAGE --key PUB [--key PUB...]: everything the firmware checks before it boots an
// image, done on the host, plus every root partition block against the signed verity root hash
// (what the monitor checks block by block as the guest reads), with one line naming the first
// failure.
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "Verb.h"
#include "ingot/core/Sha256.h"
#include "ingot/image/ImageReader.h"
#include "ingot/sign/Minisign.h"

namespace ingot::cli {
namespace {

struct VerifyOptions {
    std::string image;
    std::vector<std::string> keys;
};

std::string fileLine(const image::ManifestFile& file) {
    return "sha256 " + file.sha256 + " (" + std::to_string(file.size) + " bytes)";
}

int runVerify(const VerifyOptions& options) {
    std::vector<sign::MinisignPublicKey> keys;
    for (const std::string& path : options.keys) keys.push_back(sign::readPublicKeyFile(path));

    image::ImageContents contents = image::readImage(options.image);
    image::VerifiedImage verified = image::verifyImage(contents, keys);
    const image::Manifest& manifest = verified.manifest;
    // Before anything is printed, so that a refused image prints nothing on stdout.
    std::optional<image::RootVerityCheck> check;
    if (manifest.verity) check = image::verifyRootVerity(contents, manifest);

    // The firmware measures the key as "Ed" || key id || public key (docs/image-format.md).
    std::string keyItem = "Ed";
    keyItem.append(verified.key.keyId.begin(), verified.key.keyId.end());
    keyItem.append(verified.key.key.begin(), verified.key.key.end());

    std::cout << "verified " << options.image << "\n"
              << "  image:       " << manifest.name << " " << manifest.version << "\n"
              << "  signed by:   key " << sign::formatKeyId(verified.key.keyId)
              << ", trusted comment \"" << verified.trustedComment << "\"\n"
              << "  gpt:         both headers and entry arrays intact; "
              << contents.gpt.partitions.size() << " partition(s) match the manifest\n"
              << "  boot pack:   canonical, " << contents.bootPackBytes << " bytes\n"
              << "  manifest:    sha256 " << toHex(verified.manifestSha256) << " ("
              << contents.manifestText.size() << " bytes)\n"
              << "  signing key: sha256 " << toHex(sha256(keyItem)) << " (as measured)\n"
              << "  kernel:      " << fileLine(manifest.kernel) << "\n"
              << "  initrd:      " << (manifest.initrd ? fileLine(*manifest.initrd) : "none")
              << "\n";
    if (check) {
        std::cout << "  verity:      ok (" << check->dataBlocks << " blocks); root hash "
                  << manifest.verity->rootHash << "\n";
    } else {
        std::cout << "  verity:      none\n";
    }
    for (const image::ManifestPartition& p : manifest.partitions)
        if (p.role == "root" && !manifest.verity)
            std::cout << "  root:        contents not covered (the image has no verity tree)\n";
    return 0;
}

}  // namespace

Verb addVerifyVerb(CLI::App& app) {
    auto options = std::make_shared<VerifyOptions>();
    CLI::App* verify = app.add_subcommand(
        "verify", "check an image's GPT, boot pack, signature, kernel, initrd and root (verity)");
    verify->add_option("IMAGE", options->image, "image disk file")->required();
    verify->add_option("--key", options->keys, "trusted minisign public key file (repeatable)")
        ->required()
        ->allow_extra_args(false);
    return {verify, [options] { return runVerify(*options); }};
}

}  // namespace ingot::cli
